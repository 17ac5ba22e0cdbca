"""Every write about vessel calls: their lifecycle, the filings to five agencies and the reviews,
the cargo manifest, EDIFACT imports, the dangerous-goods cross-check and boarding appointments."""

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from port import identifiers, limits, live, outbox
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Membership, Organisation, PortCall, TimelineEvent, User, Vessel
from port.timeline import timeline_record
from port.transitions import transition
from shipping import events, queries, reference
from shipping.models import (
    HEALTH_QUESTIONS,
    REVIEWING_KINDS,
    AgencyReview,
    BoardingAppointment,
    FilingDangerousGood,
    FilingPerson,
    VesselFiling,
)
from shipping.tasks import dangerous_goods_check_task
from shipping.tasks import port_call_berthed_task as _berthed_task

F = VesselFiling.Status
R = AgencyReview.Status
# Who records a vessel's berthing and departure.
# The crew and passenger counts are small integers in the database.
MAX_HEADCOUNT = 32767
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


# --- Filings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonInput:
    family_name: str
    given_names: str
    nationality: str
    date_of_birth: datetime.date | str | None
    document_number: str
    rank: str = ""


@dataclass(frozen=True)
class DangerousGoodInput:
    container_number: str
    un_number: str
    imdg_class: str
    proper_shipping_name: str
    gross_mass_kg: str
    packing_group: str = ""
    stowage_position: str = ""


@dataclass(frozen=True)
class FilingInput:
    master_name: str
    crew_count: int | str
    crew: list[PersonInput]
    passenger_count: int | str = 0
    passengers: list[PersonInput] = field(default_factory=list)
    dangerous_goods: list[DangerousGoodInput] = field(default_factory=list)
    last_port: str = ""
    next_port: str = ""
    cargo_description: str = ""
    remarks: str = ""
    health: dict = field(default_factory=dict)


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
    header, people, goods, errors = _validate_filing(filing)
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
    header, people, goods, errors = _validate_filing(filing)
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


def _validate_filing(filing: FilingInput) -> tuple[dict, list[dict], list[dict], dict]:
    _check_sizes(filing)
    errors: dict = {}
    header = {
        "master_name": (filing.master_name or "").strip(),
        "last_port": (filing.last_port or "").strip().upper(),
        "next_port": (filing.next_port or "").strip().upper(),
        "cargo_description": (filing.cargo_description or "").strip(),
        "remarks": (filing.remarks or "").strip(),
    }
    if not header["master_name"]:
        errors["master_name"] = [_("This field is required.")]
    for name in ("last_port", "next_port"):
        if header[name]:
            _check(errors, name, identifiers.validate_unlocode, header[name])
    for name in ("crew_count", "passenger_count"):
        header[name] = _count(filing, name, errors)
    header["health"] = _health(filing.health, errors)
    people = _people(filing.crew, FilingPerson.Role.CREW, "crew", errors)
    people += _people(filing.passengers, FilingPerson.Role.PASSENGER, "passengers", errors)
    if not filing.crew:
        errors["crew"] = [_("List the crew (FAL 5).")]
    elif header["crew_count"] is not None and header["crew_count"] != len(filing.crew):
        errors["crew_count"] = [
            _("The crew list has %(n)s people, not %(count)s.")
            % {"n": len(filing.crew), "count": header["crew_count"]}
        ]
    passengers = len(filing.passengers)
    if header["passenger_count"] is not None and header["passenger_count"] != passengers:
        errors["passenger_count"] = [
            _("The passenger list has %(n)s people, not %(count)s.")
            % {"n": passengers, "count": header["passenger_count"]}
        ]
    goods = _goods(filing.dangerous_goods, errors)
    return header, people, goods, errors


def _check_sizes(filing: FilingInput) -> None:
    """Refuse lists no real vessel reaches before validating any entry of them."""
    errors = {}
    for name, maximum in (
        ("crew", limits.MAX_CREW),
        ("passengers", limits.MAX_PASSENGERS),
        ("dangerous_goods", limits.MAX_DANGEROUS_GOODS),
    ):
        if message := limits.list_error(getattr(filing, name), maximum=maximum):
            errors[name] = [message]
    if errors:
        raise InvalidInput(errors)


def _count(filing: FilingInput, name: str, errors: dict) -> int | None:
    try:
        value = int(str(getattr(filing, name)).strip() or "0")
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_HEADCOUNT:
        errors[name] = [
            _("Enter a whole number from 0 to %(maximum)s.") % {"maximum": MAX_HEADCOUNT}
        ]
        return None
    return value


def _health(health: dict, errors: dict) -> dict:
    health = health or {}
    answers = {}
    missing = []
    for question in HEALTH_QUESTIONS:
        value = health.get(question)
        if isinstance(value, str):
            value = {"yes": True, "true": True, "no": False, "false": False}.get(value.lower())
        if not isinstance(value, bool):
            missing.append(question)
        answers[question] = value
    if missing:
        errors["health"] = [
            _("Answer yes or no to every health question: %(q)s.") % {"q": ", ".join(missing)}
        ]
    answers["notes"] = str(health.get("notes", "")).strip()[:500]
    return answers


def _people(people: list[PersonInput], role: str, key: str, errors: dict) -> list[dict]:
    rows, problems = [], {}
    for index, person in enumerate(people):
        row = {
            "role": role,
            "family_name": (person.family_name or "").strip(),
            "given_names": (person.given_names or "").strip(),
            "rank": (person.rank or "").strip(),
            "nationality": (person.nationality or "").strip().upper(),
            "document_number": (person.document_number or "").strip().upper(),
            "date_of_birth": limits.parse_day(person.date_of_birth),
        }
        found: dict = {}
        for name in ("family_name", "given_names", "document_number"):
            if not row[name]:
                found[name] = [_("This field is required.")]
        _check(found, "nationality", identifiers.validate_country, row["nationality"])
        if row["date_of_birth"] is None:
            found["date_of_birth"] = [_("Enter the date of birth as YYYY-MM-DD.")]
        elif message := limits.birth_date_error(row["date_of_birth"]):
            found["date_of_birth"] = [message]
        if found:
            problems[str(index)] = found
        rows.append(row)
    if problems:
        errors[key] = problems
    return rows


def _goods(goods: list[DangerousGoodInput], errors: dict) -> list[dict]:
    rows, problems = [], {}
    for index, item in enumerate(goods):
        row = {
            "container_number": identifiers.normalise_container_number(item.container_number),
            "un_number": (item.un_number or "").strip().upper().removeprefix("UN"),
            "imdg_class": (item.imdg_class or "").strip(),
            "packing_group": (item.packing_group or "").strip().upper(),
            "proper_shipping_name": (item.proper_shipping_name or "").strip(),
            "stowage_position": (item.stowage_position or "").strip(),
        }
        found: dict = {}
        _check(
            found,
            "container_number",
            identifiers.validate_container_number,
            row["container_number"],
        )
        _check(found, "un_number", reference.validate_un_number, row["un_number"])
        _check(found, "imdg_class", reference.validate_imdg_class, row["imdg_class"])
        _check(found, "packing_group", reference.validate_packing_group, row["packing_group"])
        if row["stowage_position"]:
            _check(found, "stowage_position", reference.validate_stowage, row["stowage_position"])
        if not row["proper_shipping_name"]:
            found["proper_shipping_name"] = [_("This field is required.")]
        row["gross_mass_kg"], message = limits.decimal_error(
            item.gross_mass_kg,
            max_digits=10,
            decimal_places=1,
            above_minimum=True,
            message=_("Enter the gross mass in kg, more than 0."),
        )
        if message:
            found["gross_mass_kg"] = [message]
        if found:
            problems[str(index)] = found
        rows.append(row)
    if problems:
        errors["dangerous_goods"] = problems
    return rows


def _check(errors: dict, name: str, validator, value) -> None:
    try:
        validator(value)
    except ValidationError as error:
        errors[name] = [str(m) for m in error.messages]


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


# --- Boarding appointments -------------------------------------------------------------------


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
    moment = _moment(
        scheduled_at, "scheduled_at", _("Enter the boarding time as YYYY-MM-DD HH:MM."), errors
    )
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
    members = _member_ids(user)
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
