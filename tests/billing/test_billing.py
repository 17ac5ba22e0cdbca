"""Duties and taxes: the arithmetic line by line, bills made once, paid once, overdue bills
alarmed and the guarantee closed to their enterprise."""

import datetime
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from alarms.models import Alarm
from billing import services
from billing.models import Payment, TaxBill
from declarations import assessed, two_step
from declarations.models import Declaration, GuaranteeAccount
from port.errors import InvalidInput
from tests.conftest import MEAT_ITEM, container_number, filing

WINE = {
    "line_number": 1,
    "hs_code": "2204210000",
    "description": "Wine",
    "value": "10000.00",
    "mfn_rate": "0.14",
    "preferential_rate": None,
}
BEEF = {
    "line_number": 2,
    "hs_code": "0202300090",
    "description": "Beef",
    "value": "960000.00",
    "mfn_rate": "0.12",
    "preferential_rate": "0.0000",
}
TILES = {
    "line_number": 3,
    "hs_code": "6907210000",
    "description": "Tiles",
    "value": "1.05",
    "mfn_rate": "0.05",
    "preferential_rate": None,
}


def test_each_line_is_taxed_in_cents_and_rounded_half_up():
    wine, beef, tiles = services.bill_lines([WINE, BEEF, TILES])
    # Wine: duty 14 %; consumption 10 % on (value + duty) / 0.9; VAT 13 % on all three.
    assert (wine.customs_value_cents, wine.tariff_cents) == (1_000_000, 140_000)
    assert wine.consumption_cents == 126_667  # 1,140,000 / 0.9 * 0.1 = 126,666.67
    assert wine.vat_cents == 164_667  # (1,000,000 + 140,000 + 126,667) * 0.13 = 164,666.71
    # Beef under a certificate of origin: the preferential rate (0 %) wins; VAT 9 % (food).
    assert (beef.tariff_rate, beef.preferential, beef.tariff_cents) == (Decimal(0), True, 0)
    assert (beef.consumption_cents, beef.vat_cents) == (0, 8_640_000)
    # Tiles: 105 cents * 5 % = 5.25 -> 5; VAT (105 + 5) * 13 % = 14.3 -> 14.
    assert (tiles.tariff_cents, tiles.consumption_cents, tiles.vat_cents) == (5, 0, 14)


def test_vat_is_the_rate_in_force_on_the_acceptance_date():
    """The VAT schedule is dated: 16 % / 10 % until 2019-03-31, 13 % / 9 % from 2019-04-01."""
    before = services.bill_lines([WINE, BEEF], on=datetime.date(2019, 3, 31))
    after = services.bill_lines([WINE, BEEF], on=datetime.date(2019, 4, 1))
    assert [line.vat_rate for line in before] == [Decimal("0.16"), Decimal("0.10")]
    assert [line.vat_rate for line in after] == [Decimal("0.13"), Decimal("0.09")]
    assert before[0].vat_cents == 202_667  # 1,266,667 * 0.16 = 202,666.72
    assert services.bill_lines([WINE])[0].vat_rate == Decimal("0.13")  # today


def test_a_bill_taxes_at_the_rates_of_the_day_the_declaration_was_accepted(demo, released):
    declaration = released()
    Declaration.objects.filter(pk=declaration.pk).update(
        submitted_at=timezone.make_aware(datetime.datetime(2019, 3, 20, 10))
    )
    (bill,) = services.bills_make()
    assert bill.lines.get().vat_rate == Decimal("0.10")  # frozen beef, reduced rate then


@pytest.fixture
def released(demo, api_for):
    """A released full import of frozen beef filed by the importer."""

    def make(serial: int = 1) -> Declaration:
        response = api_for(demo.importer).post(
            "/api/v1/declarations/",
            filing(
                demo.port_call.pk,
                items=[MEAT_ITEM],
                bl_number=f"COSU6{serial:09d}",
                containers=[container_number(810000 + serial)],
            ),
            format="json",
        )
        assert response.status_code == 201, response.json()
        return assessed.declaration_release(declaration_id=response.json()["id"], actor=None)

    return make


def test_a_released_import_is_billed_once_with_its_lines(demo, released):
    declaration = released()
    (bill,) = services.bills_make()
    assert services.bills_make() == []
    item = declaration.items.get()
    (line,) = bill.lines.all()
    assert line.customs_value_cents == int(item.value * 100)
    assert line.tariff_rate == item.mfn_rate
    assert bill.total_cents == bill.tariff_cents + bill.consumption_cents + bill.vat_cents > 0
    assert bill.enterprise == declaration.enterprise
    assert bill.status == TaxBill.Status.UNPAID
    assert bill.number.startswith("TB")


def _pay_in_threads(calls) -> list:
    results = []

    def run(call):
        try:
            results.append(call())
        except InvalidInput as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_payments_at_once_settle_a_bill_once(demo, released):
    released()
    (bill,) = services.bills_make()
    pay = lambda: services.bill_pay(bill_id=bill.pk, user=demo.importer, method="bank")  # noqa: E731
    results = _pay_in_threads([pay, pay, pay])
    assert sum(isinstance(r, Payment) for r in results) == 1
    assert all("paid already" in str(r.errors) for r in results if isinstance(r, InvalidInput))
    assert Payment.objects.filter(bill=bill).count() == 1
    bill.refresh_from_db()
    assert bill.status == TaxBill.Status.PAID


@pytest.mark.django_db(transaction=True)
def test_the_guarantee_is_never_overdrawn_by_bills_paid_at_once(demo, released):
    released(1)
    released(2)
    bills = services.bills_make()
    total = sum(b.total_cents for b in bills)
    one = max(b.total_cents for b in bills)
    GuaranteeAccount.objects.update_or_create(
        enterprise=demo.importer_org,
        defaults={"quota": Decimal(one) / 100 + Decimal("0.01"), "used": 0},
    )
    calls = [
        (lambda b=b: services.bill_pay(bill_id=b.pk, user=demo.importer, method="guarantee"))
        for b in bills
    ]
    results = _pay_in_threads(calls)
    assert sum(isinstance(r, Payment) for r in results) == 1
    account = GuaranteeAccount.objects.get(enterprise=demo.importer_org)
    assert account.used <= account.quota
    assert account.used * 100 < total


def test_an_overdue_bill_raises_an_alarm_once_and_closes_the_guarantee(demo, released):
    released()
    (bill,) = services.bills_make()
    TaxBill.objects.filter(pk=bill.pk).update(due_at=timezone.now() - timedelta(days=1))
    GuaranteeAccount.objects.update_or_create(
        enterprise=demo.importer_org, defaults={"quota": Decimal("1e9"), "used": 0}
    )

    assert [b.pk for b in services.bills_overdue_sweep()] == [bill.pk]
    assert services.bills_overdue_sweep() == []
    assert Alarm.objects.filter(kind="billing.overdue", dedupe_key=bill.number).count() == 1
    with pytest.raises(InvalidInput, match="overdue"):
        two_step.guarantee_draw(enterprise=demo.importer_org, amount=Decimal(1))
    with pytest.raises(InvalidInput, match="overdue"):
        services.bill_pay(bill_id=bill.pk, user=demo.importer, method="guarantee")
    payment = services.bill_pay(bill_id=bill.pk, user=demo.importer, method="bank")
    assert payment.bank_reference.startswith("SIMBANK-")
    two_step.guarantee_draw(enterprise=demo.importer_org, amount=Decimal(1))  # open again


def test_insurance_must_name_its_policy_and_cover_the_bill(demo, released):
    released()
    (bill,) = services.bills_make()
    with pytest.raises(InvalidInput) as refused:
        services.bill_pay(bill_id=bill.pk, user=demo.importer, method="insurance", cover_cents=1)
    assert set(refused.value.errors) == {"insurer", "policy_number", "cover"}
    payment = services.bill_pay(
        bill_id=bill.pk,
        user=demo.importer,
        method="insurance",
        insurer="PICC",
        policy_number="GB-2026-1",
        cover_cents=bill.total_cents,
    )
    assert (payment.insurer, payment.policy_number) == ("PICC", "GB-2026-1")


def test_bills_are_seen_and_paid_only_by_their_enterprise(demo, released, api_for, client):
    released()
    (bill,) = services.bills_make()
    assert api_for(demo.exporter).get("/api/v1/bills/").json()["results"] == []
    assert (
        api_for(demo.exporter)
        .post(f"/api/v1/bills/{bill.pk}/pay/", {"method": "bank"}, format="json")
        .status_code
        == 404
    )
    client.force_login(demo.exporter)
    assert client.get(f"/billing/{bill.pk}/").status_code == 404
    client.force_login(demo.importer)
    page = client.get(f"/billing/{bill.pk}/").content.decode()
    assert bill.number in page
    assert client.get(f"/billing/{bill.pk}/receipt.pdf").status_code == 404  # not paid yet


def test_paying_through_the_api_twice_with_one_key_pays_once(demo, released, api_for, client):
    released()
    (bill,) = services.bills_make()
    api = api_for(demo.importer)
    first = api.post(
        f"/api/v1/bills/{bill.pk}/pay/",
        {"method": "bank"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pay-1",
    )
    again = api.post(
        f"/api/v1/bills/{bill.pk}/pay/",
        {"method": "bank"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pay-1",
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["payment"]["method"] == "bank"
    assert Payment.objects.count() == 1
    bad = api.post(f"/api/v1/bills/{bill.pk}/pay/", {"method": "cash"}, format="json")
    assert bad.status_code == 400
    assert "method" in bad.json()
    client.force_login(demo.importer)
    receipt = client.get(f"/billing/{bill.pk}/receipt.pdf")
    assert receipt.status_code == 200
    assert receipt.content.startswith(b"%PDF")


def test_the_enterprise_is_told_of_its_bill(demo, released):
    from notifications import services as notification_services
    from notifications.models import Notification

    released()
    (bill,) = services.bills_make()
    notification_services.notifications_make()
    note = Notification.objects.get(recipient=demo.importer, kind="bill.issued")
    assert note.data["number"] == bill.number
    assert note.data["bill_id"] == bill.pk
