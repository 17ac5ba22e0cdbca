"""Every write to zone data, one module per part: `movements` (the one document), `changes`
(amendment, cancellation, expiry), `uploads` (ERP files, in a worker), `stock`
(the account statements), `gate` (camera reads), `transit` (e-seal transits), `demo`."""

from zones.services.changes import gate_pass_expire_due, movement_amend, movement_cancel
from zones.services.demo import zone_demo_set_up
from zones.services.gate import gate_read
from zones.services.movements import movement_file_many
from zones.services.retail import (
    RetailDraw,
    RetailLine,
    RetailPlan,
    retail_put_back,
    retail_stock_plan,
    retail_stock_take,
)
from zones.services.transit import transit_open, transit_seal_read
from zones.services.uploads import zone_upload_create, zone_upload_process

__all__ = [
    "RetailDraw",
    "RetailLine",
    "RetailPlan",
    "gate_pass_expire_due",
    "gate_read",
    "movement_amend",
    "movement_cancel",
    "movement_file_many",
    "retail_put_back",
    "retail_stock_plan",
    "retail_stock_take",
    "transit_open",
    "transit_seal_read",
    "zone_demo_set_up",
    "zone_upload_create",
    "zone_upload_process",
]
