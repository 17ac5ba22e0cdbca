"""A transfer between zone enterprises carried by truck: the sender's goods are reserved at
filing, the receiver is credited when the truck passes the gate, and until then the transfer
can be amended (same checks as filing) or cancelled (the reservation given back); once the
pass is used, neither."""

from decimal import Decimal

import pytest
from django.test import Client

from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent
from tests.zones.factories import GPU, cancel_racing_truck, document, held, read, stock_in
from zones import services
from zones.models import GatePass, Movement, StockEntry

TRUCK = "闽D88888"


def transfer(zone, quantity="30", **overrides) -> Movement:
    doc = document(
        "transfer",
        truck_plate=TRUCK,
        declared_weight_kg="9000",
        lines=[dict(GPU, quantity=quantity, value="1000")],
        **overrides,
    )
    return services.movement_file_many(user=zone.co, documents=[doc], source="api")[0]


def truck_read(zone, plate=TRUCK):
    return services.gate_read(
        user=zone.camera, gate_id=zone.gate.pk, read=read(truck_plate=plate, weight_kg="9000")
    )


def ledgers_agree(zone) -> bool:
    for org in (zone.org, zone.org2):
        total = sum(e.quantity for e in StockEntry.objects.filter(stock_item__organisation=org))
        if total != (held(zone, org) or 0):
            return False
    return True


def test_a_transfer_by_truck_reserves_at_filing_and_credits_the_receiver_at_the_gate(zone):
    stock_in(zone, "100")

    movement = transfer(zone)

    assert movement.status == Movement.Status.AT_GATE
    assert GatePass.objects.get(movement=movement).direction == GatePass.Direction.INTERNAL
    assert (held(zone), held(zone, zone.org2)) == (Decimal("70"), None)

    passage = truck_read(zone)

    assert passage.decision == "release"
    assert Movement.objects.get(pk=movement.pk).status == Movement.Status.COMPLETED
    assert (held(zone), held(zone, zone.org2)) == (Decimal("70"), Decimal("30"))
    assert ledgers_agree(zone)


def test_a_transfer_without_a_truck_still_completes_at_filing_and_cannot_change(zone):
    stock_in(zone, "100")
    [movement] = services.movement_file_many(
        user=zone.co,
        documents=[document("transfer", lines=[dict(GPU, quantity="30")])],
        source="api",
    )

    with pytest.raises(InvalidInput):
        services.movement_cancel(user=zone.co, movement_id=movement.pk)

    assert (held(zone), held(zone, zone.org2)) == (Decimal("70"), Decimal("30"))


def test_cancelling_a_transfer_gives_the_reservation_back_and_its_truck_is_stopped(zone):
    stock_in(zone, "100")
    movement = transfer(zone)

    services.movement_cancel(user=zone.co, movement_id=movement.pk, reason="buyer withdrew")
    passage = truck_read(zone)

    assert Movement.objects.get(pk=movement.pk).status == Movement.Status.CANCELLED
    assert (held(zone), held(zone, zone.org2)) == (Decimal("100"), None)
    assert passage.decision == "stop"
    assert ledgers_agree(zone)
    event = TimelineEvent.objects.get(kind="zone.movement_cancelled")
    assert event.data["reason"] == "buyer withdrew"


def test_amending_a_transfer_takes_the_new_quantity_and_the_receiver_gets_it(zone):
    stock_in(zone, "100")
    movement = transfer(zone, "30")

    services.movement_amend(
        user=zone.co,
        movement_id=movement.pk,
        document={
            "truck_plate": TRUCK,
            "declared_weight_kg": "9000",
            "lines": [dict(GPU, quantity="45", value="1500")],
        },
    )
    assert held(zone) == Decimal("55")
    truck_read(zone)

    assert (held(zone), held(zone, zone.org2)) == (Decimal("55"), Decimal("45"))
    assert Movement.objects.get(pk=movement.pk).counterparty_id == zone.org2.pk
    event = TimelineEvent.objects.get(kind="zone.movement_amended")
    assert (event.data["before"], event.data["after"]) == (
        [["GPU-4090", "30"]],
        [["GPU-4090", "45"]],
    )
    assert ledgers_agree(zone)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": [dict(GPU, quantity="200", value="1000")]}, "quantity"),  # beyond the account
        ({"lines": [dict(GPU, quantity="-1", value="1000")]}, "quantity"),
        ({"truck_plate": "", "lines": [dict(GPU, quantity="10")]}, "truck_plate"),
    ],
)
def test_a_bad_amendment_of_a_transfer_is_a_field_error_and_changes_nothing(zone, change, field):
    stock_in(zone, "100")
    movement = transfer(zone, "30")

    with pytest.raises(InvalidInput) as error:
        services.movement_amend(
            user=zone.co,
            movement_id=movement.pk,
            document={"truck_plate": TRUCK, "declared_weight_kg": "9000", **change},
        )

    assert field in str(error.value.errors)
    assert held(zone) == Decimal("70")
    assert [ln.quantity for ln in Movement.objects.get(pk=movement.pk).lines.all()] == [Decimal(30)]
    assert TimelineEvent.objects.filter(kind="zone.movement_amended").exists() is False


def test_once_its_truck_has_passed_a_transfer_can_be_neither_amended_nor_cancelled(zone):
    stock_in(zone, "100")
    movement = transfer(zone)
    truck_read(zone)

    with pytest.raises(InvalidInput):
        services.movement_cancel(user=zone.co, movement_id=movement.pk)
    with pytest.raises(InvalidInput):
        services.movement_amend(
            user=zone.co,
            movement_id=movement.pk,
            document={"truck_plate": TRUCK, "declared_weight_kg": "9000", "lines": [dict(GPU)]},
        )

    assert (held(zone), held(zone, zone.org2)) == (Decimal("70"), Decimal("30"))
    assert Movement.objects.get(pk=movement.pk).status == Movement.Status.COMPLETED
    assert (
        TimelineEvent.objects.filter(
            kind__in=["zone.movement_cancelled", "zone.movement_amended"]
        ).exists()
        is False
    )


def test_a_cancellation_racing_the_transfers_truck_is_one_or_the_other(transactional_db, zone):
    stock_in(zone, "100")
    movement = transfer(zone, "40")
    outcomes = cancel_racing_truck(zone, movement, lambda: truck_read(zone).decision)

    assert sorted(outcomes.values()) in (["cancelled", "stop"], ["refused", "release"])
    if outcomes["cancel"] == "cancelled":
        assert (held(zone), held(zone, zone.org2)) == (Decimal("100"), None)
    else:
        assert (held(zone), held(zone, zone.org2)) == (Decimal("60"), Decimal("40"))
    assert ledgers_agree(zone)


def test_the_api_amends_and_cancels_a_transfer_and_the_receiver_cannot(zone, api_for):
    stock_in(zone, "100")
    movement = transfer(zone, "30")
    api = api_for(zone.co)

    by_receiver = api_for(zone.co2).post(f"/api/v1/zones/movements/{movement.pk}/cancel/")
    amended = api.post(
        f"/api/v1/zones/movements/{movement.pk}/amend/",
        {"truck_plate": TRUCK, "declared_weight_kg": "9000", "lines": [dict(GPU, quantity="20")]},
        format="json",
    )
    bad = api.post(
        f"/api/v1/zones/movements/{movement.pk}/amend/",
        {"truck_plate": TRUCK, "declared_weight_kg": "9000", "lines": [dict(GPU, quantity="x")]},
        format="json",
    )
    cancelled = api.post(f"/api/v1/zones/movements/{movement.pk}/cancel/", {"reason": "no"})

    assert by_receiver.status_code == 404
    assert amended.status_code == 200, amended.json()
    assert amended.json()["gate_pass"]["direction"] == "int"
    assert bad.status_code == 400
    assert "quantity" in bad.json()["lines"]["0"]
    assert cancelled.json()["status"] == "cancelled"
    assert (held(zone), held(zone, zone.org2)) == (Decimal("100"), None)
    with pytest.raises(NotYours):
        services.movement_cancel(user=zone.co2, movement_id=movement.pk)


def test_the_transfer_page_amends_and_cancels_in_both_languages(zone):
    stock_in(zone, "100")
    movement = transfer(zone, "30")
    client = Client()
    client.force_login(zone.co)
    form = {
        "truck_plate": TRUCK,
        "declared_weight_kg": "9000",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        **{f"lines-0-{k}": v for k, v in dict(GPU, quantity="25", value="1000").items()},
    }

    page = client.get(f"/zones/movements/{movement.pk}/").content.decode()
    amended = client.post(f"/zones/movements/{movement.pk}/", form)
    client.post(f"/zones/movements/{movement.pk}/", {"cancel": "1", "reason": "withdrawn"})
    english = client.get(f"/zones/movements/{movement.pk}/").content.decode()
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(f"/zones/movements/{movement.pk}/").content.decode()

    assert "Save the amendment" in page
    assert "Cancel the movement" in page
    assert amended.status_code == 302
    assert "Zone movement amended" in english
    assert "Zone movement cancelled" in english
    assert "区内核注清单已修改" in chinese
    assert "区内核注清单已撤销" in chinese
    assert "区内企业间流转" in chinese
    assert (held(zone), held(zone, zone.org2)) == (Decimal("100"), None)


def test_a_transfers_pass_that_lapses_gives_the_reservation_back(zone):
    from datetime import timedelta

    from django.utils import timezone

    stock_in(zone, "100")
    movement = transfer(zone, "30")
    GatePass.objects.filter(movement=movement).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert services.gate_pass_expire_due() == 1

    assert Movement.objects.get(pk=movement.pk).status == Movement.Status.EXPIRED
    assert (held(zone), held(zone, zone.org2)) == (Decimal("100"), None)
    assert ledgers_agree(zone)
    assert truck_read(zone).decision == "stop"


def test_the_receiver_sees_a_transfer_coming_but_no_one_elses_and_cannot_change_it(zone):
    stock_in(zone, "100")
    movement = transfer(zone, "30")
    receiver = Client()
    receiver.force_login(zone.co2)
    sender = Client()
    sender.force_login(zone.co)

    page = receiver.get("/zones/").content.decode()
    receiver.cookies["django_language"] = "zh-hans"
    chinese = receiver.get("/zones/").content.decode()

    assert f'data-incoming="{movement.number}"' in page
    assert "Incoming transfers" in page
    assert "转入的货物" in chinese
    assert "data-incoming-transfers" not in sender.get("/zones/").content.decode()
    assert receiver.get(f"/zones/movements/{movement.pk}/").status_code == 404
