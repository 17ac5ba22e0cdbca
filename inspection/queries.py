import datetime

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import queries as declaration_queries
from declarations.models import Declaration
from inspection import events
from inspection.models import (
    AccessCheck,
    Alert,
    AttendanceRequest,
    Decision,
    DiversionInstruction,
    GateEvent,
    Inspection,
    InspectionBooking,
    Outcome,
    RiskRule,
    RuleSetVersion,
)
from port.models import InspectionArea, Membership, Organisation, PortCall, Terminal, User
from port.queries import customs_office_ids_for, organisation_ids_for


def inspection_queue(*, user: User) -> QuerySet[Decision]:
    """Containers selected for inspection in the user's customs offices, oldest first."""
    return (
        Decision.objects.filter(inspection_area__customs_office_id__in=customs_office_ids_for(user))
        .exclude(outcome=Outcome.RELEASE)
        .select_related("container", "inspection_area", "declaration__enterprise", "inspection")
        .order_by("created_at", "pk")
    )


def selected_awaiting_arrival(*, user: User) -> QuerySet[Decision]:
    """Selected containers that have not reached the inspection area yet."""
    return inspection_queue(user=user).filter(inspection__isnull=True)


def areas_for(user: User) -> QuerySet[InspectionArea]:
    """The inspection areas a user works: officers their office's, terminals their own."""
    terminals = Terminal.objects.filter(operator_id__in=organisation_ids_for(user))
    return (
        InspectionArea.objects.filter(
            Q(customs_office_id__in=customs_office_ids_for(user)) | Q(terminal__in=terminals)
        )
        .select_related("terminal", "customs_office")
        .order_by("code")
    )


def tickets_for(*, user: User) -> QuerySet[Inspection]:
    """Tickets at the user's inspection areas: the officers' board, the terminal's hoisting list."""
    return (
        Inspection.objects.filter(area__in=areas_for(user))
        .select_related(
            "area", "officer", "decision__container", "decision__declaration__enterprise"
        )
        .order_by("queue_date", "queue_number")
    )


def open_tickets_for(*, user: User) -> QuerySet[Inspection]:
    return tickets_for(user=user).exclude(status__in=Inspection.FINISHED)


def ticket_get_for_user(*, user: User, inspection_id: int) -> Inspection:
    try:
        return (
            tickets_for(user=user)
            .prefetch_related("consultations__asked_by", "consultations__expert", "photos")
            .get(pk=inspection_id)
        )
    except (Inspection.DoesNotExist, ValueError, TypeError):
        raise Http404("No such inspection") from None


def decision_get_for_officer(*, user: User, decision_id: int) -> Decision:
    try:
        return (
            inspection_queue(user=user)
            .select_related("rule_set_version", "overridden_by")
            .get(pk=decision_id)
        )
    except (Decision.DoesNotExist, ValueError, TypeError):
        raise Http404("No such decision") from None


def alerts_for(*, user: User) -> QuerySet[Alert]:
    return Alert.objects.filter(customs_office_id__in=customs_office_ids_for(user)).select_related(
        "container", "gate_event__terminal"
    )


def gate_events_for(*, user: User) -> QuerySet[GateEvent]:
    terminals = Terminal.objects.filter(operator_id__in=organisation_ids_for(user))
    return GateEvent.objects.filter(terminal__in=terminals).select_related("container", "terminal")


def rules_for_officer(*, user: User) -> QuerySet[RiskRule]:
    if not customs_office_ids_for(user):
        return RiskRule.objects.none()
    return RiskRule.objects.prefetch_related("watched_enterprises").order_by("priority", "pk")


def current_rule_set() -> RuleSetVersion | None:
    return RuleSetVersion.objects.order_by("-number").first()


def inspection_queue_live_group(user: User, key: str) -> str | None:
    """The live group of a customs office's queue, for that office's officers."""
    if not key.isdigit() or int(key) not in customs_office_ids_for(user):
        return None
    return events.queue_group(int(key))


def decisions_for_declaration(*, declaration_id: int) -> QuerySet[Decision]:
    return Decision.objects.filter(declaration_id=declaration_id).select_related("container")


def decisions_with_whereabouts(declaration: Declaration) -> list[Decision]:
    """A declaration's decisions, each with `whereabouts` (`container_whereabouts`): what
    its page shows. Registered in `declarations.queries.DECISION_READERS`. Three queries."""
    decisions = list(decisions_for_declaration(declaration_id=declaration.pk))
    whereabouts = container_whereabouts(
        port_call_id=declaration.port_call_id, container_ids=[d.container_id for d in decisions]
    )
    for decision in decisions:
        decision.whereabouts = whereabouts[decision.container_id]
    return decisions


def diversion_call_for_user(*, user: User, port_call_id: int):
    """A call's diversion is seen by its terminal's operator, customs and the port authority."""
    kinds = {Organisation.Kind.CUSTOMS_OFFICE, Organisation.Kind.PORT_AUTHORITY}
    org_ids = organisation_ids_for(user)
    allowed = Q(terminal__operator_id__in=org_ids) | Q(
        port__organisations__in=Organisation.objects.filter(pk__in=org_ids, kind__in=kinds)
    )
    try:
        return (
            PortCall.objects.filter(allowed)
            .select_related("vessel", "terminal")
            .distinct()
            .get(pk=port_call_id)
        )
    except (PortCall.DoesNotExist, ValueError, TypeError):
        raise Http404("No such port call") from None


def declaration_ids_of_inspections(*, inspection_ids: list[int]) -> dict[int, int]:
    """Each inspection's declaration id, in one query (for analytics' clearance stages)."""
    return dict(
        Inspection.objects.filter(pk__in=inspection_ids).values_list(
            "pk", "decision__declaration_id"
        )
    )


def queue_by_area(*, enterprise_ids: list[int] | None = None) -> list[dict]:
    """Open tickets per inspection area, and when the oldest arrived; an enterprise's own
    containers only when `enterprise_ids` is given. Current state: a bounded set of rows."""
    tickets = Inspection.objects.exclude(status__in=Inspection.FINISHED)
    if enterprise_ids is not None:
        tickets = tickets.filter(decision__declaration__enterprise_id__in=enterprise_ids)
    return list(
        tickets.values("area_id", "area__code", "area__name", "area__terminal__code")
        .annotate(waiting=Count("pk"), oldest=Min("created_at"))
        .order_by("area__code")
    )


def port_call_ids_with_open_assessments() -> list[int]:
    """Vessel calls a new rule-set version may change: a declaration not yet decided, or a
    decision still open (selected, not overridden, no inspection ticket) of a declaration
    awaiting inspection. Two queries."""
    open_decisions = (
        Decision.objects.filter(
            declaration__status=Declaration.Status.INSPECTION_REQUIRED,
            overridden_by__isnull=True,
            overridden_outcome="",
            inspection__isnull=True,
        )
        .exclude(outcome=Outcome.RELEASE)
        .order_by()
        .values_list("declaration__port_call_id", flat=True)
        .distinct()
    )
    undecided = declaration_queries.port_call_ids_with_undecided_declarations()
    return sorted(undecided | set(open_decisions))


def port_call_get_for_officer(*, user: User, port_call_id: int):
    """A vessel call at the port of one of the officer's customs offices, or a 404."""
    offices = Organisation.objects.filter(pk__in=customs_office_ids_for(user))
    try:
        return (
            PortCall.objects.filter(port__in=offices.values("port"))
            .select_related("vessel", "terminal")
            .get(pk=port_call_id)
        )
    except (PortCall.DoesNotExist, ValueError, TypeError):
        raise Http404("No such port call") from None


def port_calls_open_for_reassessment(*, user: User):
    """The calls at the officer's ports with declarations open to re-assessment, for the
    rules page's "re-assess this vessel call"."""
    offices = Organisation.objects.filter(pk__in=customs_office_ids_for(user))
    return (
        PortCall.objects.filter(
            port__in=offices.values("port"),
            pk__in=Declaration.objects.filter(status__in=Declaration.OPEN_STATUSES).values(
                "port_call_id"
            ),
        )
        .select_related("vessel")
        .order_by("eta")
    )


def containers_awaiting_discharge(*, port_call_id: int, limit: int) -> list[str]:
    """Containers of a call with a diversion instruction, not yet reported off the ship."""
    return list(
        DiversionInstruction.objects.filter(port_call_id=port_call_id, discharged_at__isnull=True)
        .order_by("pk")
        .values_list("container__number", flat=True)[:limit]
    )


def discharge_progress(*, port_call_ids: list[int]) -> dict[int, dict]:
    """Per call: containers still aboard and discharged, of those it has instructions for."""
    rows = (
        DiversionInstruction.objects.filter(port_call_id__in=port_call_ids)
        .values("port_call_id")
        .annotate(
            aboard=Count("pk", filter=Q(discharged_at__isnull=True)),
            discharged=Count("pk", filter=Q(discharged_at__isnull=False)),
        )
    )
    return {row["port_call_id"]: row for row in rows}


def container_whereabouts(*, port_call_id: int, container_ids: list[int]) -> dict[int, dict]:
    """Where each of a consignment's containers is, for its owner: its diversion on the
    call (destination, when it came off the ship) and its last move through a gate. Two
    queries, whatever the number of containers."""
    instructions = {
        i.container_id: i
        for i in DiversionInstruction.objects.filter(
            port_call_id=port_call_id, container_id__in=container_ids
        )
    }
    gates = {
        g.container_id: g
        for g in GateEvent.objects.filter(container_id__in=container_ids, allowed=True)
        .order_by("container_id", "-created_at", "-pk")
        .distinct("container_id")
    }
    return {
        cid: {"instruction": instructions.get(cid), "gate": gates.get(cid)} for cid in container_ids
    }


def gate_events_between(*, start, end) -> QuerySet[GateEvent]:
    """Port gate events (every terminal) in [start, end), for reconciliation."""
    return GateEvent.objects.filter(created_at__gte=start, created_at__lt=end)


def access_holds(*, declaration_ids: list[int]) -> dict[int, list[str]]:
    """The stages not yet released, by declaration: what holds its containers."""
    holds: dict[int, list[str]] = {}
    for declaration_id, kind in (
        AccessCheck.objects.filter(declaration_id__in=[pk for pk in declaration_ids if pk])
        .exclude(status=AccessCheck.Status.RELEASED)
        .order_by("declaration_id", "kind")
        .values_list("declaration_id", "kind")
    ):
        holds.setdefault(declaration_id, []).append(kind)
    return holds


def _trader_scope(user: User, path: str) -> Q:
    """Rows of declarations the user's organisations own or filed (declaration_list's rule)."""
    org_ids = organisation_ids_for(user)
    return Q(**{f"{path}__enterprise_id__in": org_ids}) | Q(
        **{f"{path}__declarant_id__in": org_ids}
    )


def _office_ids_of(user: User, roles) -> list[int]:
    return list(
        Membership.objects.filter(
            user=user, organisation__kind=Organisation.Kind.CUSTOMS_OFFICE, role__in=roles
        ).values_list("organisation_id", flat=True)
    )


ACCESS_ROLES = [
    Membership.Role.QUARANTINE,
    Membership.Role.OFFICER,
    Membership.Role.SUPERVISOR,
]


def access_checks_for(*, user: User, status: str = "") -> QuerySet[AccessCheck]:
    """Access stages the user may see: an office's (its officers, supervisors and quarantine
    officers), or those of declarations the user may see (the enterprise and its broker)."""
    offices = _office_ids_of(user, ACCESS_ROLES)
    scope = Q(customs_office_id__in=offices) | _trader_scope(user, "declaration")
    checks = AccessCheck.objects.filter(scope).select_related(
        "declaration__enterprise", "declaration__port_call__vessel", "decided_by"
    )
    if status:
        checks = checks.filter(status=status)
    return checks.order_by("created_at", "pk")


def access_check_get_for_user(*, user: User, check_id) -> AccessCheck:
    try:
        return access_checks_for(user=user).get(pk=int(check_id))
    except (AccessCheck.DoesNotExist, ValueError, TypeError):
        raise Http404("No such access check") from None


def access_checks_for_declaration(*, declaration_id: int) -> list[AccessCheck]:
    """A declaration's stages; the caller has scoped the declaration to its user."""
    return list(
        AccessCheck.objects.filter(declaration_id=declaration_id)
        .select_related("decided_by")
        .order_by("kind")
    )


def trader_tickets(*, user: User, declaration_id: int | None = None) -> QuerySet[Inspection]:
    """Tickets of the declarations the user's organisations own or filed, each annotated with
    `ahead`: the queued tickets of its area called before it."""
    ahead = (
        Inspection.objects.filter(area_id=OuterRef("area_id"), status=Inspection.Status.QUEUED)
        .filter(
            Q(queue_date__lt=OuterRef("queue_date"))
            | Q(queue_date=OuterRef("queue_date"), queue_number__lt=OuterRef("queue_number"))
        )
        .order_by()
        .values("area_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    tickets = Inspection.objects.filter(_trader_scope(user, "decision__declaration"))
    if declaration_id is not None:
        tickets = tickets.filter(decision__declaration_id=declaration_id)
    return (
        tickets.select_related(
            "area__terminal", "decision__container", "decision__declaration", "attendance_request"
        )
        .annotate(ahead=Coalesce(Subquery(ahead), 0))
        .order_by("-queue_date", "queue_number")
    )


def declaration_detail_extras(user: User, declaration) -> dict:
    """What a declaration's page shows of its inspection to the user reading it (registered
    in `declarations.queries.DETAIL_READERS`): the user's own tickets with their queue place
    and request not to attend, and the access stages."""
    tickets = list(trader_tickets(user=user, declaration_id=declaration.pk))
    for ticket in tickets:
        ticket.queue_place = queue_place(ticket)
        ticket.request = attendance_request_of(ticket)
        ticket.booked = booking_of(ticket)
        ticket.slots = (
            [s for s in slots_open(area=ticket.area) if s["left"] > 0]
            if ticket.status == Inspection.Status.QUEUED
            else []
        )
    checks = access_checks_for_declaration(declaration_id=declaration.pk)
    return {
        "tickets": tickets,
        "access_checks": checks,
        "access_held": any(check.status != AccessCheck.Status.RELEASED for check in checks),
    }


def booked_per_slot(*, area_id: int, starts: list) -> dict:
    """How many tickets are booked in each of these slots of the area."""
    rows = (
        InspectionBooking.objects.filter(area_id=area_id, slot_start__in=starts)
        .values("slot_start")
        .annotate(n=Count("pk"))
    )
    return {row["slot_start"]: row["n"] for row in rows}


DAYS_AHEAD = 3  # booking slots offered: today and the next days


def slots_open(*, area: InspectionArea, now: datetime.datetime | None = None) -> list[dict]:
    """The slots of the next `DAYS_AHEAD` days within the area's hours that have not begun,
    with the places left in each (one query)."""
    now = timezone.localtime(now)
    step = datetime.timedelta(minutes=InspectionBooking.SLOT_MINUTES)
    starts = []
    for offset in range(DAYS_AHEAD):
        day = now.date() + datetime.timedelta(days=offset)
        moment = timezone.make_aware(datetime.datetime.combine(day, area.opens_at))
        closes = timezone.make_aware(datetime.datetime.combine(day, area.closes_at))
        while moment + step <= closes:
            if moment > now:
                starts.append(moment)
            moment += step
    taken = booked_per_slot(area_id=area.pk, starts=starts)
    return [
        {"start": start, "left": InspectionBooking.SLOT_CAPACITY - taken.get(start, 0)}
        for start in starts
    ]


def bookings_for_officer(*, user: User):
    """Bookings of queued tickets at the user's customs offices' areas, soonest first."""
    return (
        InspectionBooking.objects.filter(
            area__customs_office_id__in=customs_office_ids_for(user),
            inspection__status=Inspection.Status.QUEUED,
        )
        .select_related("area", "inspection__decision__container", "booked_by")
        .order_by("slot_start", "pk")
    )


def queue_place(ticket: Inspection) -> int | None:
    """1 = the next to be called; None once called."""
    return ticket.ahead + 1 if ticket.status == Inspection.Status.QUEUED else None


def booking_of(ticket: Inspection):
    try:
        return ticket.booking
    except InspectionBooking.DoesNotExist:
        return None


def attendance_request_of(ticket: Inspection) -> AttendanceRequest | None:
    try:
        return ticket.attendance_request
    except AttendanceRequest.DoesNotExist:
        return None


def ticket_get_for_trader(*, user: User, inspection_id) -> Inspection:
    """A ticket of a declaration the user may see (the enterprise, its broker); 404 else."""
    try:
        return Inspection.objects.select_related("decision__declaration", "area").get(
            _trader_scope(user, "decision__declaration"), pk=int(inspection_id)
        )
    except (Inspection.DoesNotExist, ValueError, TypeError):
        raise Http404("No such ticket") from None


def attendance_requests_for(*, user: User, status: str = "") -> QuerySet[AttendanceRequest]:
    """Requests not to attend at the user's customs offices' areas (officers), or on the
    user's own declarations' tickets (traders)."""
    scope = Q(inspection__area__customs_office_id__in=customs_office_ids_for(user)) | _trader_scope(
        user, "inspection__decision__declaration"
    )
    requests = AttendanceRequest.objects.filter(scope).select_related(
        "inspection__area",
        "inspection__decision__container",
        "inspection__decision__declaration__enterprise",
        "requested_by",
        "decided_by",
    )
    if status:
        requests = requests.filter(status=status)
    return requests.order_by("created_at", "pk")


def attendance_request_get_for_user(*, user: User, request_id) -> AttendanceRequest:
    try:
        return attendance_requests_for(user=user).get(pk=int(request_id))
    except (AttendanceRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("No such request") from None


def waiting_organisations_of_area(*, area_id: int) -> list[int]:
    """The enterprises and brokers with a queued ticket at the area: told when it moves."""
    rows = Inspection.objects.filter(area_id=area_id, status=Inspection.Status.QUEUED).values_list(
        "decision__declaration__enterprise_id", "decision__declaration__declarant_id"
    )
    return sorted({org for row in rows for org in row if org})


def finished_inspections_of(*, declaration_ids: list[int]) -> list[dict]:
    """The released inspections of these declarations, for their fees (billing)."""
    return list(
        Inspection.objects.filter(
            decision__declaration_id__in=declaration_ids, status=Inspection.Status.RELEASED
        )
        .order_by("pk")
        .values(
            "pk",
            "result",
            declaration_id=F("decision__declaration_id"),
            container=F("decision__container__number"),
            outcome=F("decision__outcome"),
        )
    )


def hold_reason(stages: list[str]) -> str:
    labels = {value: str(label) for value, label in AccessCheck.Kind.choices}
    return _("Held at the access stage: %(stages)s has not released these goods.") % {
        "stages": " / ".join(labels[stage] for stage in stages)
    }


def terminals_for(user: User) -> QuerySet[Terminal]:
    """The terminals the user's organisations operate."""
    return Terminal.objects.filter(operator_id__in=organisation_ids_for(user)).order_by("pk")


def terminal_ids_for(user: User) -> list[int]:
    return list(terminals_for(user).values_list("pk", flat=True))
