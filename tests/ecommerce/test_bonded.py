"""1210 (bonded) lists draw on the bonded zone's stock: the goods leave the warehouse's
account when their list is released (or selected), set-based and race-free; a list the
stock cannot cover is refused with its short line; returns put the goods back."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ecommerce import decision, services
from ecommerce.models import BuyerQuota, InventoryList, ListLine, ListRiskRule
from port.models import TimelineEvent
from tests.ecommerce import factories
from tests.ecommerce.conftest import file, file_parcels
from tests.ecommerce.factories import bonded, bonded_zone, parcel
from zones.models import Movement, MovementLine, StockEntry, StockItem

S = InventoryList.Status
LIPSTICK, MILK = "SKU-LIPSTICK", "SKU-MILK"


def held(item_no: str = LIPSTICK) -> Decimal:
    return StockItem.objects.get(item_no=item_no).quantity


def ledger_agrees() -> bool:
    """Every account equals the sum of its movements (what zones' reconciliation checks)."""
    return all(
        item.quantity == (item.entries.aggregate(s=Sum("quantity"))["s"] or 0)
        for item in StockItem.objects.all()
    )


@pytest.fixture
def zone(ec):
    return bonded_zone(ec, {LIPSTICK: ("3304990000", 10), MILK: ("1901101000", 1)})


def two_lines(n: int) -> dict:
    """A parcel of two lipsticks and two tins of milk powder."""
    one = parcel(n)
    milk = {"hs_code": "1901101000", "name": "milk", "quantity": 2, "unit_price": "100.00"}
    for kind in ("order", "list"):
        one[kind]["goods"] = [*one[kind]["goods"], dict(milk)]
    one["payment"]["amount"] = "410.00"
    return one


def test_released_1210_lists_take_their_goods_off_the_warehouse_in_one_movement(ec, zone):
    # when: three lists of two lipsticks each
    file_parcels(ec, [bonded(parcel(n), LIPSTICK) for n in (1, 2, 3)])
    # then
    assert set(InventoryList.objects.values_list("status", flat=True)) == {S.RELEASED}
    assert held() == 4
    movement = Movement.objects.get(kind=Movement.Kind.RETAIL_OUT)
    assert (movement.organisation_id, movement.status, movement.created_by) == (
        ec.logistics.pk,
        Movement.Status.COMPLETED,
        None,
    )
    line = MovementLine.objects.get(movement=movement)
    assert (line.item_no, line.quantity, line.value) == (LIPSTICK, 6, Decimal("600.00"))
    assert ledger_agrees() is True
    event = TimelineEvent.objects.get(kind="zone.movement_filed", subject_id=movement.pk)
    assert (event.organisation_id, event.data["parcels"]) == (ec.logistics.pk, 3)


def set_held(item_no: str, quantity: int) -> None:
    StockItem.objects.filter(item_no=item_no).update(quantity=quantity)
    StockEntry.objects.filter(stock_item__item_no=item_no).update(quantity=quantity)


def test_a_list_the_stock_cannot_cover_is_refused_with_its_short_line_the_others_released(ec, zone):
    # given: four lipsticks and one tin of milk powder on the account; the second list
    # wants two lipsticks and two tins
    set_held(LIPSTICK, 4)
    parcels = [
        bonded(parcel(1), LIPSTICK),
        bonded(two_lines(2), LIPSTICK, MILK),
        bonded(parcel(3), LIPSTICK),
        bonded(parcel(4), LIPSTICK),
    ]
    # when
    file_parcels(ec, parcels)
    # then: the second is short of milk (and takes no lipstick), the fourth of lipsticks
    lists = dict(InventoryList.objects.values_list("list_no", "status"))
    assert lists == {
        "L000000001": S.RELEASED,
        "L000000002": S.REFUSED,
        "L000000003": S.RELEASED,
        "L000000004": S.REFUSED,
    }
    second, fourth = InventoryList.objects.filter(status=S.REFUSED).order_by("list_no")
    assert (second.reason, second.reason_field) == ("stock_short", "goods[1].quantity")
    assert (fourth.reason, fourth.reason_field) == ("stock_short", "goods[0].quantity")
    assert (fourth.vat_cents, fourth.quota_cents, fourth.guarantee_cents) == (0, 0, 0)
    assert (held(LIPSTICK), held(MILK)) == (0, 1)
    assert ledger_agrees() is True
    # the refused lists drew nothing from their buyers' quota
    assert BuyerQuota.objects.aggregate(s=Sum("used_cents"))["s"] == 2 * 21000


def test_a_list_its_buyers_quota_refuses_takes_no_stock(ec, zone):
    # given: six lists of one buyer at 4,890 CNY each; the annual limit fits five
    parcels = [bonded(parcel(10 + i, buyer=7, unit_price="2440.00"), LIPSTICK) for i in range(5)]
    parcels.append(bonded(parcel(20, buyer=7, unit_price="2440.00", quantity=2), MILK))
    parcels[-1]["list"]["goods"][0]["hs_code"] = parcels[-1]["order"]["goods"][0]["hs_code"] = (
        "1901101000"
    )
    set_held(MILK, 5)
    # when
    file_parcels(ec, parcels)
    # then: the sixth is refused by the quota, and its two tins stay on the account
    refused = InventoryList.objects.get(status=S.REFUSED)
    assert (refused.list_no, refused.reason) == ("L000000020", "over_annual_limit")
    assert (held(LIPSTICK), held(MILK)) == (0, 5)
    assert ledger_agrees() is True


def test_a_buyers_return_puts_the_goods_back_on_the_account(ec, zone):
    file_parcels(ec, [bonded(parcel(1), LIPSTICK)])
    listed = InventoryList.objects.get()
    assert held() == 8
    # when
    services.list_return(list_id=listed.pk, user=ec.alice)
    # then
    assert held() == 10
    back = Movement.objects.get(kind=Movement.Kind.RETAIL_RETURN)
    assert back.lines.get().quantity == 2
    assert ledger_agrees() is True
    # a second return is refused and puts nothing back twice
    with pytest.raises(Exception):  # noqa: B017, PT011 - TransitionNotAllowed
        services.list_return(list_id=listed.pk, user=ec.alice)
    assert held() == 10


def test_a_selected_1210_list_holds_its_goods_and_sent_back_puts_them_back(ec, zone):
    ListRiskRule.objects.create(
        name="All lipsticks", public_reason="Sampling", action="manual", hs_prefix="3304"
    )
    services.list_rule_set_activate(officer=ec.officer)
    file_parcels(ec, [bonded(parcel(1), LIPSTICK)])
    selected = InventoryList.objects.get()
    assert (selected.status, held()) == (S.SELECTED, 8)
    # when
    services.list_inspect(list_id=selected.pk, officer=ec.officer, outcome="sent_back")
    # then
    assert held() == 10
    assert ledger_agrees() is True


def test_a_1210_list_must_name_a_warehouse_party_to_it_and_items_on_its_account(ec, zone, api_for):
    from port.models import Organisation
    from zones.models import ZoneEnterprise

    # given: another enterprise of the zone, not a party to these lists
    stranger = Organisation.objects.create(name="Stranger", uscc="91440115MA59STRANG")
    ZoneEnterprise.objects.create(zone=zone.zone, organisation=stranger)
    missing = parcel(1)
    missing["list"].update(trade_mode="1210")
    bad = [
        missing,
        bonded(parcel(2), LIPSTICK, zone="NOPE"),
        bonded(parcel(3), LIPSTICK, warehouse="91440115MA59STRANG"),
        bonded(parcel(4), "SKU-NONE"),
        bonded(parcel(5), MILK),  # milk powder's item under a cosmetics code
        bonded(parcel(6), LIPSTICK),  # good
    ]
    # when
    response = api_for(ec.alice).post(
        "/api/v1/ecommerce/lists/batch/", {"lists": [p["list"] for p in bad]}, format="json"
    )
    # then
    assert response.status_code == 201
    body = response.json()
    assert body["filed"] == 1
    named = {(e["index"], e["field"]) for e in body["errors"]}
    assert named == {
        (0, "zone"),
        (0, "warehouse"),
        (0, "goods[0].item_no"),
        (1, "warehouse"),
        (2, "warehouse"),
        (3, "goods[0].item_no"),
        (4, "goods[0].hs_code"),
    }
    filed = InventoryList.objects.get()
    assert (filed.list_no, filed.zone_enterprise_id) == ("L000000006", zone.enterprise.pk)
    assert ListLine.objects.get().item_no == LIPSTICK
    assert held() == 10


def test_deciding_1210_lists_takes_the_same_queries_whatever_their_number(ec, zone):
    set_held(LIPSTICK, 1000)

    def queries_for(start: int, count: int) -> int:
        parcels = [bonded(parcel(start + i, buyer=start + i), LIPSTICK) for i in range(count)]
        file_parcels(ec, parcels, kinds=("order", "payment", "waybill"))
        with CaptureQueriesContext(connection) as filing:
            result = file("list", ec.declarant, [p["list"] for p in parcels])
        with CaptureQueriesContext(connection) as deciding:
            decision.batch_decide(batch_id=result.batch_id)
        return len(filing), len(deciding)

    assert queries_for(100, 2) == queries_for(200, 40)
    assert InventoryList.objects.filter(status=S.RELEASED).count() == 42
    assert held() == 1000 - 84
    assert ledger_agrees() is True


@pytest.mark.slow
def test_two_batches_drawing_the_same_item_at_once_never_take_it_below_zero(transactional_db):
    # given: ten lipsticks; two batches of four lists of two each (sixteen wanted)
    ec = factories.world()
    bonded_zone(ec, {LIPSTICK: ("3304990000", 10)})
    batches = [[bonded(parcel(100 * b + i), LIPSTICK) for i in range(4)] for b in (1, 2)]
    file_parcels(ec, [p for batch in batches for p in batch], kinds=("order", "payment", "waybill"))
    barrier, decided = threading.Barrier(2), []

    def one_request(batch):
        try:
            api = APIClient()
            api.force_authenticate(ec.alice)
            barrier.wait()
            body = api.post(
                "/api/v1/ecommerce/lists/batch/",
                {"lists": [p["list"] for p in batch]},
                format="json",
            ).json()
            decided.append(decision.batch_decide(batch_id=body["batch"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_request, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: exactly five lists fit; the account is at zero, never below
    assert sum(decided) == 8
    assert InventoryList.objects.filter(status=S.RELEASED).count() == 5
    assert InventoryList.objects.filter(reason="stock_short").count() == 3
    assert held() == 0
    assert ledger_agrees() is True
    taken = MovementLine.objects.filter(movement__kind=Movement.Kind.RETAIL_OUT)
    assert taken.aggregate(s=Sum("quantity"))["s"] == 10


def test_the_warehouse_sees_the_retail_exit_and_return_on_its_zone_pages(ec, zone, client):
    file_parcels(ec, [bonded(parcel(1), LIPSTICK)])
    services.list_return(list_id=InventoryList.objects.get().pk, user=ec.alice)
    client.force_login(ec.logistics_user)
    account = client.get("/zones/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert account.status_code == 200
    for movement in Movement.objects.filter(source=Movement.Source.LISTS):
        page = client.get(f"/zones/movements/{movement.pk}/")
        assert page.status_code == 200
        assert movement.number in page.content.decode()
