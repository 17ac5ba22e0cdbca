"""The enterprise's side of its inspection: a request not to attend (免于到场), decided by an
officer of the area's customs office, and the live queue place (`queue_moved`).

`attendance_request` is made by a member of the enterprise or its broker for a ticket not yet
being inspected; `attendance_decide` approves or refuses it. Both write the timeline (the
enterprise's notification) and push to the officers' board and the declaration's watchers.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import events as declaration_events
from inspection import events, queries
from inspection.models import AttendanceRequest, Inspection
from port import live
from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent, User
from port.queries import customs_office_ids_for
from port.timeline import timeline_record
from port.transitions import transition

OPEN = {Inspection.Status.QUEUED, Inspection.Status.CALLED}


@transaction.atomic
def attendance_request(*, inspection_id: int, user: User, reason: str) -> AttendanceRequest:
    """Ask not to attend the inspection of one ticket, with a reason; once per ticket.
    Raises NotYours (not the user's declaration), InvalidInput."""
    ticket = queries.ticket_get_for_trader(user=user, inspection_id=inspection_id)
    # Locked: the officer starting the inspection and the request are decided in turn.
    ticket = (
        Inspection.objects.select_for_update()
        .select_related("area", "decision__container", "decision__declaration__enterprise")
        .get(pk=ticket.pk)
    )
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why nobody needs to attend.")]
    if ticket.status not in OPEN:
        errors["inspection"] = [_("The inspection has begun or ended; it is too late to ask.")]
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            request = AttendanceRequest.objects.create(
                inspection=ticket, requested_by=user, reason=reason[:300]
            )
    except IntegrityError:
        raise InvalidInput(
            {"inspection": [_("A request not to attend was already made for this ticket.")]}
        ) from None
    _record(request, ticket, TimelineEvent.Kind.ATTENDANCE_REQUESTED, actor=user)
    return request


@transaction.atomic
def attendance_decide(
    *, request_id: int, officer: User, approve: bool, note: str = ""
) -> AttendanceRequest:
    """An officer of the area's office approves or refuses a request not to attend.
    Raises NotYours, InvalidInput, TransitionNotAllowed (decided already)."""
    request = (
        AttendanceRequest.objects.select_for_update(of=("self",))
        .select_related("inspection__area", "inspection__decision__container")
        .select_related("inspection__decision__declaration__enterprise")
        .filter(pk=request_id)
        .first()
    )
    if request is None or request.inspection.area.customs_office_id not in customs_office_ids_for(
        officer
    ):
        raise NotYours()
    note = (note or "").strip()
    if not approve and not note:
        raise InvalidInput({"note": [_("Tell the enterprise why it must attend.")]})
    request.decided_by, request.decided_at, request.decision_note = (
        officer,
        timezone.now(),
        note[:300],
    )
    new = AttendanceRequest.Status.APPROVED if approve else AttendanceRequest.Status.REFUSED
    transition(request, new, extra_fields=["decided_by", "decided_at", "decision_note"])
    _record(request, request.inspection, TimelineEvent.Kind.ATTENDANCE_DECIDED, actor=officer)
    return request


def _record(request: AttendanceRequest, ticket: Inspection, kind, *, actor: User) -> None:
    declaration = ticket.decision.declaration
    timeline_record(
        subject=request,
        kind=kind,
        actor=actor,
        organisation=declaration.enterprise,
        data={
            "declaration_id": declaration.pk,
            "number": declaration.number or "",
            "container": ticket.decision.container.number,
            "ticket": ticket.ticket,
            "to": request.status,
            "note": request.decision_note,
        },
    )
    live.publish_on_commit(
        groups=[
            events.queue_group(ticket.area.customs_office_id),
            *declaration_events.declaration_groups(declaration),
        ],
        event=events.attendance_changed(request, declaration.pk),
    )


def queue_moved_publish(*, area_id: int) -> None:
    """Tell the organisations waiting at the area that their places changed (after commit)."""
    organisations = queries.waiting_organisations_of_area(area_id=area_id)
    if organisations:
        live.publish_on_commit(
            groups=[live.organisation_group(org) for org in organisations],
            event=events.queue_moved(area_id),
        )
