"""The demo zone's people and documents, for zone tests."""

import threading
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection

from port.errors import InvalidInput
from port.models import Organisation, User
from zones import services
from zones.models import Zone, ZoneGate

PLATE = "闽D12345"
GPU = {
    "item_no": "GPU-4090",
    "hs_code": "8473302000",
    "description": "Graphics cards",
    "unit": "pcs",
    "quantity": "100",
    "value": "1200000.00",
}


def document(kind="domestic_in", **overrides) -> dict:
    doc = {
        "kind": kind,
        "truck_plate": PLATE,
        "container": "",
        "seal": "",
        "declared_weight_kg": "18000",
        "lines": [dict(GPU)],
    }
    if kind == "domestic_out":
        doc["declaration_number"] = "370320261000012345"
        doc["duty_amount"] = "156000.00"
    if kind == "transfer":
        doc = {"kind": kind, "counterparty_uscc": "91350200MA8XY2KC2B", "lines": [dict(GPU)]}
    doc.update(overrides)
    return doc


def read(**overrides) -> dict:
    body = {"truck_plate": PLATE, "containers": [], "seal": "", "weight_kg": "18100", "lane": 1}
    body.update(overrides)
    return body


@pytest.fixture
def zone(demo):
    users = {u.username: u for u in User.objects.filter(username__startswith="zone")}
    orgs = {o.uscc: o for o in Organisation.objects.filter(uscc__startswith="91350200MA8XY")}
    return SimpleNamespace(
        zone=Zone.objects.get(code="XYBZ"),
        gate=ZoneGate.objects.get(code="G1"),
        co=users["zoneco"],
        co2=users["zoneco2"],
        camera=users["zonegate"],
        officer=User.objects.get(username="xiangyu"),
        org=orgs["91350200MA8XY1KB10"],
        org2=orgs["91350200MA8XY2KC2B"],
        demo=demo,
    )


def stock_in(zone, quantity="100", **overrides):
    """An entry filed and its truck released: the account holds `quantity` graphics cards."""
    line = dict(GPU, quantity=quantity)
    movement = services.movement_file_many(
        user=zone.co, documents=[document(lines=[line], **overrides)], source="api"
    )[0]
    passage = services.gate_read(
        user=zone.camera,
        gate_id=zone.gate.pk,
        read=read(truck_plate=movement.gate_pass.truck_plate),
    )
    assert passage.decision == "release", passage.reason
    return movement


def held(zone, org=None, item_no="GPU-4090") -> Decimal | None:
    from zones.models import StockItem

    item = StockItem.objects.filter(organisation=org or zone.org, item_no=item_no).first()
    return item.quantity if item else None


def cancel_racing_truck(zone, movement, truck_read: Callable[[], str]) -> dict[str, str]:
    """The sender cancels `movement` while its truck is read at the gate, on two threads
    with their own connections released at the same instant: {"gate": the gate's decision,
    "cancel": "cancelled" or "refused"}."""
    outcomes, barrier = {}, threading.Barrier(2)

    def truck():
        barrier.wait()
        try:
            outcomes["gate"] = truck_read()
        finally:
            connection.close()

    def cancel():
        barrier.wait()
        try:
            services.movement_cancel(user=zone.co, movement_id=movement.pk)
            outcomes["cancel"] = "cancelled"
        except InvalidInput:
            outcomes["cancel"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=truck), threading.Thread(target=cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes
