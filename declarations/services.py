"""Every write to declarations, and every status change.

All four ways in (the browser, the API, ERP files and EDIFACT CUSDEC) call
`declaration_file`; each status transition is one function here that locks the row,
checks Declaration.TRANSITIONS, saves, and records a timeline event (who, when, from, to,
reason).
"""

from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from certificates import queries as certificate_queries
from declarations import events, reference
from declarations.models import (
    Declaration,
    DeclarationContainer,
    DeclarationItem,
    GuaranteeAccount,
)
from declarations.tasks import declaration_assess_task
from inspection import services as inspection_services
from port import identifiers, limits, live
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Container, Organisation, PortCall, TimelineEvent, User
from port.queries import enterprises_filable_by, organisation_ids_for
from port.sweep import requeue
from port.timeline import timeline_record, timeline_record_many
from port.transitions import transition, transition_many

CENT = Decimal("0.01")
MAX_PACKAGES = 99_999_999
# Step 2 (the full declaration) is due this long after the summary's release.
STEP2_DEADLINE = timedelta(days=14)
# Reminders go out when this much time is left before the step 2 deadline.
STEP2_REMINDERS = (timedelta(days=7), timedelta(days=3), timedelta(days=1))
# Credit ratings that may use two-step declaration; certified (AEO) needs no guarantee.
TWO_STEP_RATINGS = (Organisation.CreditRating.CERTIFIED, Organisation.CreditRating.GENERAL)


@dataclass(frozen=True)
class ItemInput:
    hs_code: str
    description: str
    quantity: Decimal | str
    value: Decimal | str
    origin_country: str
    unit: str = DeclarationItem.Unit.KG
    unit_price: Decimal | str | None = ""
    cas_number: str = ""
    certificate_number: str = ""


@dataclass(frozen=True)
class HeaderInput:
    """Header fields beyond the consignment itself; blank ones are left blank."""

    trade_mode: str = Declaration.TradeMode.GENERAL
    port_of_loading: str = ""
    port_of_discharge: str = ""
    trading_country: str = ""
    currency: str = "CNY"
    incoterm: str = ""
    invoice_total: Decimal | str | None = ""
    packages: int | str | None = ""
    gross_weight: Decimal | str | None = ""
    net_weight: Decimal | str | None = ""
    is_advance: bool = False
    direct_delivery: bool = False
    permits_involved: bool = False
    quarantine_involved: bool = False


# The header's field names, in order: what the form, the API and the ERP upload carry over.
HEADER_NAMES = [f.name for f in dataclass_fields(HeaderInput)]


@dataclass(frozen=True)
class FilingInput:
    """One declaration as it arrives from any way in."""

    enterprise_id: int | None
    port_call_id: int | None
    bl_number: str
    container_numbers: list[str]
    items: list[ItemInput]
    direction: str = Declaration.Direction.IMPORT
    kind: str = Declaration.Kind.FULL
    summary_id: int | None = None
    header: HeaderInput = field(default_factory=HeaderInput)


@transaction.atomic
def declaration_file(
    *,
    user: User,
    enterprise_id: int | None,
    port_call_id: int | None,
    bl_number: str,
    container_numbers: list[str],
    items: list[ItemInput],
    direction: str = Declaration.Direction.IMPORT,
    idempotency_key: str = "",
    header: HeaderInput | None = None,
    kind: str = Declaration.Kind.FULL,
    summary_id: int | None = None,
    submit: bool = True,
) -> Declaration:
    """File a declaration: save it as a draft, or submit it for risk assessment at once.

    Writes the declaration, its containers and items, and timeline events for the filing
    (and the draft-to-submitted transition). A summary (two-step, step 1) draws its
    guarantee on submission. After commit, queues the assessment and publishes the status.
    A repeat with the same idempotency key returns the first declaration unchanged.
    Raises InvalidInput with field-level messages, all at once; writes nothing then.
    """
    filing = FilingInput(
        enterprise_id=enterprise_id,
        port_call_id=port_call_id,
        bl_number=bl_number,
        container_numbers=container_numbers,
        items=items,
        direction=direction,
        kind=kind,
        summary_id=summary_id,
        header=header or HeaderInput(),
    )
    return declaration_file_input(
        user=user, filing=filing, idempotency_key=idempotency_key, submit=submit
    )


@transaction.atomic
def declaration_file_input(
    *, user: User, filing: FilingInput, idempotency_key: str = "", submit: bool = True
) -> Declaration:
    """declaration_file with its input as one FilingInput (the batch and importers use it)."""
    declarant = _declarant_for(user)
    if idempotency_key:
        earlier = Declaration.objects.filter(
            declarant=declarant, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            return earlier
    cleaned = _validate_filing(user=user, filing=filing)
    try:
        with transaction.atomic():  # a savepoint, so a concurrent twin can be recovered
            declaration = Declaration.objects.create(
                declarant=declarant,
                created_by=user,
                idempotency_key=idempotency_key,
                **cleaned.header,
            )
    except IntegrityError:
        # The same key raced in from another request; the unique constraint kept one.
        return Declaration.objects.get(declarant=declarant, idempotency_key=idempotency_key)
    _write_lines(declaration, cleaned)
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_FILED,
        actor=user,
        organisation=declaration.enterprise,
        data={
            "containers": cleaned.container_numbers,
            "items": len(cleaned.items),
            "declarant": declarant.name,
        },
    )
    if not submit:
        return declaration
    return declaration_submit(declaration=declaration, user=user)


@dataclass
class BatchResult:
    index: int
    declaration: Declaration | None = None
    errors: dict | None = None


def declaration_file_batch(
    *, user: User, filings: list[tuple[FilingInput, bool]]
) -> list[BatchResult]:
    """File many declarations, each on its own: a refused one leaves the others filed.

    Each goes through declaration_file_input in its own transaction, so a bad declaration
    is never half-written. Returns, in order, the declaration or its field errors.
    """
    results = []
    for index, (filing, submit) in enumerate(filings):
        try:
            declaration = declaration_file_input(user=user, filing=filing, submit=submit)
        except InvalidInput as error:
            results.append(BatchResult(index=index, errors=error.errors))
        else:
            results.append(BatchResult(index=index, declaration=declaration))
    return results


@transaction.atomic
def declaration_update(*, declaration_id: int, user: User, filing: FilingInput) -> Declaration:
    """Replace a draft's header, containers and items. Raises TransitionNotAllowed unless draft."""
    declaration = _locked_for_filer(declaration_id, user)
    if declaration.status != Declaration.Status.DRAFT:
        raise TransitionNotAllowed(
            obj=declaration, old=declaration.status, new=Declaration.Status.DRAFT
        )
    cleaned = _validate_filing(user=user, filing=filing, declaration=declaration)
    _apply(declaration, cleaned)
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_UPDATED,
        actor=user,
        organisation=declaration.enterprise,
        data={"containers": cleaned.container_numbers, "items": len(cleaned.items)},
    )
    return declaration


@transaction.atomic
def declaration_submit(*, declaration: Declaration, user: User) -> Declaration:
    """Submit a draft: assign its number, draw a summary's guarantee, queue the assessment.

    Raises InvalidInput when a container is now on another open declaration or the
    guarantee quota does not cover a summary; TransitionNotAllowed unless draft.
    """
    declaration = Declaration.objects.select_for_update().get(pk=declaration.pk)
    if declaration.status != Declaration.Status.DRAFT:
        raise TransitionNotAllowed(
            obj=declaration, old=declaration.status, new=Declaration.Status.SUBMITTED
        )
    numbers = list(declaration.containers.values_list("number", flat=True))
    busy = _containers_on_open_declarations(numbers, exclude_id=declaration.pk)
    if busy:
        raise InvalidInput({"containers": busy})
    if declaration.is_summary:
        _guarantee_draw(declaration, user=user)
    declaration.number = _next_number(declaration)
    declaration.submitted_at = timezone.now()
    _set_status(
        declaration,
        Declaration.Status.SUBMITTED,
        actor=user,
        extra_fields=["number", "submitted_at"],
    )
    transaction.on_commit(partial(declaration_assess_task.delay, declaration.pk))
    return declaration


@transaction.atomic
def declaration_amend(
    *, declaration_id: int, user: User, filing: FilingInput, reason: str
) -> Declaration:
    """Amend a submitted declaration until its release, with a reason; assess it again.

    Replaces header and items (containers stay: their decisions are made); records the
    transition with the reason; after commit queues the assessment. Raises InvalidInput,
    or TransitionNotAllowed once released or withdrawn.
    """
    declaration = _locked_for_filer(declaration_id, user)
    if not declaration.is_amendable:
        raise TransitionNotAllowed(
            obj=declaration, old=declaration.status, new=Declaration.Status.AMENDED
        )
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Give the reason for the amendment.")]
    try:
        cleaned = _validate_filing(user=user, filing=filing, declaration=declaration)
    except InvalidInput as error:
        errors.update(error.errors)
        cleaned = None
    if cleaned is not None:
        current = sorted(declaration.containers.values_list("number", flat=True))
        if sorted(cleaned.container_numbers) != current:
            errors["containers"] = [
                _("Containers cannot be amended once decided; withdraw and file again.")
            ]
    if errors:
        raise InvalidInput(errors)
    _apply(declaration, cleaned, lines_only_items=True)
    _set_status(declaration, Declaration.Status.AMENDED, actor=user, data={"reason": reason})
    transaction.on_commit(partial(declaration_assess_task.delay, declaration.pk))
    return declaration


@transaction.atomic
def declaration_withdraw(*, declaration_id: int, user: User, reason: str) -> Declaration:
    """Withdraw a declaration before release, with a reason; a summary's guarantee returns.

    Frees its containers for another declaration. Raises InvalidInput without a reason,
    TransitionNotAllowed once released.
    """
    declaration = _locked_for_filer(declaration_id, user)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": [_("Give the reason for the withdrawal.")]})
    _set_status(declaration, Declaration.Status.WITHDRAWN, actor=user, data={"reason": reason})
    if declaration.is_summary:
        _guarantee_restore(declaration, actor=user)
    return declaration


@transaction.atomic
def declaration_assess(*, declaration_id: int) -> Declaration:
    """Decide a submitted or amended declaration: released, or inspection required.

    The one-declaration case of the vessel-wide assessment: the inspection app decides
    each container (`decisions_make`) and calls back `declarations_record_assessment`.
    Running it again on a decided declaration changes nothing.
    """
    inspection_services.decisions_make(declaration_id=declaration_id)
    return Declaration.objects.select_related("enterprise").get(pk=declaration_id)


def declarations_record_assessment(
    *, declarations: list[Declaration], decisions: dict[int, list], actor: User | None
) -> list[Declaration]:
    """Move each assessed declaration to the status its decisions give, in bulk.

    A submitted or amended one is released, or needs inspection when a container is
    selected; one awaiting inspection is released once no container is held any more (a
    new rule-set version released them). One UPDATE per new status, one timeline insert
    each, and a live push per declaration after commit. A released summary gets its step 2
    deadline; a released step 2 completes its summary. The caller (inspection's
    `decisions_make_many`) holds the declarations' locks. Returns those that moved.
    """
    now = timezone.now()
    moves: dict[str, list[Declaration]] = {}
    selected: dict[int, list[str]] = {}
    for declaration in declarations:
        own = decisions.get(declaration.pk, [])
        selected[declaration.pk] = [d.container.number for d in own if d.requires_inspection]
        new = _status_after_assessment(declaration, own)
        if new == declaration.status:
            continue
        if declaration.status != Declaration.Status.INSPECTION_REQUIRED:
            declaration.decided_at = now
        if new == Declaration.Status.RELEASED and declaration.is_summary:
            declaration.full_due_at = now + STEP2_DEADLINE
        moves.setdefault(new, []).append(declaration)
    for new, moving in moves.items():
        old = transition_many(moving, new, extra_fields=["decided_at", "full_due_at"])
        timeline_record_many(
            subjects=moving,
            kind=TimelineEvent.Kind.DECLARATION_STATUS_CHANGED,
            organisation_id_for=lambda d: d.enterprise_id,
            actor=actor,
            data_for=lambda d, old=old: {
                "from": old[d.pk],
                "to": d.status,
                "selected": selected[d.pk],
            },
        )
        for declaration in moving:
            live.publish_on_commit(
                groups=events.declaration_groups(declaration),
                event=events.declaration_status_changed(declaration),
            )
    released = moves.get(Declaration.Status.RELEASED, [])
    for declaration in released:
        if declaration.summary_id:
            _summary_complete(declaration.summary_id, by=declaration)
    return [declaration for moving in moves.values() for declaration in moving]


def _status_after_assessment(declaration: Declaration, decisions: list) -> str:
    if any(decision.is_held for decision in decisions):
        return Declaration.Status.INSPECTION_REQUIRED
    return Declaration.Status.RELEASED


@transaction.atomic
def declaration_release(*, declaration_id: int, actor: User | None) -> Declaration:
    """Release a declaration whose selected containers customs has now cleared.

    Called by the inspection app once no container of it is held. Idempotent.
    """
    declaration = Declaration.objects.select_for_update().get(pk=declaration_id)
    if declaration.status in (Declaration.Status.RELEASED, Declaration.Status.COMPLETED):
        return declaration
    extra = []
    if declaration.is_summary:
        declaration.full_due_at = timezone.now() + STEP2_DEADLINE
        extra.append("full_due_at")
    _set_status(declaration, Declaration.Status.RELEASED, actor=actor, extra_fields=extra)
    if declaration.summary_id:
        _summary_complete(declaration.summary_id, by=declaration)
    return declaration


def declaration_requeue_stuck(*, older_than_seconds: int = 120) -> list[int]:
    """Queue the assessment again for declarations left submitted by a lost task."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = list(
        Declaration.objects.filter(
            Q(status=Declaration.Status.SUBMITTED, submitted_at__lt=cutoff)
            | Q(status=Declaration.Status.AMENDED, updated_at__lt=cutoff)
        ).values_list("pk", flat=True)[:500]
    )
    return requeue(stuck, declaration_assess_task)


def declaration_step2_sweep(*, now=None) -> dict[str, int]:
    """Send due step 2 reminders and flag overdue summaries (Celery beat, hourly).

    Each reminder and the overdue flag are written once: a conditional update on
    `reminders_sent` / `is_overdue` makes a second sweep a no-op. Returns the counts.
    """
    now = now or timezone.now()
    counts = {"reminders": 0, "overdue": 0}
    due = Declaration.objects.filter(
        kind=Declaration.Kind.SUMMARY,
        status=Declaration.Status.RELEASED,
        full_due_at__isnull=False,
        full_due_at__lte=now + STEP2_REMINDERS[0],
    ).select_related("enterprise")
    for summary in due.iterator(chunk_size=500):
        with transaction.atomic():
            counts["reminders"] += _remind(summary, now=now)
            counts["overdue"] += _flag_overdue(summary, now=now)
    return counts


# --- two-step: guarantee quota and step 2 ------------------------------------------------


def guarantee_account_set(*, enterprise: Organisation, quota: Decimal) -> GuaranteeAccount:
    """Create an enterprise's guarantee account, or set its quota (seed_demo, admin)."""
    account, _created = GuaranteeAccount.objects.get_or_create(
        enterprise=enterprise, defaults={"quota": quota}
    )
    if account.quota != quota:
        GuaranteeAccount.objects.filter(pk=account.pk, used__lte=quota).update(quota=quota)
    return account


# Apps that may stop an enterprise drawing on its guarantee (billing: an overdue bill),
# each a function of the enterprise's id giving the reason, or None. Set in AppConfig.ready.
GUARANTEE_BLOCKERS: list = []


def guarantee_draw(*, enterprise: Organisation, amount: Decimal) -> None:
    """Take `amount` CNY of the enterprise's guarantee quota, or raise InvalidInput.

    One conditional UPDATE: PostgreSQL re-checks the WHERE after waiting for a concurrent
    drawer's row lock, so two draws can never both take the last of the quota.
    """
    for blocker in GUARANTEE_BLOCKERS:
        reason = blocker(enterprise.pk)
        if reason:
            raise InvalidInput({"guarantee": [reason]})
    drawn = GuaranteeAccount.objects.filter(
        enterprise=enterprise, used__lte=F("quota") - amount
    ).update(used=F("used") + amount, updated_at=timezone.now())
    if drawn != 1:
        account = GuaranteeAccount.objects.filter(enterprise=enterprise).first()
        available = account.available if account else Decimal(0)
        raise InvalidInput(
            {
                "guarantee": [
                    _(
                        "The guarantee of %(amount)s CNY exceeds the quota still available "
                        "(%(available)s CNY)."
                    )
                    % {"amount": amount, "available": available}
                ]
            }
        )


def _guarantee_draw(declaration: Declaration, *, user: User) -> None:
    enterprise = declaration.enterprise
    if enterprise.credit_rating == Organisation.CreditRating.CERTIFIED:
        return  # certified (AEO) enterprises are exempt from the guarantee
    amount = _guarantee_amount(declaration)
    guarantee_draw(enterprise=enterprise, amount=amount)
    declaration.guarantee_amount = amount
    declaration.save(update_fields=["guarantee_amount", "updated_at"])
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_GUARANTEE_DRAWN,
        actor=user,
        organisation=enterprise,
        data={"amount": str(amount)},
    )


def _guarantee_amount(declaration: Declaration) -> Decimal:
    """The estimated duty of the summary's goods, at least 1 CNY."""
    total = sum((i.duty_estimate or Decimal(0) for i in declaration.items.all()), Decimal(0))
    return max(Decimal(total).quantize(CENT), Decimal("1.00"))


def _guarantee_restore(declaration: Declaration, *, actor: User | None) -> None:
    if declaration.guarantee_amount <= 0 or declaration.guarantee_restored:
        return
    GuaranteeAccount.objects.filter(enterprise_id=declaration.enterprise_id).update(
        used=F("used") - declaration.guarantee_amount, updated_at=timezone.now()
    )
    declaration.guarantee_restored = True
    declaration.save(update_fields=["guarantee_restored", "updated_at"])
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_GUARANTEE_RESTORED,
        actor=actor,
        organisation=declaration.enterprise,
        data={"amount": str(declaration.guarantee_amount)},
    )


def _summary_complete(summary_id: int, *, by: Declaration) -> None:
    summary = Declaration.objects.select_for_update().get(pk=summary_id)
    _set_status(
        summary,
        Declaration.Status.COMPLETED,
        actor=None,
        data={"full_declaration": by.number},
    )
    _guarantee_restore(summary, actor=None)


def _remind(summary: Declaration, *, now) -> int:
    left = summary.full_due_at - now
    due = sum(1 for threshold in STEP2_REMINDERS if left <= threshold)
    if due <= summary.reminders_sent:
        return 0
    updated = Declaration.objects.filter(
        pk=summary.pk, reminders_sent=summary.reminders_sent
    ).update(reminders_sent=due)
    if updated != 1:
        return 0  # another sweep sent it
    timeline_record(
        subject=summary,
        kind=TimelineEvent.Kind.DECLARATION_STEP2_REMINDER,
        actor=None,
        organisation=summary.enterprise,
        data={"due": summary.full_due_at.isoformat(), "days_left": max(left.days, 0)},
    )
    live.publish_on_commit(
        groups=events.declaration_groups(summary), event=events.declaration_step2(summary)
    )
    return 1


def _flag_overdue(summary: Declaration, *, now) -> int:
    if summary.full_due_at > now or summary.is_overdue:
        return 0
    if Declaration.objects.filter(pk=summary.pk, is_overdue=False).update(is_overdue=True) != 1:
        return 0
    summary.is_overdue = True
    timeline_record(
        subject=summary,
        kind=TimelineEvent.Kind.DECLARATION_STEP2_OVERDUE,
        actor=None,
        organisation=summary.enterprise,
        data={"due": summary.full_due_at.isoformat()},
    )
    live.publish_on_commit(
        groups=events.declaration_groups(summary), event=events.declaration_step2(summary)
    )
    return 1


# --- the transition, and writing lines ----------------------------------------------------


def _set_status(
    declaration: Declaration,
    new: str,
    *,
    actor: User | None,
    extra_fields: list[str] = (),
    data: dict | None = None,
) -> None:
    old = transition(declaration, new, extra_fields=extra_fields)
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_STATUS_CHANGED,
        actor=actor,
        organisation=declaration.enterprise,
        data={"from": old, "to": new, **(data or {})},
    )
    live.publish_on_commit(
        groups=events.declaration_groups(declaration),
        event=events.declaration_status_changed(declaration),
    )


def _locked_for_filer(declaration_id: int, user: User) -> Declaration:
    """The declaration, locked, if the user's organisation filed it or owns it."""
    org_ids = organisation_ids_for(user)
    declaration = (
        Declaration.objects.select_for_update(of=("self",))
        .select_related("enterprise")
        .filter(pk=declaration_id)
        .first()
    )
    if declaration is None or not (
        declaration.declarant_id in org_ids or declaration.enterprise_id in org_ids
    ):
        raise NotYours
    return declaration


@dataclass
class Cleaned:
    header: dict
    container_numbers: list[str]
    items: list[dict]


def _write_lines(declaration: Declaration, cleaned: Cleaned) -> None:
    containers = _containers_for(cleaned.container_numbers)
    DeclarationContainer.objects.bulk_create(
        DeclarationContainer(declaration=declaration, container=c) for c in containers
    )
    DeclarationItem.objects.bulk_create(
        DeclarationItem(declaration=declaration, line_number=n, **fields)
        for n, fields in enumerate(cleaned.items, start=1)
    )


def _apply(declaration: Declaration, cleaned: Cleaned, *, lines_only_items=False) -> None:
    header = {k: v for k, v in cleaned.header.items() if k not in ("declarant",)}
    for name, value in header.items():
        setattr(declaration, name, value)
    declaration.save(update_fields=[*header.keys(), "updated_at"])
    declaration.items.all().delete()
    if lines_only_items:
        DeclarationItem.objects.bulk_create(
            DeclarationItem(declaration=declaration, line_number=n, **fields)
            for n, fields in enumerate(cleaned.items, start=1)
        )
        return
    DeclarationContainer.objects.filter(declaration=declaration).delete()
    _write_lines(declaration, cleaned)


def _declarant_for(user: User) -> Organisation:
    organisation = (
        Organisation.objects.filter(
            pk__in=organisation_ids_for(user),
            kind__in=[Organisation.Kind.ENTERPRISE, Organisation.Kind.CUSTOMS_BROKER],
        )
        .order_by("pk")
        .first()
    )
    if organisation is None:
        raise InvalidInput(
            {"enterprise": [_("Only enterprises and customs brokers file declarations.")]}
        )
    return organisation


def _next_number(declaration: Declaration) -> str:
    office = (
        Organisation.objects.filter(
            kind=Organisation.Kind.CUSTOMS_OFFICE, port=declaration.port_call.port_id
        )
        .exclude(office_code="")
        .values_list("office_code", flat=True)
        .first()
    ) or "0000"
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('declaration_number_serial')")
        (serial,) = cursor.fetchone()
    flag = "1" if declaration.direction == Declaration.Direction.IMPORT else "0"
    return f"{office}{timezone.localdate().year}{flag}{serial:09d}"


def _containers_for(numbers: list[str]) -> list[Container]:
    existing = {c.number: c for c in Container.objects.filter(number__in=numbers)}
    missing = [Container(number=n) for n in numbers if n not in existing]
    Container.objects.bulk_create(missing, ignore_conflicts=True)
    existing.update(
        {c.number: c for c in Container.objects.filter(number__in=[c.number for c in missing])}
    )
    return [existing[n] for n in numbers]


def _containers_on_open_declarations(numbers: list[str], *, exclude_id=None) -> list[str]:
    busy = (
        DeclarationContainer.objects.filter(
            container__number__in=numbers,
            declaration__status__in=Declaration.OPEN_STATUSES,
        )
        .exclude(declaration_id=exclude_id)
        .values_list("container__number", "declaration__number")
        .order_by("container__number")
    )
    return [
        _("%(container)s is on open declaration %(number)s.")
        % {"container": container, "number": number}
        for container, number in busy
    ]


# --- validation: every field, every cross-field rule, all errors at once -----------------


def _messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


def _validate_filing(*, user, filing: FilingInput, declaration=None) -> Cleaned:
    _check_sizes(filing)
    errors: dict = {}
    enterprise = _validate_enterprise(user, filing, errors)
    port_call = _validate_port_call(filing, errors)
    if filing.direction not in Declaration.Direction.values:
        errors["direction"] = [_("Direction is import or export.")]
    if filing.kind not in Declaration.Kind.values:
        errors["kind"] = [_("Kind is full or summary.")]
    bl = (filing.bl_number or "").strip().upper()
    if not bl:
        errors["bl_number"] = [_("The B/L number is required.")]
    elif not identifiers.BL_NUMBER_PATTERN.match(bl):
        errors["bl_number"] = [_("A B/L number has 4 to 35 letters, digits, - or /.")]
    numbers, container_errors = _validate_containers(filing.container_numbers)
    if not container_errors:
        container_errors = _containers_on_open_declarations(
            numbers, exclude_id=declaration.pk if declaration else None
        )
    if container_errors:
        errors["containers"] = container_errors
    cleaned_items, item_errors = _validate_items(filing.items)
    if not filing.items:
        errors["items"] = [_("Declare at least one goods item.")]
    elif item_errors:
        errors["items"] = item_errors
    header = _validate_header(filing.header, port_call, filing.direction, errors)
    _validate_totals(header, cleaned_items, errors)
    _validate_two_step(filing, enterprise, bl, header, errors)
    if errors:
        raise InvalidInput(errors)
    _estimate_duty(cleaned_items, errors)
    if errors:
        raise InvalidInput(errors)
    header.update(
        enterprise=enterprise,
        port_call=port_call,
        direction=filing.direction,
        kind=filing.kind,
        summary_id=filing.summary_id,
        bl_number=bl,
    )
    return Cleaned(header=header, container_numbers=numbers, items=cleaned_items)


def _check_sizes(filing: FilingInput) -> None:
    """Refuse lists no real filing reaches before validating any entry of them."""
    errors = {}
    for name, values, maximum in (
        ("containers", filing.container_numbers, limits.MAX_CONTAINERS),
        ("items", filing.items, limits.MAX_GOODS_LINES),
    ):
        message = limits.list_error(values, maximum=maximum)
        if message:
            errors[name] = [message]
    if errors:
        raise InvalidInput(errors)


def _validate_enterprise(user, filing, errors):
    filable = enterprises_filable_by(user)
    if filing.enterprise_id:
        enterprise = filable.filter(pk=filing.enterprise_id).first()
        if enterprise is None:
            errors["enterprise"] = [_("You may not file for this enterprise.")]
        return enterprise
    # With one enterprise to file for (an importer filing its own), it need not be named.
    candidates = list(filable[:2])
    if len(candidates) == 1:
        return candidates[0]
    errors["enterprise"] = [_("Choose the enterprise whose goods these are.")]
    return None


def _validate_port_call(filing, errors):
    if not filing.port_call_id:
        errors["port_call"] = [_("Choose the vessel call.")]
        return None
    port_call = (
        PortCall.objects.exclude(status=PortCall.Status.DEPARTED)
        .select_related("port")
        .filter(pk=filing.port_call_id)
        .first()
    )
    if port_call is None:
        errors["port_call"] = [_("There is no open port call with this id.")]
    return port_call


def _validate_header(raw: HeaderInput, port_call, direction, errors) -> dict:
    header: dict = {}
    trade_mode = raw.trade_mode or Declaration.TradeMode.GENERAL
    if trade_mode not in Declaration.TradeMode.values:
        errors["trade_mode"] = [_("Choose a trade mode from the list.")]
    header["trade_mode"] = trade_mode
    own_port = port_call.port.unlocode if port_call else ""
    for name in ("port_of_loading", "port_of_discharge"):
        code = (getattr(raw, name) or "").strip().upper().replace(" ", "")
        if not code:
            # The port of this call is the discharge port of an import, the loading port
            # of an export.
            is_own = (name == "port_of_discharge") == (direction == Declaration.Direction.IMPORT)
            code = own_port if is_own else ""
        elif not identifiers.UNLOCODE_PATTERN.match(code) or not _country_exists(code[:2]):
            errors[name] = [
                _("%(code)s is not a UN/LOCODE (country code and three characters).")
                % {"code": code}
            ]
        header[name] = code
    if header["port_of_loading"] and header["port_of_loading"] == header["port_of_discharge"]:
        errors["port_of_discharge"] = [_("The port of discharge is the port of loading.")]
    country = (raw.trading_country or "").strip().upper()
    if country and not _country_exists(country):
        errors["trading_country"] = [
            _("%(code)s is not an ISO 3166 country code.") % {"code": country}
        ]
    header["trading_country"] = country
    currency = (raw.currency or "CNY").strip().upper()
    if not reference.is_currency(currency):
        errors["currency"] = [_("%(code)s is not an ISO 4217 currency code.") % {"code": currency}]
    header["currency"] = currency
    incoterm = (raw.incoterm or "").strip().upper()
    if incoterm and incoterm not in Declaration.Incoterm.values:
        errors["incoterm"] = [
            _("%(code)s is not an Incoterms 2020 rule (%(rules)s).")
            % {"code": incoterm, "rules": ", ".join(Declaration.Incoterm.values)}
        ]
    header["incoterm"] = incoterm
    header["invoice_total"] = _optional_decimal(raw.invoice_total, "invoice_total", errors, 16, 2)
    header["gross_weight"] = _optional_decimal(raw.gross_weight, "gross_weight", errors, 14, 3)
    header["net_weight"] = _optional_decimal(raw.net_weight, "net_weight", errors, 14, 3)
    header["packages"] = _optional_count(raw.packages, errors)
    header["is_advance"] = bool(raw.is_advance)
    header["direct_delivery"] = bool(raw.direct_delivery)
    header["permits_involved"] = bool(raw.permits_involved)
    header["quarantine_involved"] = bool(raw.quarantine_involved)
    if header["is_advance"] and port_call and port_call.status != PortCall.Status.EXPECTED:
        errors["is_advance"] = [
            _("An advance declaration is filed before the vessel arrives; %(vessel)s has.")
            % {"vessel": port_call.vessel.name}
        ]
    if header["direct_delivery"] and not header["is_advance"]:
        errors["direct_delivery"] = [
            _("Direct pickup or loading needs an advance declaration, decided before berthing.")
        ]
    return header


def _validate_totals(header: dict, items: list[dict], errors: dict) -> None:
    gross, net = header.get("gross_weight"), header.get("net_weight")
    if gross is not None and net is not None and net > gross:
        errors["net_weight"] = [_("The net weight is above the gross weight.")]
    total = header.get("invoice_total")
    values = [i["value"] for i in items if i.get("value") is not None]
    if total is not None and "items" not in errors and len(values) == len(items):
        declared = sum(values, Decimal(0))
        if abs(declared - total) > CENT:
            errors["invoice_total"] = [
                _("The items add up to %(sum)s, not the invoice total %(total)s.")
                % {"sum": declared, "total": total}
            ]


def _validate_two_step(filing, enterprise, bl, header, errors) -> None:
    if filing.kind == Declaration.Kind.SUMMARY:
        if filing.summary_id:
            errors["summary"] = [_("A summary declaration does not name another summary.")]
        if enterprise is not None and enterprise.credit_rating not in TWO_STEP_RATINGS:
            errors["enterprise"] = [
                _("Two-step declaration is open to enterprises of general credit or better.")
            ]
        if header.get("currency") != "CNY":
            errors["currency"] = [
                _("A summary declaration is valued in CNY, the currency of the guarantee.")
            ]
        return
    if not filing.summary_id:
        return
    summary = Declaration.objects.filter(pk=filing.summary_id, kind=Declaration.Kind.SUMMARY)
    summary = summary.first()
    if summary is None or enterprise is None or summary.enterprise_id != enterprise.pk:
        errors["summary"] = [_("There is no summary declaration of this enterprise with this id.")]
    elif summary.status != Declaration.Status.RELEASED:
        errors["summary"] = [
            _("Step 2 follows a released summary; this one is %(status)s.")
            % {"status": summary.get_status_display()}
        ]
    elif summary.bl_number != bl:
        errors["bl_number"] = [
            _("Step 2 carries the summary's B/L number %(bl)s.") % {"bl": summary.bl_number}
        ]
    elif summary.full_declarations.filter(
        status__in=[*Declaration.OPEN_STATUSES, Declaration.Status.DRAFT]
    ).exists():
        errors["summary"] = [_("This summary already has a full declaration under way.")]


def _validate_containers(raw_numbers: list[str]) -> tuple[list[str], list[str]]:
    numbers = [identifiers.normalise_container_number(n) for n in raw_numbers if n.strip()]
    if not numbers:
        return [], [_("List at least one container.")]
    errors: list[str] = []
    for number in numbers:
        try:
            identifiers.validate_container_number(number)
        except ValidationError as error:
            errors.extend(_messages(error))
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        errors.append(_("Listed twice: %(numbers)s.") % {"numbers": ", ".join(duplicates)})
    return numbers, errors


def _validate_items(items: list[ItemInput]) -> tuple[list[dict], dict[str, dict]]:
    """Cleaned items, and errors keyed by the index of each bad item (as DRF reports them)."""
    cleaned, errors = [], {}
    for index, item in enumerate(items):
        fields, item_errors = _validate_item(item)
        cleaned.append(fields)
        if item_errors:
            errors[str(index)] = item_errors
    return cleaned, errors


def _validate_item(item: ItemInput) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    hs_code = (item.hs_code or "").strip()
    try:
        identifiers.validate_hs_code(hs_code)
    except ValidationError as error:
        errors["hs_code"] = _messages(error)
    description = (item.description or "").strip()
    if not description:
        errors["description"] = [_("Describe the goods.")]
    quantity, message = limits.decimal_error(
        item.quantity,
        max_digits=14,
        decimal_places=3,
        above_minimum=True,
        message=_("The quantity must be a number above zero."),
    )
    if message:
        errors["quantity"] = [message]
    value, message = limits.decimal_error(
        item.value,
        max_digits=16,
        decimal_places=2,
        message=_("The value must be a number, zero or more."),
    )
    if message:
        errors["value"] = [message]
    unit_price = None
    if item.unit_price not in (None, ""):
        unit_price, message = limits.decimal_error(
            item.unit_price,
            max_digits=16,
            decimal_places=4,
            message=_("The unit price must be a number, zero or more."),
        )
        if message:
            errors["unit_price"] = [message]
        elif quantity and value is not None and "quantity" not in errors:
            expected = (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
            if abs(expected - value) > CENT:
                errors["value"] = [
                    _("Quantity × unit price is %(expected)s, not %(value)s.")
                    % {"expected": expected, "value": value}
                ]
    origin = (item.origin_country or "").strip().upper()
    try:
        identifiers.validate_country(origin)
    except ValidationError as error:
        errors["origin_country"] = _messages(error)
    if item.unit not in DeclarationItem.Unit.values:
        errors["unit"] = [_("Choose a unit from the list.")]
    cas = (item.cas_number or "").strip()
    if cas and not reference.is_cas_number(cas):
        errors["cas_number"] = [
            _("%(cas)s is not a CAS number (check digit or format is wrong).") % {"cas": cas}
        ]
    elif cas and "hs_code" not in errors:
        contradiction = reference.cas_contradiction(cas, hs_code)
        if contradiction:
            errors["cas_number"] = [contradiction]
    fields = {
        "hs_code": hs_code,
        "description": description,
        "quantity": quantity,
        "unit": item.unit,
        "value": value,
        "unit_price": unit_price,
        "origin_country": origin,
        "cas_number": cas,
        "certificate_number": (item.certificate_number or "").strip().upper(),
    }
    return fields, errors


def _estimate_duty(items: list[dict], errors: dict) -> None:
    """Each item's MFN rate, preferential rate with a valid certificate, and estimate."""
    today = timezone.localdate()
    numbers = [i["certificate_number"] for i in items if i["certificate_number"]]
    item_errors: dict[str, dict] = {}
    for index, item in enumerate(items):
        rates = certificate_queries.duty_rates(
            hs_code=item["hs_code"], certificate_numbers=numbers, on_date=today
        )
        item["mfn_rate"] = rates["mfn"]
        item["preferential_rate"] = None
        rate = rates["mfn"]
        if item["certificate_number"]:
            found = rates["preferential"].get(item["certificate_number"])
            if found is None:
                item_errors[str(index)] = {
                    "certificate_number": [
                        _("%(number)s is not a valid, issued certificate of origin.")
                        % {"number": item["certificate_number"]}
                    ]
                }
            elif found[1] is not None:
                item["preferential_rate"] = rate = found[1]
        item["duty_estimate"] = (
            (item["value"] * rate).quantize(CENT, rounding=ROUND_HALF_UP)
            if rate is not None
            else None
        )
    if item_errors:
        errors["items"] = item_errors


def _country_exists(code: str) -> bool:
    try:
        identifiers.validate_country(code)
    except ValidationError:
        return False
    return True


def _optional_decimal(
    raw, name: str, errors: dict, max_digits: int, decimal_places: int
) -> Decimal | None:
    if raw in (None, ""):
        return None
    number, message = limits.decimal_error(
        raw,
        max_digits=max_digits,
        decimal_places=decimal_places,
        message=_("Enter a number, zero or more."),
    )
    if message:
        errors[name] = [message]
    return number


def _optional_count(raw, errors: dict) -> int | None:
    if raw in (None, ""):
        return None
    try:
        count = int(str(raw).strip())
    except ValueError:
        count = -1
    if not 1 <= count <= MAX_PACKAGES:
        errors["packages"] = [_("The number of packages is a whole number above zero.")]
        return None
    return count
