"""Every write of billing: bills made for released imports, paid once, overdue swept.

`bills_make` (beat, every minute) bills the released full import declarations that have no
bill yet, in one pass for all of them: duty, consumption tax and VAT per line in integer
cents (`bill_lines`, the arithmetic of `reference.duties`). `bill_pay` settles a bill by one of three methods under the bill's row
lock, so two payments at once settle it once. `bills_overdue_sweep` marks unpaid bills past
their due date overdue and raises an alarm for each; an enterprise with one then draws on its
guarantee no more (`queries.guarantee_blocked_reasons`).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alarms import services as alarm_services
from billing import bank, events, tariff
from billing.models import InspectionFee, Payment, TaxBill, TaxBillLine
from declarations import queries as declaration_queries
from declarations import two_step
from inspection import queries as inspection_queries
from port import live
from port.errors import InvalidInput, NotYours
from port.models import Organisation, TimelineEvent, User
from port.queries import organisation_ids_for
from port.timeline import timeline_record, timeline_record_many
from port.transitions import transition, transition_many
from reference import duties

PAYMENT_DAYS = 15  # from the bill's issue, as China's customs duty payment notices
LOOK_BACK = timedelta(days=30)


Line = duties.LineTaxes


def bill_lines(
    items: list[dict], *, exchange_rate: Decimal = Decimal(1), on: date | None = None
) -> list[Line]:
    """Each declaration line's duty, consumption tax and VAT in cents, at the rates in force
    on `on` (the declaration's acceptance date): `reference.duties.line_taxes`, the same
    arithmetic an exit from the bonded zone carries."""
    return duties.line_taxes(items, exchange_rate=exchange_rate, on=on)


@dataclass(frozen=True)
class Fee:
    inspection_id: int
    container: str
    outcome: str
    result: str
    amount_cents: int
    borne_by: str


def inspection_fees(inspections: list[dict]) -> list[Fee]:
    """Each released inspection's fee and who bears it: the government when the goods
    conformed, the enterprise when the inspection found them not conforming."""
    return [
        Fee(
            inspection_id=row["pk"],
            container=row["container"],
            outcome=row["outcome"],
            result=row["result"],
            amount_cents=tariff.inspection_fee_cents(row["outcome"]),
            borne_by=(
                InspectionFee.BorneBy.ENTERPRISE
                if row["result"] == "nonconforming"
                else InspectionFee.BorneBy.GOVERNMENT
            ),
        )
        for row in inspections
    ]


@transaction.atomic
def bills_make(*, now=None) -> list[TaxBill]:
    """Bill every released full import declaration that has none; idempotent."""
    now = now or timezone.now()
    released = declaration_queries.released_full_import_ids(since=now - LOOK_BACK)
    billed = set(
        TaxBill.objects.filter(declaration_id__in=released).values_list("declaration_id", flat=True)
    )
    made = []
    to_bill = [pk for pk in released if pk not in billed]
    fees_of: dict[int, list[Fee]] = {}
    for row in inspection_queries.finished_inspections_of(declaration_ids=to_bill):
        fees_of.setdefault(row["declaration_id"], []).extend(inspection_fees([row]))
    for declaration in declaration_queries.full_imports_with_items(declaration_ids=to_bill):
        accepted = declaration["submitted_at"]
        lines = bill_lines(
            declaration["items"], on=timezone.localdate(accepted) if accepted else None
        )
        fees = fees_of.get(declaration["pk"], [])
        charged = sum(
            f.amount_cents for f in fees if f.borne_by == InspectionFee.BorneBy.ENTERPRISE
        )
        waived = sum(f.amount_cents for f in fees if f.borne_by == InspectionFee.BorneBy.GOVERNMENT)
        try:
            with transaction.atomic():  # a concurrent run billed it first: skip
                bill = TaxBill.objects.create(
                    declaration_id=declaration["pk"],
                    enterprise_id=declaration["enterprise_id"],
                    number=f"TMP-{declaration['pk']}",
                    exchange_rate=Decimal(1),
                    tariff_cents=sum(line.tariff_cents for line in lines),
                    consumption_cents=sum(line.consumption_cents for line in lines),
                    vat_cents=sum(line.vat_cents for line in lines),
                    fees_cents=charged,
                    fees_waived_cents=waived,
                    total_cents=sum(
                        line.tariff_cents + line.consumption_cents + line.vat_cents
                        for line in lines
                    )
                    + charged,
                    due_at=now + timedelta(days=PAYMENT_DAYS),
                )
        except IntegrityError:
            continue
        bill.number = f"TB{now:%Y}{bill.pk:09d}"
        bill.save(update_fields=["number"])
        TaxBillLine.objects.bulk_create([TaxBillLine(bill=bill, **vars(line)) for line in lines])
        InspectionFee.objects.bulk_create([InspectionFee(bill=bill, **vars(fee)) for fee in fees])
        made.append(bill)
    timeline_record_many(
        subjects=made,
        kind=TimelineEvent.Kind.BILL_ISSUED,
        actor=None,
        organisation_id_for=lambda b: b.enterprise_id,
        data_for=lambda b: {
            "number": b.number,
            "total_cents": b.total_cents,
            "fees_cents": b.fees_cents,
            "fees_waived_cents": b.fees_waived_cents,
            "due": b.due_at.isoformat(),
        },
    )
    for enterprise_id in {bill.enterprise_id for bill in made}:
        live.publish_on_commit(
            groups=[live.organisation_group(enterprise_id)], event=events.bills_changed()
        )
    return made


def bill_pay(
    *,
    bill_id: int,
    user: User,
    method: str,
    insurer: str = "",
    policy_number: str = "",
    cover_cents: int | None = None,
) -> Payment:
    """Settle a bill once: by the (simulated) bank, by drawing on the guarantee, or under
    a duty guarantee insurance policy covering it. Raises NotYours, InvalidInput."""
    if method not in Payment.Method.values:
        raise InvalidInput({"method": [_("Choose how to pay.")]})
    with transaction.atomic():
        bill = (
            TaxBill.objects.select_for_update()
            .filter(pk=bill_id, enterprise_id__in=organisation_ids_for(user))
            .first()
        )
        if bill is None:
            raise NotYours()
        if bill.status == TaxBill.Status.PAID:
            raise InvalidInput({"bill": [_("This bill is paid already.")]})
        details = _settle(
            bill,
            user=user,
            method=method,
            insurer=insurer,
            policy_number=policy_number,
            cover_cents=cover_cents,
        )
        bill.paid_at = timezone.now()
        transition(bill, TaxBill.Status.PAID, extra_fields=["paid_at"])
        payment = Payment.objects.create(
            bill=bill,
            method=method,
            amount_cents=bill.total_cents,
            receipt_number=f"R{bill.number[2:]}",
            paid_by=user,
            **details,
        )
        timeline_record(
            subject=bill,
            kind=TimelineEvent.Kind.BILL_PAID,
            actor=user,
            organisation=bill.enterprise,
            data={"number": bill.number, "method": method, "amount_cents": bill.total_cents},
        )
        live.publish_on_commit(
            groups=[live.organisation_group(bill.enterprise_id)], event=events.bills_changed()
        )
    return payment


def _settle(
    bill: TaxBill, *, user: User, method: str, insurer: str, policy_number: str, cover_cents
) -> dict:
    if method == Payment.Method.BANK:
        try:
            reference = bank.backend().charge(
                payer=str(bill.enterprise_id), amount_cents=bill.total_cents, reference=bill.number
            )
        except bank.PaymentRefused as refused:
            raise InvalidInput(
                {"method": [_("The bank refused the payment: %(why)s") % {"why": refused}]}
            ) from None
        return {"bank_reference": reference}
    if method == Payment.Method.GUARANTEE:
        enterprise = Organisation.objects.get(pk=bill.enterprise_id)
        two_step.guarantee_draw(enterprise=enterprise, amount=Decimal(bill.total_cents) / 100)
        return {}
    errors = {}
    if not insurer.strip():
        errors["insurer"] = [_("Name the insurer.")]
    if not policy_number.strip():
        errors["policy_number"] = [_("Give the policy number.")]
    if cover_cents is None or cover_cents < bill.total_cents:
        errors["cover"] = [_("The policy must cover the whole bill.")]
    if errors:
        raise InvalidInput(errors)
    return {"insurer": insurer.strip()[:120], "policy_number": policy_number.strip()[:40]}


@transaction.atomic
def bills_overdue_sweep(*, now=None) -> list[TaxBill]:
    """Unpaid bills past their due date become overdue, each with an alarm; idempotent."""
    now = now or timezone.now()
    overdue = list(
        # Only the bills locked: a declaration may have no port call (an e-commerce summary).
        TaxBill.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=TaxBill.Status.UNPAID, due_at__lt=now)
        .select_related("declaration__port_call")
    )
    if not overdue:
        return []
    transition_many(overdue, TaxBill.Status.OVERDUE)
    timeline_record_many(
        subjects=overdue,
        kind=TimelineEvent.Kind.BILL_OVERDUE,
        actor=None,
        organisation_id_for=lambda b: b.enterprise_id,
        data_for=lambda b: {"number": b.number, "total_cents": b.total_cents},
    )
    offices = _port_offices()
    alarm_services.alarm_raise_many(
        specs=[
            alarm_services.AlarmSpec(
                kind="billing.overdue",
                severity="warning",
                customs_office_id=offices[bill.declaration.port_call.port_id],
                dedupe_key=bill.number,
                message=_("Tax bill %(number)s (%(amount)s CNY) is unpaid past its due date.")
                % {"number": bill.number, "amount": f"{bill.total_cents / 100:,.2f}"},
                subject=bill.number,
            )
            for bill in overdue
            if bill.declaration.port_call.port_id in offices
        ]
    )
    for enterprise_id in {b.enterprise_id for b in overdue}:
        live.publish_on_commit(
            groups=[live.organisation_group(enterprise_id)], event=events.bills_changed()
        )
    return overdue


def _port_offices() -> dict[int, int]:
    offices: dict[int, int] = {}
    for port, office in (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE, port__isnull=False)
        .order_by("pk")
        .values_list("port_id", "pk")
    ):
        offices.setdefault(port, office)
    return offices
