"""The bonded zone's step of the living port (analytics.simulation.STEPS): a zone enterprise
files a truck's document (an entry, an exit to the domestic market with its duty and taxes,
or a transfer by truck to the other zone enterprise), now and then amends or cancels one
still waiting for its truck, or the gate's camera reads a truck that has a pass, so the
live gate board moves."""

import random
from decimal import Decimal

from django.utils.translation import gettext as _

from port.errors import InvalidInput
from port.models import User
from zones import queries, services
from zones.models import GatePass, Movement, StockItem, ZoneGate

ITEMS = [
    ("GPU-4090", "8473302000", "Graphics cards RTX 4090", "pcs", 12000),
    ("GPU-4080", "8473302000", "Graphics cards RTX 4080", "pcs", 8500),
    ("SSD-2T", "8523511000", "Solid-state drives 2 TB", "pcs", 750),
    ("MB-Z790", "8473302000", "Motherboards Z790", "pcs", 1800),
    ("SRV-R760", "8471500000", "Rack servers", "set", 42000),  # in the demo tariff: 5 %
]
IN_TARIFF = {"8471500000"}
DECLARATION = "370320261000012345"


def zone_truck(rng: random.Random) -> str | None:
    """Half the time a document is filed or changed; otherwise the camera reads the plate of
    a truck with an open pass (one in ten weighing far from its declared weight, which the
    gate stops)."""
    gate = ZoneGate.objects.select_related("zone").order_by("pk").first()
    if gate is None:
        return None
    if rng.random() < 0.5:
        companies = {u.username: u for u in User.objects.filter(username__in=["zoneco", "zoneco2"])}
        if len(companies) < 2:
            return None
        if rng.random() < 0.15:
            return _change(rng, companies["zoneco"])
        return _file(rng, companies["zoneco"], companies["zoneco2"])
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


def _held(company: User, item_no: str) -> Decimal:
    account = queries.zone_enterprise_for(company)
    found = StockItem.objects.filter(
        item_no=item_no, organisation_id=account.organisation_id if account else None
    ).values_list("quantity", flat=True)
    return found.first() or Decimal(0)


def _file(rng: random.Random, company: User, other: User) -> str:
    item_no, hs, description, unit, price = rng.choice(ITEMS)
    # The receiver of earlier transfers sells some of what it got to the domestic market.
    if _held(other, item_no) >= 50 and rng.random() < 0.3:
        company, other = other, company
    held = _held(company, item_no)
    choice = rng.random()
    kind = "domestic_in"
    if held >= 50 and choice < 0.4:
        kind = "domestic_out"
    elif held >= 50 and choice < 0.6:
        kind = "transfer"
    elif company.username != "zoneco":
        return None
    quantity = rng.randrange(10, 50) if kind != "domestic_in" else rng.randrange(50, 200)
    document = {
        "kind": kind,
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
    if kind == "domestic_out":
        document["declaration_number"] = DECLARATION
        if hs not in IN_TARIFF:  # no tariff line: the declared duty stands
            document["duty_amount"] = str(quantity * price // 10)
    if kind == "transfer":
        account = queries.zone_enterprise_for(other)
        document["counterparty_uscc"] = account.organisation.uscc
    [movement] = services.movement_file_many(user=company, documents=[document], source="api")
    return f"zone {movement.get_kind_display().lower()} {movement.number}: {quantity} {item_no}"


def _change(rng: random.Random, company: User) -> str | None:
    """Amend the quantity of, or cancel, a document still waiting for its truck."""
    movement = (
        queries.movements_for(user=company)
        .filter(status=Movement.Status.AT_GATE, gate_pass__status=GatePass.Status.OPEN)
        .order_by("?")
        .first()
    )
    if movement is None:
        return None
    try:
        if rng.random() < 0.5:
            services.movement_cancel(
                user=company, movement_id=movement.pk, reason=_("The buyer withdrew the order.")
            )
            return f"zone cancelled {movement.number}"
        services.movement_amend(user=company, movement_id=movement.pk, document=_smaller(movement))
    except InvalidInput:
        return f"zone change of {movement.number} refused"
    return f"zone amended {movement.number}"


def _smaller(movement: Movement) -> dict:
    gate_pass = movement.gate_pass
    lines = [
        {
            "item_no": line.item_no,
            "hs_code": line.hs_code,
            "description": line.description,
            "unit": line.unit,
            "quantity": str(max(line.quantity - 5, Decimal(1))),
            "value": str(line.value),
            "un_number": line.un_number,
            "cas_number": line.cas_number,
        }
        for line in movement.lines.all()
    ]
    document = {
        "truck_plate": gate_pass.truck_plate,
        "container": gate_pass.container_number,
        "seal": gate_pass.seal_number,
        "declared_weight_kg": str(gate_pass.declared_weight_kg),
        "declaration_number": movement.declaration_number,
        "lines": lines,
    }
    if movement.duty_declared is not None:
        document["duty_amount"] = str(movement.duty_declared)
    return document
