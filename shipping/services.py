"""Every write about vessel calls: their lifecycle, the filings to five agencies and the reviews
(cargo.py holds the manifest and the dangerous-goods cross-check, edifact_imports.py the
EDIFACT files, boardings.py the boarding appointments)."""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from port import identifiers, limits, live, outbox
from port.errors import InvalidInput, TransitionNotAllowed
from port.models import Membership, Organisation, PortCall, TimelineEvent, User, Vessel
from port.timeline import timeline_record
from port.transitions import transition
from shipping import events
from shipping.filing_input import FilingInput, filing_validate
from shipping.models import (
    REVIEWING_KINDS,
    AgencyReview,
    FilingDangerousGood,
    FilingPerson,
    VesselFiling,
)
from shipping.tasks import dangerous_goods_check_task
from shipping.tasks import port_call_berthed_task as _berthed_task

F = VesselFiling.Status
R = AgencyReview.Status
# Who records a vessel's berthing and departure.
PORT_CALL_RECORDERS = {Organisation.Kind.PORT_AUTHORITY, Organisation.Kind.TERMINAL_OPERATOR}
# Functions other apps register to run when a call berths (see port_call_berthed_hook).
BERTHED_HOOKS: list = []


# --- Port calls ------------------------------------------------------------------------------


@transaction.atomic
def port_call_mark_berthed(
    *, port_call_id: int, user: User, berth_id: int | None = None, ata=None
) -> PortCall:
    """Record that the vessel is alongside: status berthed, ATA (now unless given), berth.

    Writes a timeline event; after commit publishes `shipping.port_call_berthed` and queues
    port_call_berthed_task, which runs the berthing hooks (the inspection app's diversion
    planning). Raises PermissionDenied, TransitionNotAllowed, InvalidInput.
    """
    _require_kind(user, PORT_CALL_RECORDERS)
    call = PortCall.objects.select_for_update().get(pk=port_call_id)
    fields = ["ata"]
    if berth_id is not None:
        if not call.terminal.berths.filter(pk=berth_id).exists():
            raise InvalidInput({"berth": [_("Choose a berth of this call's terminal.")]})
        call.berth_id = berth_id
        fields.append("berth")
    elif call.berth_id is None:
        raise InvalidInput({"berth": [_("Choose the berth the vessel is alongside.")]})
    call.ata = ata or timezone.now()
    _set_call_status(call, PortCall.Status.BERTHED, actor=user, extra_fields=fields)
    outbox.enqueue(_berthed_task.name, port_call_id=call.pk)
    return call


@transaction.atomic
def port_call_mark_departed(*, port_call_id: int, user: User, atd=None) -> PortCall:
    """Record the vessel's departure (ATD). Raises PermissionDenied, TransitionNotAllowed."""
    _require_kind(user, PORT_CALL_RECORDERS)
    call = PortCall.objects.select_for_update().get(pk=port_call_id)
    call.atd = atd or timezone.now()
    _set_call_status(call, PortCall.Status.DEPARTED, actor=user, extra_fields=["atd"])
    return call


def port_call_berthed_hook(*, port_call_id: int) -> None:
    """What happens once a call has berthed, run by port_call_berthed_task after commit.

    The extension point for other apps: the inspection app registers its diversion planning
    with `shipping.services.BERTHED_HOOKS.append(fn)` (in its AppConfig.ready); each hook
    receives `port_call_id=` and must be idempotent, since the task may run twice.
    """
    call = PortCall.objects.get(pk=port_call_id)
    if call.status == PortCall.Status.EXPECTED:
        return  # a stray task for a call that never berthed
    for hook in BERTHED_HOOKS:
        hook(port_call_id=port_call_id)


def _set_call_status(call: PortCall, new: str, *, actor: User | None, extra_fields=()) -> None:
    old = transition(call, new, extra_fields=extra_fields)
    timeline_record(
        subject=call,
        kind=TimelineEvent.Kind.PORT_CALL_STATUS_CHANGED,
        actor=actor,
        organisation=call.agent,
        data={"from": old, "to": new, "berth": call.berth_id},
    )
    event_type = (
        "shipping.port_call_berthed"
        if new == PortCall.Status.BERTHED
        else "shipping.port_call_status_changed"
    )
    groups = [events.port_call_group(call.pk)]
    if call.agent_id:
        groups.append(live.organisation_group(call.agent_id))
    live.publish_on_commit(
        groups=groups, event=events.port_call_status_changed(call, event_type=event_type)
    )


@dataclass(frozen=True)
class CallInput:
    imo_number: str
    vessel_name: str
    voyage: str
    terminal: str
    eta: datetime.datetime | str | None
    etd: datetime.datetime | str | None = None
    call_sign: str = ""
    mmsi: str = ""
    flag: str = ""
    gross_tonnage: int | str | None = None
    net_tonnage: int | str | None = None


@transaction.atomic
def port_call_announce(*, user: User, call: CallInput) -> PortCall:
    """A shipping agent announces a vessel's call at its port (status expected).

    Registers the vessel on first sight (IMO number with check digit) and refreshes its
    particulars; writes the call with the agent, a timeline event, and a live push after
    commit. Raises InvalidInput with every field-level error; writes nothing then.
    """
    agent = _agent_for(user)
    errors: dict = {}
    imo_number = (call.imo_number or "").strip().upper().removeprefix("IMO").strip()
    vessel = {
        "name": (call.vessel_name or "").strip().upper(),
        "call_sign": (call.call_sign or "").strip().upper(),
        "mmsi": (call.mmsi or "").strip(),
        "flag": (call.flag or "").strip().upper(),
    }
    _check(errors, "imo_number", identifiers.validate_imo_number, imo_number)
    if not vessel["name"]:
        errors["vessel_name"] = [_("This field is required.")]
    if vessel["mmsi"]:
        _check(errors, "mmsi", identifiers.validate_mmsi, vessel["mmsi"])
    if vessel["flag"]:
        _check(errors, "flag", identifiers.validate_country, vessel["flag"])
    for name in ("gross_tonnage", "net_tonnage"):
        vessel[name] = _tonnage(getattr(call, name), name, errors)
    voyage = (call.voyage or "").strip().upper()
    if not voyage or len(voyage) > 20:
        errors["voyage"] = [_("Enter the voyage number (up to 20 characters).")]
    terminal = (
        agent.port.terminals.filter(code=(call.terminal or "").strip().upper()).first()
        if agent.port_id
        else None
    )
    if terminal is None:
        errors["terminal"] = [_("Choose a terminal of your port.")]
    eta = _moment(call.eta, "eta", _("Enter the ETA as YYYY-MM-DD HH:MM."), errors)
    etd = None
    if call.etd not in (None, ""):
        etd = _moment(call.etd, "etd", _("Enter the ETD as YYYY-MM-DD HH:MM."), errors)
    if eta and etd and etd <= eta:
        errors["etd"] = [_("The ETD comes after the ETA.")]
    if (
        not errors
        and PortCall.objects.filter(
            vessel__imo_number=imo_number, port_id=agent.port_id, voyage=voyage
        ).exists()
    ):
        errors["voyage"] = [
            _("This vessel's voyage %(voyage)s is already announced.") % {"voyage": voyage}
        ]
    if errors:
        raise InvalidInput(errors)
    known = {k: v for k, v in vessel.items() if v not in ("", None)}
    ship, _created = Vessel.objects.update_or_create(imo_number=imo_number, defaults=known)
    new = PortCall.objects.create(
        vessel=ship,
        port_id=agent.port_id,
        terminal=terminal,
        voyage=voyage,
        eta=eta,
        etd=etd,
        agent=agent,
    )
    timeline_record(
        subject=new,
        kind=TimelineEvent.Kind.PORT_CALL_STATUS_CHANGED,
        actor=user,
        organisation=agent,
        data={"from": "", "to": new.status, "voyage": voyage},
    )
    live.publish_on_commit(
        groups=[live.organisation_group(agent.pk)],
        event=events.port_call_status_changed(new, event_type="shipping.port_call_status_changed"),
    )
    return new


def _moment(value, name: str, message: str, errors: dict) -> datetime.datetime | None:
    """A date and time inside the accepted window, or None with the field's error."""
    moment = limits.parse_moment(value)
    problem = message if moment is None else limits.moment_error(moment)
    if problem:
        errors[name] = [problem]
        return None
    return moment


def _tonnage(value, name: str, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if not 0 < number < 1_000_000:
        errors[name] = [_("Enter the tonnage as a whole number.")]
        return None
    return number


def _check(errors: dict, name: str, validator, value) -> None:
    try:
        validator(value)
    except ValidationError as error:
        errors[name] = [str(m) for m in error.messages]


# --- Filings ---------------------------------------------------------------------------------


@transaction.atomic
def filing_submit(
    *,
    user: User,
    port_call_id: int,
    direction: str,
    filing: FilingInput,
    idempotency_key: str = "",
) -> VesselFiling:
    """The shipping agent files arrival or departure once; it reaches the five agencies at once.

    Writes the filing with its crew, passenger and dangerous-goods lines, one pending review
    per agency, and a timeline event; after commit pushes the filing to every agency's
    organisation group. A repeat with the same idempotency key returns the first filing.
    Raises InvalidInput with every field-level error; writes nothing then.
    """
    agent = _agent_for(user)
    if idempotency_key:
        earlier = VesselFiling.objects.filter(agent=agent, idempotency_key=idempotency_key).first()
        if earlier is not None:
            return earlier
    call = PortCall.objects.select_related("terminal__operator").filter(pk=port_call_id).first()
    header, people, goods, errors = filing_validate(filing)
    if call is None:
        errors["port_call"] = [_("Choose a port call.")]
    elif call.agent_id not in (None, agent.pk):
        errors["port_call"] = [_("Another shipping agent acts for this call.")]
    if direction not in VesselFiling.Direction.values:
        errors["direction"] = [_("Choose arrival or departure.")]
    agencies = _reviewing_agencies(call) if call is not None else {}
    if call is not None and len(agencies) < len(REVIEWING_KINDS):
        missing = sorted(set(REVIEWING_KINDS) - set(agencies))
        errors["port_call"] = [
            _("No agency of kind %(kinds)s serves this port.")
            % {"kinds": ", ".join(str(Organisation.Kind(kind).label) for kind in missing)}
        ]
    if call is not None and not errors.get("direction") and _live_filing_exists(call, direction):
        errors["direction"] = [
            _("This call already has a %(direction)s filing.")
            % {"direction": str(VesselFiling.Direction(direction).label).lower()}
        ]
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin or duplicate is recovered
            new = VesselFiling.objects.create(
                port_call=call,
                direction=direction,
                agent=agent,
                created_by=user,
                idempotency_key=idempotency_key,
                submitted_at=timezone.now(),
                **header,
            )
    except IntegrityError:
        if idempotency_key:
            return VesselFiling.objects.get(agent=agent, idempotency_key=idempotency_key)
        raise InvalidInput(
            {
                "direction": [
                    _("This call already has a %(direction)s filing.")
                    % {"direction": str(VesselFiling.Direction(direction).label).lower()}
                ]
            }
        ) from None
    if call.agent_id is None:
        PortCall.objects.filter(pk=call.pk, agent__isnull=True).update(agent=agent)
    _write_lines(new, people, goods)
    AgencyReview.objects.bulk_create(
        AgencyReview(filing=new, agency=org, agency_kind=kind) for kind, org in agencies.items()
    )
    timeline_record(
        subject=new,
        kind=TimelineEvent.Kind.FILING_SUBMITTED,
        actor=user,
        organisation=agent,
        data={"direction": direction, "agencies": sorted(agencies), "version": 1},
    )
    live.publish_on_commit(
        groups=[live.organisation_group(org.pk) for org in agencies.values()]
        + events.filing_groups(new),
        event=events.filing_status_changed(new, event_type="shipping.filing_submitted"),
    )
    return new


@transaction.atomic
def filing_resubmit(*, user: User, filing_id: int, filing: FilingInput) -> VesselFiling:
    """The agent corrects a filing an agency sent back and submits it again.

    Replaces the filing's data and lines, bumps its version, and returns every review that
    asked for the correction to pending (approvals stand). Raises InvalidInput,
    TransitionNotAllowed, PermissionDenied.
    """
    locked = _locked_filing(filing_id)
    if locked.agent_id not in _member_ids(user):
        raise PermissionDenied
    if F.UNDER_REVIEW not in VesselFiling.TRANSITIONS[locked.status]:
        raise TransitionNotAllowed(obj=locked, old=locked.status, new=F.UNDER_REVIEW)
    header, people, goods, errors = filing_validate(filing)
    if errors:
        raise InvalidInput(errors)
    for name, value in header.items():
        setattr(locked, name, value)
    locked.version += 1
    locked.submitted_at = timezone.now()
    locked.people.all().delete()
    locked.dangerous_goods.all().delete()
    _write_lines(locked, people, goods)
    reopened = list(
        locked.reviews.select_for_update().filter(status=R.CORRECTION_REQUESTED).order_by("pk")
    )
    for review in reopened:
        review.filing = locked
        _set_review_status(review, R.PENDING, actor=user, comment="")
    _set_filing_status(
        locked,
        F.UNDER_REVIEW,
        actor=user,
        extra_fields=[*header, "version", "submitted_at"],
        data={"version": locked.version},
    )
    live.publish_on_commit(
        groups=[live.organisation_group(r.agency_id) for r in reopened],
        event=events.filing_status_changed(locked, event_type="shipping.filing_submitted"),
    )
    return locked


@transaction.atomic
def review_decide(*, review_id: int, user: User, decision: str, comment: str = "") -> AgencyReview:
    """An agency approves, asks for a correction (with comments) or rejects its review.

    Locks the filing first, so agencies deciding at the same instant go one after another
    and exactly one of them sees the last approval and clears the filing. A rejection
    rejects the filing; a correction request sends it back to the agent. Records the
    review's and the filing's timeline events and pushes both to the agent.
    Raises PermissionDenied, InvalidInput, TransitionNotAllowed.
    """
    review = AgencyReview.objects.only("filing_id", "agency_id").get(pk=review_id)
    if review.agency_id not in _member_ids(user):
        raise PermissionDenied
    comment = (comment or "").strip()
    if decision not in {R.APPROVED, R.CORRECTION_REQUESTED, R.REJECTED}:
        raise InvalidInput({"decision": [_("Choose approve, correction or reject.")]})
    if decision != R.APPROVED and not comment:
        raise InvalidInput({"comment": [_("Tell the agent what is wrong.")]})
    filing = _locked_filing(review.filing_id)  # the filing's lock orders concurrent decisions
    review = AgencyReview.objects.select_for_update().get(pk=review_id)
    review.filing = filing
    if filing.status != F.UNDER_REVIEW:
        raise TransitionNotAllowed(obj=filing, old=filing.status, new=decision)
    _set_review_status(review, decision, actor=user, comment=comment)
    if decision == R.REJECTED:
        _set_filing_status(filing, F.REJECTED, actor=user, data={"by": review.agency_kind})
    elif decision == R.CORRECTION_REQUESTED:
        _set_filing_status(
            filing, F.CORRECTION_REQUESTED, actor=user, data={"by": review.agency_kind}
        )
    elif not filing.reviews.exclude(status=R.APPROVED).exists():
        filing.cleared_at = timezone.now()
        _set_filing_status(filing, F.CLEARED, actor=user, extra_fields=["cleared_at"])
    return review


def _set_review_status(review: AgencyReview, new: str, *, actor: User, comment: str) -> None:
    review.comment = comment
    review.decided_by = actor if new != R.PENDING else None
    review.decided_at = timezone.now() if new != R.PENDING else None
    old = transition(review, new, extra_fields=["comment", "decided_by", "decided_at"])
    timeline_record(
        subject=review.filing,
        kind=TimelineEvent.Kind.FILING_REVIEW_DECIDED,
        actor=actor,
        organisation=review.filing.agent,
        data={"agency": review.agency_kind, "from": old, "to": new, "comment": comment},
    )
    live.publish_on_commit(
        groups=[*events.filing_groups(review.filing), live.organisation_group(review.agency_id)],
        event=events.review_decided(review),
    )


def _set_filing_status(
    filing: VesselFiling, new: str, *, actor: User, extra_fields=(), data: dict | None = None
) -> None:
    old = transition(filing, new, extra_fields=extra_fields)
    timeline_record(
        subject=filing,
        kind=TimelineEvent.Kind.FILING_STATUS_CHANGED,
        actor=actor,
        organisation=filing.agent,
        data={"from": old, "to": new, **(data or {})},
    )
    agency_groups = [
        live.organisation_group(agency_id)
        for agency_id in filing.reviews.values_list("agency_id", flat=True)
    ]
    live.publish_on_commit(
        groups=[*events.filing_groups(filing), *agency_groups],
        event=events.filing_status_changed(filing, event_type="shipping.filing_status_changed"),
    )
    if new == F.CLEARED and filing.dangerous_goods.exists():
        # A maritime approval changes what the cross-check finds.
        outbox.enqueue(dangerous_goods_check_task.name, port_call_id=filing.port_call_id)


def _locked_filing(filing_id: int) -> VesselFiling:
    return (
        VesselFiling.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=filing_id)
    )


def _write_lines(filing: VesselFiling, people: list[dict], goods: list[dict]) -> None:
    FilingPerson.objects.bulk_create(FilingPerson(filing=filing, **p) for p in people)
    FilingDangerousGood.objects.bulk_create(FilingDangerousGood(filing=filing, **g) for g in goods)


def _reviewing_agencies(call: PortCall) -> dict[str, Organisation]:
    """One organisation per reviewing kind: the call terminal's operator, the port's others."""
    found: dict[str, Organisation] = {}
    if call.terminal.operator_id:
        found[Organisation.Kind.TERMINAL_OPERATOR] = call.terminal.operator
    for org in Organisation.objects.filter(port_id=call.port_id, kind__in=REVIEWING_KINDS).order_by(
        "pk"
    ):
        found.setdefault(org.kind, org)
    return found


def _live_filing_exists(call: PortCall, direction: str) -> bool:
    return (
        VesselFiling.objects.filter(port_call=call, direction=direction)
        .exclude(status=F.REJECTED)
        .exists()
    )


# --- Who may act -----------------------------------------------------------------------------


def _member_ids(user: User) -> set[int]:
    return set(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))


def _require_kind(user: User, kinds: set[str]) -> None:
    if user.is_superuser:
        return
    if not Membership.objects.filter(user=user, organisation__kind__in=kinds).exists():
        raise PermissionDenied(_("Your organisation may not do this."))


def _agent_for(user: User) -> Organisation:
    agent = (
        Organisation.objects.filter(kind=Organisation.Kind.SHIPPING_AGENT, memberships__user=user)
        .order_by("pk")
        .first()
    )
    if agent is None:
        raise InvalidInput({"agent": [_("Only shipping agents file for vessels.")]})
    return agent
