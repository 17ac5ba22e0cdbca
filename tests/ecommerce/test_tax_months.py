"""The e-commerce tax collected by month (ecommerce/tax_months.py): issued once per
enterprise and month after the return window, paid online or recorded by an officer (the
guarantee drawn for it given back), overdue past its date, and an overdue month stops the
enterprise's lists drawing on the guarantee."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from declarations.models import GuaranteeAccount
from declarations.two_step import guarantee_account_set
from ecommerce import tax_months
from ecommerce.models import InventoryList, TaxMonth
from port.errors import InvalidInput, NotYours
from tests.ecommerce.conftest import file_parcels
from tests.ecommerce.factories import parcel

S = InventoryList.Status
TAX = 2594 + 2248  # cents of parcel(n)'s comprehensive tax (test_decision)


def _lists_of_a_closed_month(ec, numbers) -> tuple[object, object]:
    """Lists released and drawn from the guarantee, moved back into a month whose return
    window has closed; returns (now, that month's first day)."""
    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal("1000.00"))
    file_parcels(ec, [parcel(n) for n in numbers])
    now = timezone.now()
    first = (timezone.localdate(now).replace(day=1) - timedelta(days=40)).replace(day=1)
    decided = timezone.make_aware(timezone.datetime(first.year, first.month, 10, 12))
    InventoryList.objects.update(decided_at=decided)
    return now, first


def test_a_closed_month_is_issued_once_per_enterprise_with_what_its_lists_owe(ec):
    now, first = _lists_of_a_closed_month(ec, [1, 2])
    # when: the nightly run, twice
    assert tax_months.tax_months_issue(now=now) == 1
    assert tax_months.tax_months_issue(now=now) == 0
    # then
    month = TaxMonth.objects.get()
    assert (month.enterprise, month.month, month.lists) == (ec.enterprise, first, 2)
    assert (month.total_cents, month.guarantee_cents) == (2 * TAX, 2 * TAX)
    assert month.vat_cents + month.consumption_cents == month.total_cents
    assert month.status == TaxMonth.Status.DUE
    month_end = timezone.make_aware(
        timezone.datetime(first.year + first.month // 12, first.month % 12 + 1, 1)
    )
    assert month.due_at == month_end + timedelta(days=tax_months.DUE_DAYS)


def test_this_month_and_a_month_still_open_to_returns_are_not_issued(ec):
    guarantee_account_set(enterprise=ec.enterprise, quota=Decimal("1000.00"))
    file_parcels(ec, [parcel(1)])
    InventoryList.objects.update(decided_at=timezone.now() - timedelta(days=2))
    assert tax_months.tax_months_issue() == 0
    assert not TaxMonth.objects.exists()


def test_the_enterprise_pays_online_and_the_guarantee_comes_back_once(ec):
    now, _first = _lists_of_a_closed_month(ec, [1, 2])
    tax_months.tax_months_issue(now=now)
    month = TaxMonth.objects.get()
    assert GuaranteeAccount.objects.get().used == Decimal(2 * TAX) / 100
    # nobody else pays it
    for stranger in (ec.alice, ec.charlie):
        with pytest.raises(NotYours):
            tax_months.tax_month_pay(tax_month_id=month.pk, user=stranger)
    # when
    paid = tax_months.tax_month_pay(tax_month_id=month.pk, user=ec.enterprise_user)
    # then
    assert paid.status == TaxMonth.Status.PAID
    assert paid.bank_reference.startswith("SIMBANK-")
    assert GuaranteeAccount.objects.get().used == 0
    assert set(InventoryList.objects.values_list("guarantee_cents", flat=True)) == {0}
    with pytest.raises(InvalidInput):
        tax_months.tax_month_pay(tax_month_id=month.pk, user=ec.enterprise_user)


def test_an_officer_records_a_payment_with_its_reference(ec):
    now, _first = _lists_of_a_closed_month(ec, [1])
    tax_months.tax_months_issue(now=now)
    month = TaxMonth.objects.get()
    with pytest.raises(NotYours):
        tax_months.tax_month_record_paid(
            tax_month_id=month.pk, officer=ec.enterprise_user, reference="X"
        )
    with pytest.raises(InvalidInput) as refused:
        tax_months.tax_month_record_paid(tax_month_id=month.pk, officer=ec.officer, reference=" ")
    assert "reference" in refused.value.errors
    paid = tax_months.tax_month_record_paid(
        tax_month_id=month.pk, officer=ec.officer, reference="BOC-2026-0042"
    )
    assert (paid.status, paid.bank_reference, paid.paid_by) == (
        TaxMonth.Status.PAID,
        "BOC-2026-0042",
        ec.officer,
    )
    assert GuaranteeAccount.objects.get().used == 0


def test_an_overdue_month_stops_the_enterprises_new_lists_drawing_on_the_guarantee(ec):
    now, _first = _lists_of_a_closed_month(ec, [1])
    tax_months.tax_months_issue(now=now)
    month = TaxMonth.objects.get()
    # when: past its due date
    assert tax_months.tax_months_overdue_sweep(now=month.due_at + timedelta(seconds=1)) == 1
    assert tax_months.tax_months_overdue_sweep(now=month.due_at + timedelta(days=1)) == 0
    # then: a new list of the enterprise is refused, naming the guarantee, quota given back
    file_parcels(ec, [parcel(5)])
    new = InventoryList.objects.get(list_no=parcel(5)["list"]["list_no"])
    assert (new.status, new.reason, new.reason_field) == (
        S.REFUSED,
        "guarantee_blocked",
        "guarantee",
    )
    assert (new.guarantee_cents, new.quota_cents) == (0, 0)
    reasons = tax_months.overdue_reasons([ec.enterprise.pk, ec.platform.pk])
    assert list(reasons) == [ec.enterprise.pk]
    # and once paid, lists draw again
    tax_months.tax_month_pay(tax_month_id=month.pk, user=ec.enterprise_user)
    file_parcels(ec, [parcel(6)])
    again = InventoryList.objects.get(list_no=parcel(6)["list"]["list_no"])
    assert (again.status, again.guarantee_cents) == (S.RELEASED, TAX)


def test_the_tax_page_shows_each_enterprise_its_own_and_officers_all(ec, client):
    now, _first = _lists_of_a_closed_month(ec, [1])
    tax_months.tax_months_issue(now=now)
    month = TaxMonth.objects.get()
    client.force_login(ec.enterprise_user)
    page = client.get("/ecommerce/tax/")
    assert page.status_code == 200
    assert f'data-tax-month="{month.pk}"' in page.content.decode()
    assert "data-running" in page.content.decode()  # this month so far
    # another enterprise's member, or a declarant, sees no months, or no page
    client.force_login(ec.alice)
    assert client.get("/ecommerce/tax/").status_code == 404
    client.force_login(ec.charlie)
    assert client.get("/ecommerce/tax/").status_code == 404
    # and cannot pay it by posting its id
    assert client.post("/ecommerce/tax/", {"month": month.pk}).status_code == 404
    # the officer sees it, filters, and records a payment
    client.force_login(ec.officer)
    listed = client.get("/ecommerce/tax/?status=due").content.decode()
    assert ec.enterprise.name in listed
    assert (
        f'data-tax-month="{month.pk}"'
        not in client.get("/ecommerce/tax/?status=paid").content.decode()
    )
    done = client.post(
        "/ecommerce/tax/", {"month": month.pk, "action": "record", "reference": "T1"}
    )
    assert done.status_code == 302
    month.refresh_from_db()
    assert month.status == TaxMonth.Status.PAID
    # the enterprise pays online from the page
    client.force_login(ec.enterprise_user)
    assert client.post("/ecommerce/tax/", {"month": month.pk}).status_code == 302  # paid: a message


def test_settling_through_the_api_pays_an_issued_month(ec, api_for):
    now, first = _lists_of_a_closed_month(ec, [1, 2])
    tax_months.tax_months_issue(now=now)
    url = "/api/v1/ecommerce/tax-bill/settle/"
    body = {"enterprise": ec.enterprise.pk, "month": f"{first:%Y-%m}"}
    assert api_for(ec.officer).post(url, body, format="json").json() == {
        "restored": f"{2 * TAX / 100:.2f}"
    }
    assert TaxMonth.objects.get().status == TaxMonth.Status.PAID
    assert GuaranteeAccount.objects.get().used == 0
