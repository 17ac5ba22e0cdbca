"""What customs' assessment does to declarations: the inspection app, which owns assessment,
reports its outcome here (`declarations_record_assessment`, set-based for a vessel's
thousands) and releases a declaration once nothing of it is held (`declaration_release`);
a released full declaration completes its summary."""

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from declarations import events, services, two_step
from declarations.models import Declaration
from port import live
from port.errors import TransitionNotAllowed
from port.models import TimelineEvent, User
from port.timeline import timeline_copy


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
                    now + services.STEP2_DEADLINE,
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
        declaration.full_due_at = timezone.now() + services.STEP2_DEADLINE
        extra.append("full_due_at")
    services._set_status(declaration, Declaration.Status.RELEASED, actor=actor, extra_fields=extra)
    if declaration.summary_id:
        _summary_complete(declaration.summary_id, by=declaration)
    return declaration


# --- two-step: completing a summary (two_step.py holds its guarantee and step 2) -----------


def _summary_complete(summary_id: int, *, by: Declaration) -> None:
    summary = Declaration.objects.select_for_update().get(pk=summary_id)
    services._set_status(
        summary,
        Declaration.Status.COMPLETED,
        actor=None,
        data={"full_declaration": by.number},
    )
    two_step.guarantee_restore(summary, actor=None)
