"""The bonded zone's step of the living port (analytics.simulation.STEPS): a zone enterprise
files a truck's document, or the gate's camera reads a truck that has one."""

import random
from decimal import Decimal

from port.models import User
from zones import services
from zones.models import GatePass, StockItem, ZoneGate

ITEMS = [
    ("GPU-4090", "8473302000", "Graphics cards RTX 4090", "pcs", 12000),
    ("GPU-4080", "8473302000", "Graphics cards RTX 4080", "pcs", 8500),
    ("SSD-2T", "8523511000", "Solid-state drives 2 TB", "pcs", 750),
    ("MB-Z790", "8473302000", "Motherboards Z790", "pcs", 1800),
]
DECLARATION = "370320261000012345"


def zone_truck(rng: random.Random) -> str | None:
    """Half the time a document is filed (an entry, or an exit of what the account holds);
    otherwise the camera reads the plate of a truck with an open pass (one in ten weighing
    far from its declared weight, which the gate stops)."""
    gate = ZoneGate.objects.select_related("zone").order_by("pk").first()
    if gate is None:
        return None
    if rng.random() < 0.5:
        return _file(rng, User.objects.get(username="zoneco"))
    gate_pass = (
        GatePass.objects.filter(zone=gate.zone, status=GatePass.Status.OPEN).order_by("?").first()
    )
    if gate_pass is None:
        return None
    weight = gate_pass.declared_weight_kg * Decimal("1.3" if rng.random() < 0.1 else "1.01")
    passage = services.gate_read(
        user=User.objects.get(username="zonegate"),
        gate_id=gate.pk,
        read={
            "truck_plate": gate_pass.truck_plate,
            "containers": [gate_pass.container_number] if gate_pass.container_number else [],
            "seal": gate_pass.seal_number,
            "weight_kg": str(round(weight, 1)),
            "lane": rng.randrange(1, gate.lanes + 1),
        },
    )
    return f"zone gate {passage.truck_plate}: {passage.decision} ({passage.reason})"


def _file(rng: random.Random, company: User) -> str:
    item_no, hs, description, unit, price = rng.choice(ITEMS)
    held = (
        StockItem.objects.filter(item_no=item_no, organisation__memberships__user=company)
        .values_list("quantity", flat=True)
        .first()
    )
    leaving = held is not None and held >= 50 and rng.random() < 0.4
    quantity = rng.randrange(10, 50) if leaving else rng.randrange(50, 200)
    document = {
        "kind": "domestic_out" if leaving else "domestic_in",
        "truck_plate": f"闽D{rng.randrange(10**5):05d}",
        "declared_weight_kg": str(8000 + quantity * 20),
        "lines": [
            {
                "item_no": item_no,
                "hs_code": hs,
                "description": description,
                "unit": unit,
                "quantity": str(quantity),
                "value": str(quantity * price),
            }
        ],
    }
    if leaving:
        document |= {"declaration_number": DECLARATION, "duty_amount": str(quantity * price // 10)}
    [movement] = services.movement_file_many(user=company, documents=[document], source="api")
    return f"zone {movement.get_kind_display().lower()} {movement.number}: {quantity} {item_no}"
