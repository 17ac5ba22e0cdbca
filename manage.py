#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "port.settings")
    from django.core.management import execute_from_command_line

    from port.embedded import EmbeddedServerError

    try:
        execute_from_command_line(sys.argv)
    except EmbeddedServerError as error:
        sys.stderr.write(f"{error}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
