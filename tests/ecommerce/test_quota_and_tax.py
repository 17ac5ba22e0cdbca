from datetime import timedelta

import pytest
from django.utils import timezone

from ecommerce import queries, quota, services
from ecommerce.models import BuyerQuota, InventoryList
from port.errors import InvalidInput, NotYours
from tests.ecommerce import factories
from tests.ecommerce.conftest import decide_each_in_its_own_request, file_parcels
from tests.ecommerce.factories import exported, parcel

S = InventoryList.Status


@pytest.mark.slow
def test_a_buyer_is_never_over_the_annual_limit_under_concurrent_requests(transactional_db):
    # given: ten parcels of 4,810 CNY for one buyer, their documents in; five fit in 26,000
    ec = factories.world()
    parcels = [parcel(500 + i, buyer=77, unit_price="2400.00", quantity=2) for i in range(10)]
    file_parcels(ec, parcels, kinds=("order", "payment", "waybill"))
    outcomes = decide_each_in_its_own_request(ec, parcels)
    # then
    # (a task may decide lists of batches queued behind it: each list is decided once)
    assert sum(outcomes) == 10
    released = InventoryList.objects.filter(status=S.RELEASED)
    assert released.count() == 5
    assert InventoryList.objects.filter(reason="over_annual_limit").count() == 5
    used = BuyerQuota.objects.get().used_cents
    assert used == 5 * 481000 == sum(released.values_list("quota_cents", flat=True))
    assert used <= quota.ANNUAL_LIMIT_CENTS


def test_the_months_bill_sums_the_tax_of_the_enterprises_lists(ec):
    file_parcels(ec, [parcel(1), parcel(2, hs_code="1901100000", unit_price="300.00", quantity=1)])
    now = timezone.now()
    bill = queries.tax_bill(enterprise_id=ec.enterprise.pk, year=now.year, month=now.month)
    # cosmetics as in test_decision (2594 + 2248); milk powder: 310.00 * 13 % * 70 % = 28.21
    assert bill == {
        "lists": 2,
        "vat_cents": 2248 + 2821,
        "consumption_cents": 2594,
        "total_cents": 2248 + 2821 + 2594,
        "guarantee_drawn_cents": 0,
        "guarantee_available_cents": None,
        "covered_by_guarantee": False,
    }
    other_month = queries.tax_bill(
        enterprise_id=ec.enterprise.pk, year=now.year - 1, month=now.month
    )
    assert other_month["total_cents"] == 0


def test_a_return_within_30_days_gives_the_quota_and_the_tax_back(
    ec, django_capture_on_commit_callbacks
):
    file_parcels(ec, [parcel(1)])
    listed = InventoryList.objects.get()
    assert BuyerQuota.objects.get().used_cents == 21000
    with django_capture_on_commit_callbacks() as callbacks:
        services.list_return(list_id=listed.pk, user=ec.alice)
    listed.refresh_from_db()
    assert (listed.status, listed.vat_cents, listed.consumption_cents) == (S.REFUNDED, 0, 0)
    assert BuyerQuota.objects.get().used_cents == 0
    assert len(callbacks) == 1  # one live push
    now = timezone.now()
    assert (
        queries.tax_bill(enterprise_id=ec.enterprise.pk, year=now.year, month=now.month)["lists"]
        == 0
    )


def test_a_return_after_30_days_or_by_another_enterprise_changes_nothing(ec):
    file_parcels(ec, [parcel(1)])
    listed = InventoryList.objects.get()
    with pytest.raises(NotYours):
        services.list_return(list_id=listed.pk, user=ec.bob)
    InventoryList.objects.filter(pk=listed.pk).update(
        decided_at=timezone.now() - timedelta(days=31)
    )
    with pytest.raises(InvalidInput):
        services.list_return(list_id=listed.pk, user=ec.alice)
    listed.refresh_from_db()
    assert (listed.status, listed.quota_cents) == (S.RELEASED, 21000)
    assert BuyerQuota.objects.get().used_cents == 21000


def test_the_bill_says_whether_the_guarantee_covers_it(ec):
    from decimal import Decimal

    from declarations.two_step import guarantee_account_set

    file_parcels(ec, [parcel(1)])
    now = timezone.now()
    assert (
        queries.tax_bill(enterprise_id=ec.enterprise.pk, year=now.year, month=now.month)[
            "covered_by_guarantee"
        ]
        is False
    )  # no guarantee at all
    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal("40.00"))
    bill = queries.tax_bill(enterprise_id=ec.enterprise.pk, year=now.year, month=now.month)
    assert (bill["guarantee_available_cents"], bill["covered_by_guarantee"]) == (4000, False)
    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal("50.00"))
    bill = queries.tax_bill(enterprise_id=ec.enterprise.pk, year=now.year, month=now.month)
    assert bill["covered_by_guarantee"] is True  # 48.42 due


def test_export_lists_are_summed_per_month_mode_and_heading(ec, api_for):
    exports = [
        exported(parcel(60 + i, quantity=1 + i), "9810" if i == 2 else "9610") for i in range(3)
    ]
    file_parcels(ec, exports, kinds=("order", "waybill", "list"))
    now = timezone.now()
    response = api_for(ec.alice).get(f"/api/v1/ecommerce/export-summary/?month={now:%Y-%m}")
    assert response.json()["lines"] == [
        {"trade_mode": "9610", "heading": "3304", "lists": 2, "units": 3, "value_cents": 30000},
        {"trade_mode": "9810", "heading": "3304", "lists": 1, "units": 3, "value_cents": 30000},
    ]
    assert (
        api_for(ec.platform_user).get("/api/v1/ecommerce/export-summary/?month=2026-13").status_code
        == 404
    )
    assert (
        api_for(ec.alice).get("/api/v1/ecommerce/export-summary/?month=2026-13").status_code == 400
    )
