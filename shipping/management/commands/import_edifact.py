"""python manage.py import_edifact FILE [--call ID]: read a UN/EDIFACT file, print one JSON summary."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from port.errors import InvalidInput
from shipping import edifact, edifact_imports


class Command(BaseCommand):
    help = (
        "Import a UN/EDIFACT BAPLIE, COPRAR or COARRI file and print one JSON summary: the "
        "message type, the vessel, the containers read and those rejected with a reason. "
        "With --call, the containers are written to that port call's manifest."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="path of the EDIFACT file")
        parser.add_argument("--call", type=int, help="port call id to import the manifest into")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{path}: cannot read the file ({error.strerror}).") from None
        if b"\x00" in raw:
            raise CommandError(f"{path}: a binary file, not UN/EDIFACT text.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # UNOB/UNOC files are ISO 8859-1
        try:
            summary = edifact_imports.edifact_import_text(text=text, port_call_id=options["call"])
        except edifact.Unreadable as error:
            raise CommandError(f"{path}: {error}") from None
        except InvalidInput as error:
            reasons = "; ".join(str(m) for messages in error.errors.values() for m in messages)
            raise CommandError(f"{path}: {reasons}") from None
        self.stdout.write(json.dumps({"file": path.name, **summary}, ensure_ascii=False))
