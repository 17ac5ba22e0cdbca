"""The month's comprehensive tax of each e-commerce enterprise (跨境电商综合税, 汇总缴纳).

A retail import's tax is paid between the 31st and the 45th day after release, once the
buyer can no longer return the parcel; customs collects it monthly per enterprise. So a
month is issued (`tax_months_issue`, nightly) once its last lists' 30 days have passed,
one `TaxMonth` per enterprise with what its lists released in that month owe, and is due
45 days after the month's end. The enterprise pays online through the bank adapter
(`tax_month_pay`), or an officer records a payment received otherwise
(`tax_month_record_paid`); either gives back what the month's lists drew from the
guarantee. A month not paid when due is overdue (`tax_months_overdue_sweep`), and an
overdue month stops the enterprise drawing on its guarantee (`overdue_reasons`, one of
declarations' GUARANTEE_BLOCKERS): its new lists are refused until it pays.
"""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import bank
from declarations.two_step import guarantee_give_back
from ecommerce import events, queries
from ecommerce.db import bulk_cursor
from ecommerce.models import InventoryList, TaxMonth
from ecommerce.services import RETURN_DAYS  # a month is issued once no list can come back
from port import live
from port.errors import InvalidInput, NotYours
from port.models import Organisation, TimelineEvent, User
from port.queries import organisation_ids_for
from port.timeline import timeline_record
from port.transitions import transition

DUE_DAYS = 45  # after the month's end
CATCH_UP_MONTHS = 3  # months issued late if the nightly run was missed
TAXED = (InventoryList.Status.RELEASED, InventoryList.Status.SELECTED, InventoryList.Status.HELD)


def _month_start(day: date, back: int = 0) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 - back
    return index // 12, index % 12 + 1


def tax_months_issue(*, now: datetime | None = None) -> int:
    """Issue the months whose return window has closed (the last CATCH_UP_MONTHS of them),
    one row per enterprise with taxed lists, each month once: one INSERT … SELECT … GROUP BY
    per month, ON CONFLICT DO NOTHING. Returns the rows issued."""
    now = now or timezone.now()
    latest = _month_start(timezone.localdate(now - timedelta(days=RETURN_DAYS)), back=1)
    issued = 0
    table = InventoryList._meta.db_table
    for back in range(CATCH_UP_MONTHS):
        year, month = _month_start(date(latest[0], latest[1], 1), back=back)
        start, end = queries.month_bounds(year, month)
        with bulk_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TaxMonth._meta.db_table} (enterprise_id, month, lists, "  # noqa: S608
                "vat_cents, consumption_cents, total_cents, guarantee_cents, status, "
                "issued_at, due_at, bank_reference, created_at, updated_at) "
                "SELECT enterprise_id, %s, count(*), sum(vat_cents), sum(consumption_cents), "
                "sum(vat_cents) + sum(consumption_cents), sum(guarantee_cents), %s, %s, %s, '', "
                "%s, %s "
                f"FROM {table} WHERE decided_at >= %s AND decided_at < %s "
                "AND status = ANY(%s::text[]) AND vat_cents + consumption_cents > 0 "
                "GROUP BY enterprise_id ON CONFLICT (enterprise_id, month) DO NOTHING",
                [
                    start.date(),
                    TaxMonth.Status.DUE,
                    now,
                    end + timedelta(days=DUE_DAYS),
                    now,
                    now,
                    start,
                    end,
                    list(TAXED),
                ],
            )
            issued += cursor.rowcount
    return issued


def tax_month_pay(*, tax_month_id: int, user: User) -> TaxMonth:
    """The enterprise pays a month online through the bank adapter; the month's draw on the
    guarantee goes back to it. Raises NotYours (not the enterprise's), InvalidInput (paid
    already, or the bank refused)."""
    with transaction.atomic():
        tax_month = _locked(tax_month_id, enterprises=organisation_ids_for(user))
        try:
            reference = bank.backend().charge(
                payer=str(tax_month.enterprise_id),
                amount_cents=tax_month.total_cents,
                reference=f"EC{tax_month.month:%Y%m}-{tax_month.enterprise_id}",
            )
        except bank.PaymentRefused as refused:
            raise InvalidInput(
                {"month": [_("The bank refused the payment: %(why)s") % {"why": refused}]}
            ) from None
        return _paid(tax_month, user=user, reference=reference)


def tax_month_record_paid(*, tax_month_id: int, officer: User, reference: str) -> TaxMonth:
    """An officer records that a month was paid otherwise (a bank transfer's reference).
    Raises NotYours (not customs), InvalidInput (no reference, or paid already)."""
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers record a paid e-commerce tax bill."))
    reference = reference.strip()
    if not reference:
        raise InvalidInput({"reference": [_("Give the payment's reference.")]})
    with transaction.atomic():
        tax_month = _locked(tax_month_id, enterprises=None)
        return _paid(tax_month, user=officer, reference=reference[:40])


@transaction.atomic
def month_settle(*, officer: User, enterprise_id: int, year: int, month: int) -> int:
    """Customs records that the enterprise paid a past month (`POST tax-bill/settle/`): the
    tax its lists of that month drew from the guarantee goes back to it, and the month's
    `TaxMonth`, if issued, is paid. Returns the cents restored. Raises NotYours (not
    customs), InvalidInput (no such enterprise, or the month is not over)."""
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers record a paid e-commerce tax bill."))
    enterprise = Organisation.objects.filter(pk=enterprise_id).first()
    if enterprise is None:
        raise InvalidInput({"enterprise": [_("No such organisation.")]})
    start, end = queries.month_bounds(year, month)
    if end > timezone.now():
        raise InvalidInput({"month": [_("A month is settled once it is over.")]})
    issued = (
        TaxMonth.objects.select_for_update()
        .filter(enterprise_id=enterprise_id, month=start.date())
        .exclude(status=TaxMonth.Status.PAID)
        .first()
    )
    if issued is not None:
        before = issued.guarantee_cents
        _paid(issued, user=officer, reference=_("recorded by customs"))
        return before
    lists, cents = guarantee_release_month(enterprise_id=enterprise_id, year=year, month=month)
    timeline_record(
        subject=enterprise,
        kind=TimelineEvent.Kind.DECLARATION_GUARANTEE_RESTORED,
        actor=officer,
        organisation=enterprise,
        data={"month": f"{year}-{month:02d}", "lists": lists, "amount": f"{cents / 100:.2f}"},
    )
    return cents


def _locked(tax_month_id: int, *, enterprises) -> TaxMonth:
    months = TaxMonth.objects.select_for_update().filter(pk=tax_month_id)
    if enterprises is not None:
        months = months.filter(enterprise_id__in=enterprises)
    tax_month = months.first()
    if tax_month is None:
        raise NotYours
    if tax_month.status == TaxMonth.Status.PAID:
        raise InvalidInput({"month": [_("This month is paid already.")]})
    return tax_month


def _paid(tax_month: TaxMonth, *, user: User, reference: str) -> TaxMonth:
    year, month = tax_month.month.year, tax_month.month.month
    _lists, cents = guarantee_release_month(
        enterprise_id=tax_month.enterprise_id, year=year, month=month
    )
    tax_month.paid_at, tax_month.paid_by, tax_month.bank_reference = timezone.now(), user, reference
    transition(
        tax_month, TaxMonth.Status.PAID, extra_fields=["paid_at", "paid_by", "bank_reference"]
    )
    timeline_record(
        subject=tax_month,
        kind=TimelineEvent.Kind.DECLARATION_GUARANTEE_RESTORED,
        actor=user,
        organisation=Organisation.objects.get(pk=tax_month.enterprise_id),
        data={
            "month": f"{year}-{month:02d}",
            "paid": f"{tax_month.total_cents / 100:.2f}",
            "amount": f"{cents / 100:.2f}",
            "reference": reference,
        },
    )
    live.publish_on_commit(
        groups=[live.organisation_group(tax_month.enterprise_id)], event=events.tax_months_changed()
    )
    return tax_month


def guarantee_release_month(*, enterprise_id: int, year: int, month: int) -> tuple[int, int]:
    """What the enterprise's lists of the month drew from the guarantee goes back to it:
    one UPDATE … RETURNING zeroes the lists' draw (locking them, so a concurrent return
    gives back nothing twice), one UPDATE restores the sum. Returns (lists, cents)."""
    start, end = queries.month_bounds(year, month)
    table = InventoryList._meta.db_table
    with bulk_cursor() as cursor:
        cursor.execute(
            f"WITH s AS (UPDATE {table} l "  # noqa: S608
            "SET guarantee_cents = 0, updated_at = %s FROM "
            f"(SELECT id, guarantee_cents FROM {table} "  # noqa: S608
            "WHERE enterprise_id = %s AND decided_at >= %s AND decided_at < %s "
            "AND guarantee_cents > 0 FOR UPDATE) o WHERE l.id = o.id "
            "RETURNING o.guarantee_cents) SELECT count(*), coalesce(sum(guarantee_cents), 0) FROM s",
            [timezone.now(), enterprise_id, start, end],
        )
        lists, cents = cursor.fetchone()
    if cents:
        guarantee_give_back(enterprise_id=enterprise_id, cents=cents)
    return lists, cents


@transaction.atomic
def tax_months_overdue_sweep(*, now: datetime | None = None) -> int:
    """Months due and not paid by their date become overdue (locked, each through
    `transition`: a handful a night, one per enterprise and month); each enterprise hears
    of it. Returns how many."""
    now = now or timezone.now()
    overdue = list(
        TaxMonth.objects.filter(status=TaxMonth.Status.DUE, due_at__lt=now).select_for_update()
    )
    for tax_month in overdue:
        transition(tax_month, TaxMonth.Status.OVERDUE)
    for enterprise_id in {m.enterprise_id for m in overdue}:
        live.publish_on_commit(
            groups=[live.organisation_group(enterprise_id)], event=events.tax_months_changed()
        )
    return len(overdue)


def overdue_reasons(enterprise_ids: list[int]) -> dict[int, str]:
    """{enterprise id: why} for those of these enterprises with an overdue tax month: they
    may not draw on their guarantee (declarations.two_step.GUARANTEE_BLOCKERS)."""
    overdue = (
        TaxMonth.objects.filter(enterprise_id__any=enterprise_ids, status=TaxMonth.Status.OVERDUE)
        .order_by("enterprise_id", "month")
        .distinct("enterprise_id")
        .values_list("enterprise_id", "month")
    )
    return {
        enterprise_id: _(
            "The e-commerce tax of %(month)s is overdue: pay it before drawing on the "
            "guarantee again."
        )
        % {"month": f"{month:%Y-%m}"}
        for enterprise_id, month in overdue
    }
