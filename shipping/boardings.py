"""Boarding appointments: an agency books a boarding of a vessel during its call, or the call's
agent (or an enterprise with goods on it) asks an agency for one; the agency confirms, records
it done and releases the vessel, and either side may cancel one not yet made. Each change is a
timeline event on the call, pushed live to the agency, the agent and the requester."""

import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from port import limits, live
from port.errors import InvalidInput, NotYours
from port.models import Organisation, PortCall, TimelineEvent, User
from port.queries import organisation_ids_for
from port.timeline import timeline_record
from port.transitions import transition
from shipping import events, queries
from shipping.models import REVIEWING_KINDS, BoardingAppointment


@transaction.atomic
def boarding_book(
    *, user: User, port_call_id: int, scheduled_at, purpose: str
) -> BoardingAppointment:
    """An agency books a boarding of the vessel during its call. Writes a timeline event on
    the call and tells the agent after commit. Raises PermissionDenied, InvalidInput."""
    agency = _reviewing_agency_of(user)
    call = PortCall.objects.select_for_update().get(pk=port_call_id)
    errors: dict = {}
    moment = _boarding_moment(scheduled_at, purpose, call, errors)
    if errors:
        raise InvalidInput(errors)
    boarding = BoardingAppointment.objects.create(
        port_call=call,
        agency=agency,
        booked_by=user,
        scheduled_at=moment,
        purpose=purpose.strip(),
        confirmed_at=timezone.now(),
    )
    _boarding_event(boarding, old="", actor=user)
    return boarding


@transaction.atomic
def boarding_request(
    *, user: User, port_call_id: int, agency_id, scheduled_at, purpose: str
) -> BoardingAppointment:
    """The call's shipping agent, or an enterprise with goods declared on the call, asks an
    agency to board the vessel at a time; the agency confirms. Writes a timeline event on the
    call and tells the agency after commit. Raises NotYours (neither), InvalidInput."""
    call = PortCall.objects.select_for_update().get(pk=port_call_id)
    requester = queries.boarding_requester(user=user, port_call=call)
    if requester is None:
        raise NotYours()
    errors: dict = {}
    agency = (
        Organisation.objects.filter(kind__in=REVIEWING_KINDS, pk=int(agency_id)).first()
        if str(agency_id or "").isdigit()
        else None
    )
    if agency is None:
        errors["agency"] = [_("Choose the agency that boards.")]
    moment = _boarding_moment(scheduled_at, purpose, call, errors)
    if errors:
        raise InvalidInput(errors)
    boarding = BoardingAppointment.objects.create(
        port_call=call,
        agency=agency,
        booked_by=user,
        requested_by_id=requester,
        scheduled_at=moment,
        purpose=purpose.strip(),
        status=BoardingAppointment.Status.REQUESTED,
    )
    _boarding_event(boarding, old="", actor=user)
    return boarding


def _boarding_moment(scheduled_at, purpose, call: PortCall, errors: dict):
    moment = limits.parse_moment(scheduled_at)
    problem = (
        _("Enter the boarding time as YYYY-MM-DD HH:MM.")
        if moment is None
        else limits.moment_error(moment)
    )
    if problem:
        errors["scheduled_at"] = [problem]
        moment = None
    if moment and moment < timezone.now() - datetime.timedelta(hours=1):
        errors["scheduled_at"] = [_("A boarding is booked for now or later.")]
    if not (purpose or "").strip():
        errors["purpose"] = [_("Say what the boarding is for.")]
    if call.status == PortCall.Status.DEPARTED:
        errors["port_call"] = [_("The vessel has departed.")]
    return moment


@transaction.atomic
def boarding_confirm(*, boarding_id: int, user: User) -> BoardingAppointment:
    """The agency confirms a boarding the agent requested. Raises TransitionNotAllowed."""
    boarding = _locked_boarding(boarding_id, user, agency_only=True)
    boarding.confirmed_at = timezone.now()
    return _move_boarding(boarding, BoardingAppointment.Status.BOOKED, user, ["confirmed_at"])


@transaction.atomic
def boarding_complete(*, boarding_id: int, user: User) -> BoardingAppointment:
    """The agency records that its officers boarded and finished. Raises TransitionNotAllowed."""
    boarding = _locked_boarding(boarding_id, user, agency_only=True)
    boarding.completed_at = timezone.now()
    return _move_boarding(boarding, BoardingAppointment.Status.COMPLETED, user, ["completed_at"])


@transaction.atomic
def boarding_release(*, boarding_id: int, user: User) -> BoardingAppointment:
    """The agency releases the vessel after the boarding: the end of booking → release."""
    boarding = _locked_boarding(boarding_id, user, agency_only=True)
    boarding.released_at = timezone.now()
    return _move_boarding(boarding, BoardingAppointment.Status.RELEASED, user, ["released_at"])


@transaction.atomic
def boarding_cancel(*, boarding_id: int, user: User) -> BoardingAppointment:
    """The agency, or the agent that requested it, cancels a boarding not yet made."""
    boarding = _locked_boarding(boarding_id, user, agency_only=False)
    return _move_boarding(boarding, BoardingAppointment.Status.CANCELLED, user, [])


def _locked_boarding(boarding_id: int, user: User, *, agency_only: bool) -> BoardingAppointment:
    boarding = (
        BoardingAppointment.objects.select_for_update(of=("self",))
        .select_related("port_call", "agency", "requested_by")
        .get(pk=boarding_id)
    )
    members = organisation_ids_for(user)
    if boarding.agency_id in members:
        return boarding
    if not agency_only and boarding.requested_by_id in members:
        return boarding
    raise PermissionDenied


def _move_boarding(boarding, new: str, user: User, fields: list[str]) -> BoardingAppointment:
    old = transition(boarding, new, extra_fields=fields)
    _boarding_event(boarding, old=old, actor=user)
    return boarding


def _boarding_event(boarding: BoardingAppointment, *, old: str, actor: User) -> None:
    call = boarding.port_call
    timeline_record(
        subject=call,
        kind=TimelineEvent.Kind.BOARDING_CHANGED,
        actor=actor,
        # the requester hears of it: the enterprise that asked, else the call's agent
        organisation=boarding.requested_by or call.agent,
        data={
            "boarding": boarding.pk,
            "agency": boarding.agency.kind,
            "requested_by": boarding.requested_by.kind if boarding.requested_by else "",
            "vessel": call.vessel.name,
            "voyage": call.voyage,
            "from": old,
            "to": boarding.status,
            "scheduled_at": boarding.scheduled_at.isoformat(),
        },
    )
    groups = [events.port_call_group(call.pk), live.organisation_group(boarding.agency_id)]
    for organisation_id in {call.agent_id, boarding.requested_by_id} - {None}:
        groups.append(live.organisation_group(organisation_id))
    live.publish_on_commit(groups=groups, event=events.boarding_changed(boarding))


def _reviewing_agency_of(user: User) -> Organisation:
    agency = (
        Organisation.objects.filter(kind__in=REVIEWING_KINDS, memberships__user=user)
        .order_by("pk")
        .first()
    )
    if agency is None:
        raise PermissionDenied(_("Only the reviewing agencies book boardings."))
    return agency
