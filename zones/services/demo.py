"""The demo's bonded zone (seed_demo)."""

from port.models import Organisation
from zones.models import (
    Zone,
    ZoneEnterprise,
    ZoneGate,
)


def zone_demo_set_up(*, port, office: Organisation, enterprises: list[Organisation]) -> None:
    """The demo's Xiangyu bonded zone, its gate (4 lanes) and its enterprises. Idempotent."""
    zone, _created = Zone.objects.update_or_create(
        code="XYBZ",
        defaults={
            "name": "Xiangyu Bonded Zone",
            "name_local": "象屿综合保税区",
            "port": port,
            "customs_office": office,
        },
    )
    ZoneGate.objects.update_or_create(
        zone=zone, code="G1", defaults={"name": "Xiangyu Gate 1", "lanes": 4}
    )
    for enterprise in enterprises:
        ZoneEnterprise.objects.get_or_create(zone=zone, organisation=enterprise)
