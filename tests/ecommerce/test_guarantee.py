"""The month's tax drawn per set from the e-commerce enterprise's guarantee (declarations'
account): never overdrawn, given back by returns."""

from decimal import Decimal

import pytest

from declarations.models import GuaranteeAccount
from declarations.two_step import guarantee_account_set
from ecommerce import services
from ecommerce.models import BuyerQuota, InventoryList
from tests.ecommerce import factories
from tests.ecommerce.conftest import decide_each_in_its_own_request, file_parcels
from tests.ecommerce.factories import parcel

S = InventoryList.Status
TAX = 2594 + 2248  # cents of parcel(n)'s comprehensive tax (test_decision)


def test_released_lists_draw_their_tax_and_one_the_guarantee_cannot_cover_is_refused(ec):
    # given: a guarantee covering two lists' tax, not three
    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal("100.00"))
    # when
    file_parcels(ec, [parcel(1), parcel(2), parcel(3)])
    # then
    lists = {x.list_no: x for x in InventoryList.objects.all()}
    released = [x for x in lists.values() if x.status == S.RELEASED]
    assert [x.guarantee_cents for x in released] == [TAX, TAX]
    (refused,) = [x for x in lists.values() if x.status == S.REFUSED]
    assert (refused.reason, refused.reason_field) == ("over_guarantee", "guarantee")
    assert (refused.vat_cents, refused.quota_cents, refused.guarantee_cents) == (0, 0, 0)
    assert GuaranteeAccount.objects.get().used == Decimal(2 * TAX) / 100
    # the refused list gave its buyer's quota back
    assert sum(BuyerQuota.objects.values_list("used_cents", flat=True)) == 2 * 21000


def test_a_return_gives_the_tax_back_to_the_guarantee(ec):
    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal("100.00"))
    file_parcels(ec, [parcel(1)])
    listed = InventoryList.objects.get()
    assert GuaranteeAccount.objects.get().used == Decimal(TAX) / 100
    services.list_return(list_id=listed.pk, user=ec.alice)
    listed.refresh_from_db()
    assert (listed.status, listed.guarantee_cents) == (S.REFUNDED, 0)
    assert GuaranteeAccount.objects.get().used == 0


def test_an_enterprise_without_a_guarantee_account_draws_nothing(ec):
    file_parcels(ec, [parcel(1)])
    listed = InventoryList.objects.get()
    assert (listed.status, listed.guarantee_cents) == (S.RELEASED, 0)


@pytest.mark.slow
def test_the_guarantee_is_never_overdrawn_under_concurrent_requests(transactional_db):
    # given: ten lists of different buyers; the guarantee covers five lists' tax
    ec = factories.world()
    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal(5 * TAX) / 100)
    parcels = [parcel(700 + i, buyer=100 + i) for i in range(10)]
    file_parcels(ec, parcels, kinds=("order", "payment", "waybill"))
    outcomes = decide_each_in_its_own_request(ec, parcels)
    # then
    assert sum(outcomes) == 10
    released = InventoryList.objects.filter(status=S.RELEASED)
    assert released.count() == 5
    assert InventoryList.objects.filter(reason="over_guarantee").count() == 5
    account = GuaranteeAccount.objects.get()
    assert account.used == account.quota == Decimal(5 * TAX) / 100
    assert sum(released.values_list("guarantee_cents", flat=True)) == 5 * TAX


def test_paying_a_past_months_bill_restores_the_guarantee_once(ec, api_for):
    from datetime import timedelta

    from django.utils import timezone

    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal("100.00"))
    file_parcels(ec, [parcel(1), parcel(2)])
    last_month = timezone.now().replace(day=1) - timedelta(days=3)
    InventoryList.objects.update(decided_at=last_month)
    month = f"{last_month:%Y-%m}"
    url = "/api/v1/ecommerce/tax-bill/settle/"
    body = {"enterprise": ec.enterprise.pk, "month": month}
    # only customs records a payment; bad input is named by field
    assert api_for(ec.alice).post(url, body, format="json").status_code == 403
    this_month = {"enterprise": ec.enterprise.pk, "month": f"{timezone.now():%Y-%m}"}
    bad = api_for(ec.officer).post(url, this_month, format="json")
    assert bad.status_code == 400
    assert "month" in bad.json()
    bad = api_for(ec.officer).post(url, {"enterprise": "x", "month": month}, format="json")
    assert bad.status_code == 400
    assert "enterprise" in bad.json()
    # when
    response = api_for(ec.officer).post(url, body, format="json")
    # then
    assert response.json() == {"restored": f"{2 * TAX / 100:.2f}"}
    assert GuaranteeAccount.objects.get().used == 0
    assert set(InventoryList.objects.values_list("guarantee_cents", flat=True)) == {0}
    # a second payment, or a later return, gives nothing back twice
    assert api_for(ec.officer).post(url, body, format="json").json() == {"restored": "0.00"}
    InventoryList.objects.update(decided_at=timezone.now())
    services.list_return(list_id=InventoryList.objects.first().pk, user=ec.alice)
    assert GuaranteeAccount.objects.get().used == 0
