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

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import bulk, events, reference
from declarations.models import (
    Declaration,
    DeclarationContainer,
    DeclarationItem,
    GuaranteeAccount,
)
from port import identifiers, limits, live, outbox
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Container, Organisation, PortCall, TimelineEvent, User
from port.queries import organisation_ids_for
from port.timeline import timeline_copy, timeline_record
from port.transitions import transition
from reference import queries as reference_queries

CENT = Decimal("0.01")
# Inspection's assessment of a batch of declarations (one task per batch), queued by name:
# declarations does not import inspection's tasks.
ASSESS_TASK = "inspection.assess_declarations"
MAX_PACKAGES = 99_999_999
# Step 2 (the full declaration) is due this long after the summary's release.
STEP2_DEADLINE = timedelta(days=14)
# Reminders go out when this much time is left before the step 2 deadline.
STEP2_REMINDERS = (timedelta(days=7), timedelta(days=3), timedelta(days=1))
# Credit ratings that may use two-step declaration; certified (AEO) needs no guarantee.
TWO_STEP_RATINGS = (Organisation.CreditRating.CERTIFIED, Organisation.CreditRating.GENERAL)
# Choices as sets, built once: `TextChoices.values` builds a list on every call, which is
# a tenth of a batch's validation.
DIRECTIONS = frozenset(Declaration.Direction.values)
KINDS = frozenset(Declaration.Kind.values)
TRADE_MODES = frozenset(Declaration.TradeMode.values)
INCOTERMS = frozenset(Declaration.Incoterm.values)
UNITS = frozenset(DeclarationItem.Unit.values)


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


def declaration_file_input(
    *, user: User, filing: FilingInput, idempotency_key: str = "", submit: bool = True
) -> Declaration:
    """declaration_file with its input as one FilingInput: a batch of one (`declarations_file`).

    Raises InvalidInput with the declaration's field errors; writes nothing then.
    """
    [result] = declarations_file(
        user=user, entries=[FilingEntry(filing=filing, submit=submit, reference=idempotency_key)]
    )
    if result.errors:
        raise InvalidInput(result.errors)
    return result.declaration


@dataclass(frozen=True)
class FilingEntry:
    """One declaration of a batch: what to file, whether to submit it, the client's reference
    (its idempotency key: a repeat returns the declaration first filed with it)."""

    filing: FilingInput
    submit: bool = True
    reference: str = ""


@dataclass
class BatchResult:
    index: int
    declaration: Declaration | None = None
    errors: dict | None = None
    replayed: bool = False  # filed earlier with the same reference


@transaction.atomic
def declarations_file(*, user: User, entries: list[FilingEntry]) -> list[BatchResult]:
    """File a batch of declarations at once: the good ones are filed, each bad one is reported.

    Validates every declaration with the rules of a single filing against reference data
    read once for the batch (`bulk.filing_reference`); a container or a summary claimed by
    an earlier declaration of the batch is refused like one on an open declaration. Writes
    the good ones in bulk (`bulk.write`: declarations, items, container links, timeline);
    a summary draws its guarantee. After commit, queues one assessment task for all those
    submitted and sends one live message per organisation. A reference filed before
    returns that declaration (`replayed`). Returns, in order, each declaration or its
    field errors. The query count does not depend on the number of declarations.
    """
    results = [BatchResult(index=i) for i in range(len(entries))]
    sized = []
    for result, entry in zip(results, entries, strict=True):
        try:  # lists past the limits are refused before anything is read
            _check_sizes(entry.filing)
        except InvalidInput as error:
            result.errors = error.errors
        else:
            sized.append((result, entry))
    ref = bulk.filing_reference(
        user=user,
        filings=[entry.filing for _, entry in sized],
        references=[entry.reference for _, entry in sized if entry.reference],
    )
    declarant = ref.declarant
    if declarant is None:
        raise InvalidInput(
            {"enterprise": [_("Only enterprises and customs brokers file declarations.")]}
        )
    earlier = _earlier_by_reference(ref.earlier)
    todo = []
    for result, entry in sized:
        if entry.reference and entry.reference in earlier:
            result.declaration, result.replayed = earlier[entry.reference], True
        else:
            todo.append((result, entry))
    references = any(entry.reference for _, entry in todo)
    try:
        # With references, a savepoint: a concurrent twin's reference is recovered.
        with transaction.atomic(savepoint=references):
            new = _validate_batch(ref, todo)
            bulk.write(user=user, declarant=declarant, new=[n for _, n in new])
    except IntegrityError:
        # A reference raced in from another request; its unique constraint kept one, and
        # the second pass answers with it.
        if not references:
            raise
        return declarations_file(user=user, entries=entries)
    for result, entry in new:
        # A single filing answers with its lines at hand rather than reading them back.
        result.declaration = (
            bulk.with_lines(entry, declarant) if len(entries) == 1 else entry.declaration
        )
    _after_filing([entry for _, entry in new])
    return results


def _earlier_by_reference(earlier: dict[str, int]) -> dict[str, Declaration]:
    if not earlier:
        return {}
    return {d.idempotency_key: d for d in Declaration.objects.filter(pk__in=earlier.values())}


def _validate_batch(
    ref: bulk.FilingReference, todo: list
) -> list[tuple[BatchResult, bulk.NewDeclaration]]:
    """Validate each declaration of the batch; set the errors of the bad ones on their result."""
    claimed: dict[str, int] = {}  # container number, summary id -> index in the batch
    references: dict[str, int] = {}
    places = _places_unlisted([entry.filing for _, entry in todo], ref.today)
    good = []
    for result, entry in todo:
        try:
            cleaned = _validate_against(entry.filing, ref, places)
            _check_claims(result.index, entry, cleaned, claimed, references)
            new = bulk.NewDeclaration(
                header=cleaned.header,
                container_numbers=cleaned.container_numbers,
                items=cleaned.items,
                submit=entry.submit,
                idempotency_key=entry.reference,
            )
            if entry.submit and entry.filing.kind == Declaration.Kind.SUMMARY:
                _guarantee_take(new)
        except InvalidInput as error:
            result.errors = error.errors
            continue
        good.append((result, new))
    return good


def _check_claims(index, entry, cleaned, claimed: dict, references: dict) -> None:
    """Refuse what an earlier declaration of the same batch holds already."""
    errors = {}
    if entry.reference:
        if len(entry.reference) > 100:
            errors["reference"] = [_("A reference has at most 100 characters.")]
        elif entry.reference in references:
            errors["reference"] = [
                _("Declaration %(index)s of this batch has this reference.")
                % {"index": references[entry.reference]}
            ]
    busy = [
        _("%(container)s is on declaration %(index)s of this batch.")
        % {"container": number, "index": claimed[number]}
        for number in cleaned.container_numbers
        if number in claimed
    ]
    if busy and entry.submit:
        errors["containers"] = busy
    summary = entry.filing.summary_id
    if summary and f"summary:{summary}" in claimed:
        errors["summary"] = [_("This summary already has a full declaration under way.")]
    if errors:
        raise InvalidInput(errors)
    if entry.reference:
        references[entry.reference] = index
    if entry.submit:  # a draft holds no container until it is submitted
        claimed.update(dict.fromkeys(cleaned.container_numbers, index))
    if summary:
        claimed[f"summary:{summary}"] = index


def _after_filing(new: list[bulk.NewDeclaration]) -> None:
    """One assessment task for the batch's submitted declarations, one live message per
    organisation, after commit."""
    submitted = [e.declaration for e in new if e.submit]
    if submitted:
        assessment_queue(declaration_ids=[d.pk for d in submitted])
    by_group: dict[str, list[Declaration]] = {}
    for declaration in submitted:  # a draft is its filer's own business until submitted
        for group in events.organisation_groups(declaration):
            by_group.setdefault(group, []).append(declaration)
    for group, declarations in by_group.items():
        # One filing keeps its own event; a batch is one message per organisation.
        event = (
            events.declaration_status_changed(declarations[0])
            if len(declarations) == 1
            else events.declarations_filed(declarations)
        )
        live.publish_on_commit(groups=[group], event=event)


def assessment_queue(*, declaration_ids: list[int]) -> None:
    """Queue inspection's assessment of these declarations: one task, after commit."""
    outbox.enqueue(ASSESS_TASK, declaration_ids=list(declaration_ids))


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
    assessment_queue(declaration_ids=[declaration.pk])
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
    assessment_queue(declaration_ids=[declaration.pk])
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


@dataclass(frozen=True)
class AssessmentOutcome:
    """What the inspection app's assessment says of one declaration: the containers it
    selected, and whether any of them is still held by customs."""

    selected: list[str]
    held: bool


# Up to this many declarations in a batch, each one's own group (officers watching it)
# hears its event as well; past it, only the organisations' batch events go out (a vessel's
# 7,000 declarations would be 7,000 pushes after commit).
LIVE_EACH_UP_TO = 100

_MOVE_ASSESSED = """UPDATE {table} SET status = %s, updated_at = %s,
    decided_at = CASE WHEN status = %s THEN decided_at ELSE %s END,
    full_due_at = CASE WHEN %s AND kind = %s THEN %s ELSE full_due_at END
    WHERE id = ANY(%s)"""


def declarations_record_assessment(
    *, outcomes: dict[int, AssessmentOutcome], actor_id: int | None = None
) -> dict[int, str]:
    """Move each assessed declaration to the status its containers give, set-based.

    The one call by which the inspection app, which owns assessment, reports it here. A
    submitted or amended declaration is released, or needs inspection when a container is
    held; one awaiting inspection is released once none is held any more (a new rule-set
    version released them). One UPDATE per new status, one COPY of the timeline rows, and
    one after-commit batch of live pushes (each declaration's own group, one event per
    organisation). A released summary gets its step 2 deadline; a released step 2
    completes its summary. The caller holds the declarations' locks
    (`queries.consignments_locked_for_assessment`). Returns the new status by id of those
    that moved.
    """
    if not outcomes:
        return {}
    rows = Declaration.objects.filter(pk__any=list(outcomes)).values_list(
        "pk", "status", "number", "kind", "summary_id", "enterprise_id", "declarant_id"
    )
    moves: dict[str, list[tuple]] = {}
    for row in rows:
        pk, status = row[0], row[1]
        new = (
            Declaration.Status.INSPECTION_REQUIRED
            if outcomes[pk].held
            else Declaration.Status.RELEASED
        )
        if new == status:
            continue
        if new not in Declaration.TRANSITIONS[status]:
            raise TransitionNotAllowed(obj=Declaration(pk=pk), old=status, new=new)
        moves.setdefault(new, []).append(row)
    if not moves:
        return {}
    now = timezone.now()
    table = Declaration._meta.db_table
    with connection.cursor() as cursor:
        for new, moving in moves.items():
            # decided_at: when first decided (not on a later release of a held one); a
            # released summary's step 2 falls due.
            cursor.execute(
                _MOVE_ASSESSED.format(table=table),
                [
                    new,
                    now,
                    Declaration.Status.INSPECTION_REQUIRED,
                    now,
                    new == Declaration.Status.RELEASED,
                    Declaration.Kind.SUMMARY,
                    now + STEP2_DEADLINE,
                    [row[0] for row in moving],
                ],
            )
    timeline_rows = []
    messages = []
    organisations: dict[int, list[int]] = {}
    for new, moving in moves.items():
        label = str(Declaration.Status(new).label)
        for pk, old, number, _kind, _summary, enterprise_id, declarant_id in moving:
            timeline_rows.append(
                (pk, enterprise_id, {"from": old, "to": new, "selected": outcomes[pk].selected})
            )
            event = {
                "type": "declaration.status_changed",
                "id": pk,
                "number": number,
                "status": new,
                "status_label": label,
            }
            if len(outcomes) == 1:  # one declaration: the event itself to everyone
                messages.append(
                    (events.declaration_groups_of(pk, enterprise_id, declarant_id), event)
                )
                continue
            if len(outcomes) <= LIVE_EACH_UP_TO:
                messages.append(([events.declaration_group(pk)], event))
            for org_id in {enterprise_id, declarant_id}:
                organisations.setdefault(org_id, []).append(pk)
    timeline_copy(
        kind=TimelineEvent.Kind.DECLARATION_STATUS_CHANGED,
        subject_type=Declaration._meta.label_lower,
        rows=timeline_rows,
        actor_id=actor_id,
    )
    for org_id, ids in sorted(organisations.items()):
        # A batch: one event per organisation naming the declarations; a page showing one
        # of them matches it by `ids` (port/static/js/live.js) and re-fetches.
        messages.append(
            (
                [live.organisation_group(org_id)],
                {"type": "declaration.status_changed", "ids": ids, "count": len(ids)},
            )
        )
    live.publish_many_on_commit(messages)
    for pk, *_rest in moves.get(Declaration.Status.RELEASED, []):
        summary_id = _rest[3]
        if summary_id:
            _summary_complete(summary_id, by=Declaration.objects.get(pk=pk))
    return {row[0]: new for new, moving in moves.items() for row in moving}


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
    """Queue the assessment again for declarations left submitted by a lost task: one task
    for all of them, through the outbox."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = list(
        Declaration.objects.filter(
            Q(status=Declaration.Status.SUBMITTED, submitted_at__lt=cutoff)
            | Q(status=Declaration.Status.AMENDED, updated_at__lt=cutoff)
        ).values_list("pk", flat=True)[:500]
    )
    if stuck:
        assessment_queue(declaration_ids=stuck)
    return stuck


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


def _guarantee_take(new: bulk.NewDeclaration) -> None:
    """A summary of a batch draws its guarantee before it is written (`bulk.write` records
    the draw on its timeline)."""
    enterprise = new.header["enterprise"]
    if enterprise.credit_rating == Organisation.CreditRating.CERTIFIED:
        return
    estimate = sum((i["duty_estimate"] or Decimal(0) for i in new.items), Decimal(0))
    amount = max(Decimal(estimate).quantize(CENT), Decimal("1.00"))
    guarantee_draw(enterprise=enterprise, amount=amount)
    new.header["guarantee_amount"] = amount


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
            memberships__user=user,
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
    """Validate one declaration (an update or an amendment of `declaration`): the rules of
    `_validate_against`, with its own reference data."""
    _check_sizes(filing)
    ref = bulk.filing_reference(
        user=user, filings=[filing], exclude_declaration_id=declaration.pk if declaration else None
    )
    return _validate_against(filing, ref, _places_unlisted([filing], ref.today))


def _places_unlisted(filings: list[FilingInput], on_date) -> tuple[set[str], str]:
    """The ports of loading and discharge the filings name that the UN/LOCODE edition in
    force on the filing date does not list, and its name: one statement for the batch."""
    named = {
        _place(getattr(f.header, name))
        for f in filings
        for name in ("port_of_loading", "port_of_discharge")
    }
    return reference_queries.unlocode_unknown(
        {c for c in named if identifiers.UNLOCODE_PATTERN.match(c)}, on_date
    )


def _place(value) -> str:
    return (value or "").strip().upper().replace(" ", "")


def _validate_against(
    filing: FilingInput, ref: bulk.FilingReference, places: tuple[set[str], str] = (set(), "")
) -> Cleaned:
    """Every field and cross-field rule of a filing, all errors at once (InvalidInput),
    against reference data read once per batch: the one validation of every way in.
    The caller has checked the sizes of its lists (`_check_sizes`)."""
    errors: dict = {}
    enterprise = _validate_enterprise(ref, filing, errors)
    port_call = _validate_port_call(ref, filing, errors)
    if filing.direction not in DIRECTIONS:
        errors["direction"] = [_("Direction is import or export.")]
    if filing.kind not in KINDS:
        errors["kind"] = [_("Kind is full or summary.")]
    bl = (filing.bl_number or "").strip().upper()
    if not bl:
        errors["bl_number"] = [_("The B/L number is required.")]
    elif not identifiers.BL_NUMBER_PATTERN.match(bl):
        errors["bl_number"] = [_("A B/L number has 4 to 35 letters, digits, - or /.")]
    numbers, container_errors = _validate_containers(filing.container_numbers)
    if not container_errors:
        container_errors = [
            _("%(container)s is on open declaration %(number)s.")
            % {"container": number, "number": ref.busy[number]}
            for number in sorted(set(numbers) & ref.busy.keys())
        ]
    if container_errors:
        errors["containers"] = container_errors
    cleaned_items, item_errors = _validate_items(filing.items, ref.today)
    if not filing.items:
        errors["items"] = [_("Declare at least one goods item.")]
    elif item_errors:
        errors["items"] = item_errors
    header = _validate_header(filing.header, port_call, filing.direction, places, errors)
    _validate_totals(header, cleaned_items, errors)
    _validate_two_step(ref, filing, enterprise, bl, header, errors)
    if errors:
        raise InvalidInput(errors)
    _estimate_duty(ref, cleaned_items, errors)
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


def _validate_enterprise(ref, filing, errors):
    if filing.enterprise_id:
        enterprise = ref.enterprises.get(filing.enterprise_id)
        if enterprise is None:
            errors["enterprise"] = [_("You may not file for this enterprise.")]
        return enterprise
    # With one enterprise to file for (an importer filing its own), it need not be named.
    if len(ref.enterprises) == 1:
        return next(iter(ref.enterprises.values()))
    errors["enterprise"] = [_("Choose the enterprise whose goods these are.")]
    return None


def _validate_port_call(ref, filing, errors):
    if not filing.port_call_id:
        errors["port_call"] = [_("Choose the vessel call.")]
        return None
    port_call = ref.port_calls.get(filing.port_call_id)
    if port_call is None:
        errors["port_call"] = [_("There is no open port call with this id.")]
    return port_call


def _validate_header(raw: HeaderInput, port_call, direction, places, errors) -> dict:
    """The header's fields; `places` is (ports the UN/LOCODE edition in force does not list,
    its name), read once for the batch (`_places_unlisted`)."""
    header: dict = {}
    trade_mode = raw.trade_mode or Declaration.TradeMode.GENERAL
    if trade_mode not in TRADE_MODES:
        errors["trade_mode"] = [_("Choose a trade mode from the list.")]
    header["trade_mode"] = trade_mode
    own_port = port_call.port.unlocode if port_call else ""
    for name in ("port_of_loading", "port_of_discharge"):
        code = _place(getattr(raw, name))
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
        elif code in places[0]:
            errors[name] = [
                _("%(code)s is not a place in %(edition)s.") % {"code": code, "edition": places[1]}
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
    if incoterm and incoterm not in INCOTERMS:
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


def _validate_two_step(ref, filing, enterprise, bl, header, errors) -> None:
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
    summary = ref.summaries.get(filing.summary_id)
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
    elif summary.pk in ref.summaries_under_way:
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


def _validate_items(items: list[ItemInput], today) -> tuple[list[dict], dict[str, dict]]:
    """Cleaned items, and errors keyed by the index of each bad item (as DRF reports them)."""
    cleaned, errors = [], {}
    for index, item in enumerate(items):
        fields, item_errors = _validate_item(item, today)
        cleaned.append(fields)
        if item_errors:
            errors[str(index)] = item_errors
    return cleaned, errors


def _validate_item(item: ItemInput, today) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    hs_code = (item.hs_code or "").strip()
    try:
        identifiers.validate_hs_code(hs_code, on_date=today)
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
    if item.unit not in UNITS:
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


def _estimate_duty(ref, items: list[dict], errors: dict) -> None:
    """Each item's MFN rate, preferential rate with a valid certificate, and estimate."""
    item_errors: dict[str, dict] = {}
    for index, item in enumerate(items):
        rates = ref.duty_rates[item["hs_code"]]
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
