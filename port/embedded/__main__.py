"""python -m port.embedded: exit 1 if a server runs on DATA_DIR;
python -m port.embedded --remove: remove its data when none runs (`make clean-data`)."""

import sys

from port.embedded import DATA_DIR, remove_data, running

if sys.argv[1:] == ["--remove"]:
    problem = remove_data()
    print(problem or f"Removed the embedded servers' data ({DATA_DIR}).")
    sys.exit(1 if problem else 0)
servers = running()
print(f"{DATA_DIR}: " + (", ".join(servers) + " running" if servers else "no server running"))
sys.exit(1 if servers else 0)
