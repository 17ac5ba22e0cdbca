"""Every write to declarations, and every status change.

All four ways in (the browser, the API, ERP files and EDIFACT CUSDEC) call
`declaration_file`; each status transition is one function here that locks the row,
checks Declaration.TRANSITIONS, saves, and records a timeline event (who, when, from, to,
reason). Validation lives in `declarations.validation`; its input classes (`FilingInput`,
`HeaderInput`, `ItemInput`) are re-exported here, since `declaration_file` takes them. The
two-step summary's guarantee and step 2 sweep live in `declarations.two_step`, what
customs' assessment does to declarations in `declarations.assessed`, the monthly summaries
of e-commerce export lists in `declarations.summaries`.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from declarations import bulk, events, two_step
from declarations.models import (
    Declaration,
    DeclarationContainer,
    DeclarationItem,
)
from declarations.validation import HEADER_NAMES as HEADER_NAMES
from declarations.validation import (
    Cleaned,
    check_sizes,
    places_unlisted,
    validate_against,
    validate_filing,
)
from declarations.validation import FilingInput as FilingInput
from declarations.validation import HeaderInput as HeaderInput
from declarations.validation import ItemInput as ItemInput
from port import live, outbox
from port.batch import collector_paused
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.group_commit import GroupCommit
from port.identifiers import normalise_container_number
from port.models import Container, Organisation, TimelineEvent, User
from port.queries import organisation_ids_for
from port.timeline import timeline_record
from port.transitions import transition

# Inspection's assessment of a batch of declarations (one task per batch), queued by name:
# declarations does not import inspection's tasks.
ASSESS_TASK = "inspection.assess_declarations"
# Step 2 (the full declaration) is due this long after the summary's release.
STEP2_DEADLINE = timedelta(days=14)


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

    Outside a transaction, filings of the same user that arrive together (other requests
    of this process) are written in one batch (`port.group_commit`); each is answered as
    filed alone. Raises InvalidInput with the declaration's field errors; writes nothing then.
    """
    entry = FilingEntry(filing=filing, submit=submit, reference=idempotency_key)
    result = _filings.run(
        key=(user.pk, translation.get_language()),  # errors read in the filer's language
        item=(user, entry),
        claims=_claims(entry),
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


def _file_together(items: list[tuple[User, FilingEntry]]) -> list[BatchResult]:
    """One user's filings that arrived together, in one batch, each answered with its lines."""
    return declarations_file(user=items[0][0], entries=[e for _, e in items], lines=True)


def _claims(entry: FilingEntry) -> set[str]:
    """What two filings of one batch may not share: the batch would refuse the second,
    where filed one after the other the second meets the first as filed (or replayed)."""
    filing = entry.filing
    claims = {f"ref:{entry.reference}"} if entry.reference else set()
    claims.update(
        normalise_container_number(n) for n in filing.container_numbers if isinstance(n, str)
    )
    if filing.summary_id:
        claims.add(f"summary:{filing.summary_id}")
    return claims


_filings = GroupCommit(_file_together)


@transaction.atomic
def declarations_file(
    *, user: User, entries: list[FilingEntry], lines: bool = False
) -> list[BatchResult]:
    """File a batch of declarations at once: the good ones are filed, each bad one is reported.

    Validates every declaration with the rules of a single filing against reference data
    read once for the batch (`bulk.filing_reference`); a container or a summary claimed by
    an earlier declaration of the batch is refused like one on an open declaration. Writes
    the good ones in bulk (`bulk.write`: declarations, items, container links, timeline);
    a summary draws its guarantee. After commit, queues one assessment task for all those
    submitted and sends one live message per organisation. A reference filed before
    returns that declaration (`replayed`). Returns, in order, each declaration or its
    field errors, with its containers and items at hand when `lines` (an answer to each
    filer). The query count does not depend on the number of declarations.
    """
    with collector_paused():  # a batch builds rows by the thousand (port.batch)
        return _declarations_file(user, entries, lines)


def _declarations_file(user: User, entries: list[FilingEntry], lines: bool) -> list[BatchResult]:
    results = [BatchResult(index=i) for i in range(len(entries))]
    sized = []
    for result, entry in zip(results, entries, strict=True):
        try:  # lists past the limits are refused before anything is read
            check_sizes(entry.filing)
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
            bulk.write(
                user=user, declarant=declarant, new=[n for _, n in new], assess_task=ASSESS_TASK
            )
    except IntegrityError:
        # A reference raced in from another request; its unique constraint kept one, and
        # the second pass answers with it.
        if not references:
            raise
        return _declarations_file(user, entries, lines)
    for result, entry in new:
        # A filer answered one by one gets its lines at hand rather than reading them back.
        result.declaration = bulk.with_lines(entry, declarant) if lines else entry.declaration
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
    places = places_unlisted([entry.filing for _, entry in todo], ref.today)
    good = []
    for result, entry in todo:
        try:
            cleaned = validate_against(entry.filing, ref, places)
            _check_claims(result.index, entry, cleaned, claimed, references)
            new = bulk.NewDeclaration(
                header=cleaned.header,
                container_numbers=cleaned.container_numbers,
                items=cleaned.items,
                submit=entry.submit,
                idempotency_key=entry.reference,
            )
            if entry.submit and entry.filing.kind == Declaration.Kind.SUMMARY:
                two_step.guarantee_take_for_batch(new)
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
    """One live message per organisation, after commit (the one assessment task for the
    batch's submitted declarations went in with the writes: `bulk.write(assess_task=...)`)."""
    submitted = [e.declaration for e in new if e.submit]
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
    cleaned = validate_filing(user=user, filing=filing, declaration=declaration)
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
        two_step.guarantee_draw_for_summary(declaration, user=user)
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
        cleaned = validate_filing(user=user, filing=filing, declaration=declaration)
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
        two_step.guarantee_restore(declaration, actor=user)
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
