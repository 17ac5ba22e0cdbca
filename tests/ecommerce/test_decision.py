import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecommerce import decision, services
from ecommerce.models import InventoryList, ListRiskRule
from port.models import TimelineEvent
from tests.ecommerce.conftest import file, file_and_decide, file_parcels
from tests.ecommerce.factories import exported, parcel

S = InventoryList.Status


def test_a_list_matching_its_three_documents_is_released_with_its_tax(ec):
    file_parcels(ec, [parcel(1, unit_price="100.00", quantity=2, freight="10.00")])
    listed = InventoryList.objects.get()
    assert listed.status == S.RELEASED
    assert (listed.reason, listed.reason_field) == ("", "")
    # cosmetics, consumption tax 15 %: base 210.00; consumption 210/0.85*0.15 = 37.0588…;
    # VAT (210 + 37.0588…) * 13 % = 32.1176…; 70 % of each: 25.94 and 22.48
    assert (listed.consumption_cents, listed.vat_cents) == (2594, 2248)
    assert listed.quota_cents == 21000
    assert TimelineEvent.objects.get(kind="ecommerce.lists_decided").data["counts"] == {
        "released": 1
    }


def test_a_list_filed_first_waits_and_is_decided_when_its_last_document_arrives(ec):
    one = parcel(2)
    file_parcels(ec, [one], kinds=("list", "order", "payment"))
    assert InventoryList.objects.get().status == S.WAITING
    file_and_decide("waybill", ec.logistics, [one["waybill"]])
    assert InventoryList.objects.get().status == S.RELEASED


def test_a_list_is_refused_naming_the_field_that_differs(ec):
    one, two, three = parcel(3), parcel(4), parcel(5)
    one["payment"]["amount"] = "999.00"
    two["order"]["buyer_id"] = parcel(6)["order"]["buyer_id"]
    two["payment"]["buyer_id"] = two["order"]["buyer_id"]
    three["waybill"]["order_no"] = "O999999999"
    file_parcels(ec, [one, two, three])
    refused = dict(InventoryList.objects.values_list("list_no", "reason_field"))
    assert refused == {
        "L000000003": "payment.amount",
        "L000000004": "order.buyer_id",
        "L000000005": "waybill.order_no",
    }
    assert set(InventoryList.objects.values_list("status", "reason").distinct()) == {
        ("refused", "mismatch")
    }


def test_goods_off_the_positive_list_and_over_the_single_limit_are_refused(ec):
    off_list = parcel(7, hs_code="9301000000")
    too_dear = parcel(8, unit_price="2500.00", quantity=2)
    file_parcels(ec, [off_list, too_dear])
    assert dict(InventoryList.objects.values_list("list_no", "reason")) == {
        "L000000007": "not_on_positive_list",
        "L000000008": "over_single_limit",
    }
    assert set(InventoryList.objects.values_list("quota_cents", flat=True)) == {0}


def test_the_annual_limit_refuses_what_would_exceed_it_within_one_batch(ec):
    # six parcels of 4,810 CNY for one buyer: five fit in 26,000, the sixth does not
    parcels = [parcel(10 + i, buyer=42, unit_price="2400.00", quantity=2) for i in range(6)]
    file_parcels(ec, parcels)
    statuses = list(InventoryList.objects.order_by("id").values_list("status", "reason"))
    assert statuses == [("released", "")] * 5 + [("refused", "over_annual_limit")]


def test_deciding_again_changes_nothing(ec):
    file_parcels(ec, [parcel(20)])
    before = list(InventoryList.objects.values_list("status", "decided_at", "quota_cents"))
    batch = InventoryList.objects.get().batch_id
    assert decision.batch_decide(batch_id=batch) == 0
    assert list(InventoryList.objects.values_list("status", "decided_at", "quota_cents")) == before


def test_deciding_a_batch_takes_the_same_queries_whatever_its_size(ec):
    def queries_for(start: int, count: int) -> int:
        parcels = [parcel(start + i, buyer=start + i) for i in range(count)]
        file_parcels(ec, parcels, kinds=("order", "payment", "waybill"))
        result = file("list", ec.declarant, [p["list"] for p in parcels])
        with CaptureQueriesContext(connection) as captured:
            decision.batch_decide(batch_id=result.batch_id)
        # The bulk statements (ecommerce.db's cursor) are counted too.
        assert any("FOR UPDATE OF l" in q["sql"] for q in captured.captured_queries)
        return len(captured)

    assert queries_for(100, 3) == queries_for(200, 60)


def test_a_list_rule_sends_the_platforms_lists_to_inspection(ec):
    ListRiskRule.objects.create(
        name="Cosmetics of this platform",
        public_reason="Sampling of cosmetics",
        action="manual",
        platforms=[ec.platform.pk],
        categories=["cosmetics"],
    )
    rule_set = services.list_rule_set_activate(officer=ec.officer)
    file_parcels(ec, [parcel(30), parcel(31, hs_code="1901100000")])
    decided = dict(InventoryList.objects.values_list("list_no", "status"))
    assert decided == {"L000000030": "selected", "L000000031": "released"}
    selected = InventoryList.objects.get(list_no="L000000030")
    assert selected.rule_set_version == rule_set.version
    assert selected.rules_hit[0]["reason"] == "Sampling of cosmetics"


def test_an_export_list_needs_no_payment_and_pays_no_tax(ec):
    one = exported(parcel(40), "9810")
    one["order"].update(buyer_name=one["order"]["buyer_name"])
    file_parcels(ec, [one], kinds=("order", "waybill", "list"))
    listed = InventoryList.objects.get()
    # the order names a buyer; an export list does not: only goods, value and waybill are matched
    assert (listed.status, listed.vat_cents, listed.quota_cents) == (S.RELEASED, 0, 0)


def test_filing_a_batch_takes_the_same_queries_whatever_its_size(ec):
    def queries_for(start: int, count: int) -> int:
        parcels = [parcel(start + i) for i in range(count)]
        with CaptureQueriesContext(connection) as captured:
            file("list", ec.declarant, [p["list"] for p in parcels])
        assert any("ANY(%s::text[])" in q["sql"] for q in captured.captured_queries)
        return len(captured)

    assert queries_for(300, 3) == queries_for(400, 80)


def test_one_task_decides_the_batches_queued_behind_it_and_theirs_then_find_nothing(ec):
    from ecommerce.models import Batch

    parcels = [parcel(n) for n in range(1, 7)]
    file_parcels(ec, parcels, kinds=("order", "payment", "waybill"))
    batches = [
        file("list", ec.declarant, [p["list"] for p in parcels[i : i + 2]]) for i in (0, 2, 4)
    ]
    assert decision.batch_decide(batch_id=batches[1].batch_id) == 6
    assert set(InventoryList.objects.values_list("status", flat=True)) == {S.RELEASED}
    assert not Batch.objects.filter(decided_at__isnull=True).exists()
    assert decision.batch_decide(batch_id=batches[0].batch_id) == 0
    assert decision.batch_decide(batch_id=batches[2].batch_id) == 0


def test_a_decider_takes_about_a_chunk_of_batches_and_leaves_the_rest_to_another(ec, monkeypatch):
    from ecommerce.models import Batch

    monkeypatch.setattr(decision, "CHUNK", 4)
    parcels = [parcel(n) for n in range(1, 13)]
    file_parcels(ec, parcels, kinds=("order", "payment", "waybill"))
    batches = [
        file("list", ec.declarant, [p["list"] for p in parcels[i : i + 2]]) for i in range(0, 12, 2)
    ]
    # the first decider: its batch and the next (4 lists), not the four behind them
    assert decision.batch_decide(batch_id=batches[0].batch_id) == 4
    assert Batch.objects.filter(kind="list", decided_at__isnull=True).count() == 4
    # a batch another decider holds is left to it
    Batch.objects.filter(pk=batches[4].batch_id).update(claimed_at=timezone.now())
    assert decision.batch_decide(batch_id=batches[4].batch_id) == 4  # takes batches 2 and 3
    assert Batch.objects.get(pk=batches[4].batch_id).decided_at is None
    # a claim older than CLAIM_EXPIRES (its decider died) is taken again
    Batch.objects.filter(pk=batches[4].batch_id).update(
        claimed_at=timezone.now() - decision.CLAIM_EXPIRES - timedelta(seconds=1)
    )
    assert decision.batch_decide(batch_id=batches[4].batch_id) == 4
    assert set(InventoryList.objects.values_list("status", flat=True)) == {S.RELEASED}
    assert not Batch.objects.filter(decided_at__isnull=True).exists()


@pytest.mark.slow
def test_deciders_in_parallel_decide_each_list_once(transactional_db, monkeypatch):
    from ecommerce.models import Batch
    from tests.ecommerce import factories

    monkeypatch.setattr(decision, "CHUNK", 10)
    ec = factories.world()
    parcels = [parcel(n, buyer=1) for n in range(1, 131)]  # one buyer: the annual limit binds
    file_parcels(ec, parcels, kinds=("order", "payment", "waybill"))
    batches = [
        file("list", ec.declarant, [p["list"] for p in parcels[i : i + 10]]).batch_id
        for i in range(0, 130, 10)
    ]
    decided, barrier = [], threading.Barrier(4)

    def decider(mine):
        try:
            barrier.wait()
            decided.extend(decision.batch_decide(batch_id=b) for b in mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=decider, args=(batches[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(decided) == 130  # each list decided by one decider, once
    assert not Batch.objects.filter(decided_at__isnull=True).exists()
    released = InventoryList.objects.filter(status=S.RELEASED)
    # 26,000 CNY a year: 123 lists of 210 CNY, never more, however the deciders raced
    assert released.count() == 123
    assert sum(released.values_list("quota_cents", flat=True)) == 123 * 21_000
    assert InventoryList.objects.filter(status=S.REFUSED).count() == 7
