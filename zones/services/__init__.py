"""Every write to zone data, one module per part: `movements` (the one document), `stock`
(the account statements), `gate` (camera reads), `transit` (e-seal transits), `demo`."""

from zones.services.demo import zone_demo_set_up
from zones.services.gate import gate_read
from zones.services.movements import movement_file_many, movement_file_upload
from zones.services.transit import transit_open, transit_seal_read

__all__ = [
    "gate_read",
    "movement_file_many",
    "movement_file_upload",
    "transit_open",
    "transit_seal_read",
    "zone_demo_set_up",
]
