"""A document after filing: amended (stock change redone), cancelled, expired unused; the
duty an exit to the domestic market carries; hazardous chemicals at the gate."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from alarms.models import Alarm
from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent
from tests.zones.factories import GPU, PLATE, cancel_racing_truck, document, held, read, stock_in
from zones import services
from zones.models import GatePass, GatePassage, Movement, StockEntry

SERVER = {
    "item_no": "SRV-1",
    "hs_code": "8471500000",  # the demo tariff's 8471: 5 % MFN
    "description": "Servers",
    "unit": "set",
    "quantity": "10",
    "value": "200000.00",
}


def file(zone, doc, user=None) -> Movement:
    return services.movement_file_many(user=user or zone.co, documents=[doc], source="api")[0]


def exit_of(zone, quantity, **overrides) -> Movement:
    return file(
        zone,
        document("domestic_out", lines=[dict(GPU, quantity=quantity, value="1000")], **overrides),
    )


def ledger_agrees(zone) -> bool:
    total = sum(e.quantity for e in StockEntry.objects.filter(stock_item__organisation=zone.org))
    return total == held(zone)


# --- amendment -------------------------------------------------------------------------------


def test_amending_an_exit_gives_back_the_old_lines_and_takes_the_new(zone):
    stock_in(zone, "100")
    movement = exit_of(zone, "40")
    assert held(zone) == Decimal("60")

    services.movement_amend(
        user=zone.co,
        movement_id=movement.pk,
        document=document(
            "domestic_out",
            truck_plate="闽D54321",
            lines=[dict(GPU, quantity="25", value="1000")],
        ),
    )

    movement.refresh_from_db()
    assert held(zone) == Decimal("75")
    assert ledger_agrees(zone)
    assert movement.amended_count == 1
    assert [(ln.item_no, ln.quantity) for ln in movement.lines.all()] == [
        ("GPU-4090", Decimal("25"))
    ]
    assert GatePass.objects.get(movement=movement).truck_plate == "闽D54321"
    event = TimelineEvent.objects.get(kind="zone.movement_amended")
    assert event.data["before"] == [["GPU-4090", "40"]]
    assert event.data["after"] == [["GPU-4090", "25"]]


def test_an_amendment_beyond_the_account_is_refused_and_changes_nothing(zone):
    stock_in(zone, "100")
    movement = exit_of(zone, "40")

    with pytest.raises(InvalidInput) as error:
        services.movement_amend(
            user=zone.co,
            movement_id=movement.pk,
            document=document("domestic_out", lines=[dict(GPU, quantity="101")]),
        )

    assert "quantity" in error.value.errors["lines"]["0"]
    assert held(zone) == Decimal("60")
    assert Movement.objects.get(pk=movement.pk).amended_count == 0
    assert movement.lines.get().quantity == Decimal("40")


def test_an_amendment_keeps_the_kind_and_checks_every_field(zone):
    movement = file(zone, document())

    with pytest.raises(InvalidInput) as kind:
        services.movement_amend(user=zone.co, movement_id=movement.pk, document=document("port_in"))
    with pytest.raises(InvalidInput) as fields:
        services.movement_amend(
            user=zone.co,
            movement_id=movement.pk,
            document=document(truck_plate="XX", declared_weight_kg="9"),
        )

    assert set(kind.value.errors) == {"kind"}
    assert set(fields.value.errors) == {"truck_plate", "declared_weight_kg"}
    assert GatePass.objects.get().truck_plate == PLATE


def test_a_movement_whose_truck_passed_cannot_change(zone):
    movement = stock_in(zone, "10")

    with pytest.raises(InvalidInput):
        services.movement_amend(user=zone.co, movement_id=movement.pk, document=document())
    with pytest.raises(InvalidInput):
        services.movement_cancel(user=zone.co, movement_id=movement.pk)
    assert held(zone) == Decimal("10")


def test_another_enterprise_cannot_amend_or_cancel(zone, api_for):
    movement = file(zone, document())

    with pytest.raises(NotYours):
        services.movement_cancel(user=zone.co2, movement_id=movement.pk)
    api = api_for(zone.co2)
    assert api.post(f"/api/v1/zones/movements/{movement.pk}/cancel/").status_code == 404
    assert (
        api.post(
            f"/api/v1/zones/movements/{movement.pk}/amend/", document(), format="json"
        ).status_code
        == 404
    )
    assert Client().get(f"/zones/movements/{movement.pk}/").status_code == 302  # sign in
    other = Client()
    other.force_login(zone.co2)
    assert other.get(f"/zones/movements/{movement.pk}/").status_code == 404
    assert GatePass.objects.get().status == "open"


def test_an_amended_pass_releases_the_new_truck_not_the_old(zone):
    movement = file(zone, document())
    services.movement_amend(
        user=zone.co, movement_id=movement.pk, document=document(truck_plate="闽D54321")
    )

    old = services.gate_read(user=zone.camera, gate_id=zone.gate.pk, read=read())
    new = services.gate_read(
        user=zone.camera, gate_id=zone.gate.pk, read=read(truck_plate="闽D54321")
    )

    assert (old.decision, new.decision) == ("stop", "release")
    assert held(zone) == Decimal("100")


def test_the_api_amends_and_cancels(zone, api_for):
    stock_in(zone, "100")
    api = api_for(zone.co)
    movement = exit_of(zone, "40")

    amended = api.post(
        f"/api/v1/zones/movements/{movement.pk}/amend/",
        document("domestic_out", lines=[dict(GPU, quantity="30", value="1000")]),
        format="json",
    )
    bad = api.post(
        f"/api/v1/zones/movements/{movement.pk}/amend/",
        document("domestic_out", lines=[dict(GPU, quantity="-1")]),
        format="json",
    )
    cancelled = api.post(
        f"/api/v1/zones/movements/{movement.pk}/cancel/", {"reason": "order withdrawn"}
    )

    assert amended.status_code == 200
    assert amended.json()["amended_count"] == 1
    assert bad.status_code == 400
    assert "quantity" in bad.json()["lines"]["0"]
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert held(zone) == Decimal("100")
    assert ledger_agrees(zone)


def test_the_movement_page_amends_and_cancels(zone):
    stock_in(zone, "100")
    movement = exit_of(zone, "40")
    client = Client()
    client.force_login(zone.co)
    page = client.get(f"/zones/movements/{movement.pk}/")
    assert page.status_code == 200
    assert "Amend" in page.content.decode()
    form = {
        "truck_plate": PLATE,
        "declared_weight_kg": "18000",
        "declaration_number": "370320261000012345",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        **{f"lines-0-{k}": v for k, v in dict(GPU, quantity="10", value="1000").items()},
    }

    bad = client.post(f"/zones/movements/{movement.pk}/", {**form, "lines-0-quantity": "x"})
    good = client.post(f"/zones/movements/{movement.pk}/", form)
    assert bad.status_code == 200
    assert "Give a number" in bad.content.decode()
    assert good.status_code == 302
    assert held(zone) == Decimal("90")

    client.post(f"/zones/movements/{movement.pk}/", {"cancel": "1", "reason": "withdrawn"})
    assert held(zone) == Decimal("100")
    page = client.get(f"/zones/movements/{movement.pk}/").content.decode()
    assert "withdrawn" in page
    assert "Zone movement cancelled" in page


# --- cancellation ----------------------------------------------------------------------------


def test_cancelling_an_exit_returns_its_goods_and_its_pass_no_longer_releases(zone):
    stock_in(zone, "100")
    movement = exit_of(zone, "40")

    services.movement_cancel(user=zone.co, movement_id=movement.pk, reason="order withdrawn")
    passage = services.gate_read(user=zone.camera, gate_id=zone.gate.pk, read=read())

    assert Movement.objects.get(pk=movement.pk).status == "cancelled"
    assert held(zone) == Decimal("100")
    assert ledger_agrees(zone)
    assert passage.decision == "stop"


def test_a_cancellation_racing_the_truck_either_releases_or_cancels_never_both(
    transactional_db, zone
):
    stock_in(zone, "100")
    movement = exit_of(zone, "40", truck_plate="闽D77777")
    outcomes = cancel_racing_truck(
        zone,
        movement,
        lambda: (
            services.gate_read(
                user=zone.camera, gate_id=zone.gate.pk, read=read(truck_plate="闽D77777")
            ).decision
        ),
    )

    assert sorted(outcomes.values()) in (["cancelled", "stop"], ["refused", "release"])
    expected = Decimal("100") if outcomes["cancel"] == "cancelled" else Decimal("60")
    assert held(zone) == expected
    assert ledger_agrees(zone)


# --- expiry ----------------------------------------------------------------------------------


def test_an_unused_pass_expires_and_an_exits_goods_return(zone):
    stock_in(zone, "100")
    exit_movement = exit_of(zone, "40")
    entry = file(zone, document(truck_plate="闽D54321"))
    fresh = file(zone, document(truck_plate="闽D66666"))
    GatePass.objects.filter(movement__in=[exit_movement, entry]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert services.gate_pass_expire_due() == 2
    assert services.gate_pass_expire_due() == 0  # idempotent

    statuses = dict(Movement.objects.values_list("pk", "status"))
    assert statuses[exit_movement.pk] == statuses[entry.pk] == "expired"
    assert statuses[fresh.pk] == "at_gate"
    assert held(zone) == Decimal("100")
    assert ledger_agrees(zone)
    assert TimelineEvent.objects.filter(kind="zone.pass_expired").count() == 2
    late = services.gate_read(user=zone.camera, gate_id=zone.gate.pk, read=read())
    assert (late.decision, late.reason) == ("stop", "pass_expired")


def test_a_pass_past_its_time_is_stopped_even_before_the_sweep(zone):
    file(zone, document())
    GatePass.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    passage = services.gate_read(user=zone.camera, gate_id=zone.gate.pk, read=read())

    assert (passage.decision, passage.reason) == ("stop", "pass_expired")
    assert held(zone) is None


# --- duty ------------------------------------------------------------------------------------


def test_an_exit_to_the_domestic_market_carries_the_tariffs_duty(zone):
    entry = file(zone, document(lines=[SERVER]))
    services.gate_read(user=zone.camera, gate_id=zone.gate.pk, read=read())
    assert entry.pk

    movement = file(
        zone,
        document("domestic_out", duty_amount="", lines=[dict(SERVER, quantity="4", value="80000")]),
    )

    line = movement.lines.get()
    assert line.duty_rate == Decimal("0.05")
    assert line.duty == Decimal("4000.00")
    assert movement.duty_amount == Decimal("4000.00")
    assert movement.duty_declared is None


def test_a_declared_duty_that_differs_from_the_tariff_is_a_field_error(zone):
    file(zone, document(lines=[SERVER]))
    services.gate_read(user=zone.camera, gate_id=zone.gate.pk, read=read())

    with pytest.raises(InvalidInput) as error:
        file(
            zone,
            document(
                "domestic_out", duty_amount="100", lines=[dict(SERVER, quantity="4", value="80000")]
            ),
        )

    assert "4000.00" in error.value.errors["documents"]["0"]["duty_amount"][0]
    assert Movement.objects.filter(kind="domestic_out").exists() is False


def test_without_a_tariff_line_the_declared_duty_stands(zone):
    stock_in(zone, "100")  # graphics cards: 8473, no line in the demo tariff

    movement = exit_of(zone, "10", duty_amount="1500")

    assert movement.lines.get().duty_rate is None
    assert movement.duty_amount == Decimal("1500")


# --- hazardous chemicals at the gate ---------------------------------------------------------


def test_hazardous_chemicals_are_flagged_at_the_gate(zone, api_for):
    solvent = {
        "item_no": "SOLV-1",
        "hs_code": "2902300000",
        "description": "Toluene",
        "unit": "kg",
        "quantity": "1000",
        "value": "9000",
        "un_number": "1294",
    }
    file(zone, document(lines=[solvent]))
    plain = file(zone, document(truck_plate="闽D54321"))
    assert plain.gate_pass.hazard == ""

    answer = api_for(zone.camera).post(
        "/api/v1/zones/gate-reads/", {"gate": zone.gate.pk, **read()}, format="json"
    )
    services.gate_read(user=zone.camera, gate_id=zone.gate.pk, read=read(truck_plate="闽D54321"))

    body = answer.json()
    assert body["decision"] == "release"
    assert body["hazard"].startswith("UN1294")
    alarm = Alarm.objects.get(kind="zone.hazard_at_gate")
    assert alarm.severity == "high"
    assert alarm.subject == PLATE
    client = Client()
    client.force_login(zone.officer)
    assert 'data-hazard="UN1294' in client.get("/zones/gate/").content.decode()
    assert GatePassage.objects.filter(hazard="").count() == 1


def test_a_bad_un_number_is_a_field_error(zone):
    with pytest.raises(InvalidInput) as error:
        file(zone, document(lines=[dict(GPU, un_number="9999")]))
    assert "un_number" in error.value.errors["documents"]["0"]["lines"]["0"]


def test_hazardous_chemicals_are_recognised_by_cas_number_or_commodity_code(zone):
    """Without a UN number: a listed chemical's CAS number, or a commodity code that is a
    listed chemical's subheading, still warns the gate; a CAS number that contradicts the
    commodity code, or has a wrong check digit, is a field error and files nothing."""
    acetone = {
        "item_no": "ACE-1",
        "hs_code": "2914110000",
        "description": "Acetone, drums",
        "unit": "kg",
        "quantity": "800",
        "value": "6000",
        "cas_number": "67-64-1",
    }
    by_cas = file(zone, document(lines=[acetone]))
    assert by_cas.gate_pass.hazard == "CAS 67-64-1 Acetone"
    assert by_cas.lines.get().cas_number == "67-64-1"
    by_code = file(
        zone,
        document(truck_plate="闽D54321", lines=[{**acetone, "item_no": "ACE-2", "cas_number": ""}]),
    )
    assert by_code.gate_pass.hazard == "HS 291411 Acetone"
    before = Movement.objects.count()
    for bad, field_error in (
        ("67-56-1", "classified under 290511"),  # methanol, declared under acetone's code
        ("67-64-2", "check digit"),
    ):
        with pytest.raises(InvalidInput) as refused:
            file(zone, document(truck_plate="闽D11111", lines=[{**acetone, "cas_number": bad}]))
        assert field_error in str(refused.value.errors)
    assert Movement.objects.count() == before
