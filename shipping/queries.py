"""Reads about vessel calls and filings, scoped to who asks.

The agent sees its own filings and every agency's review of them; an agency sees only the
filings addressed to it, with its own review.
"""

import statistics

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from declarations import queries as declaration_queries
from port.models import Organisation, PortCall, User
from port.queries import organisation_ids_for, user_organisation_kinds
from shipping import events
from shipping.models import (
    AgencyReview,
    BoardingAppointment,
    DangerousGoodsFlag,
    EdifactImport,
    ManifestEntry,
    VesselFiling,
)

K = Organisation.Kind


def is_agent(user: User) -> bool:
    return K.SHIPPING_AGENT in user_organisation_kinds(user)


def is_maritime(user: User) -> bool:
    return K.MARITIME_SAFETY in user_organisation_kinds(user)


def can_record_port_call(user: User) -> bool:
    kinds = user_organisation_kinds(user)
    return user.is_superuser or bool(kinds & {K.PORT_AUTHORITY, K.TERMINAL_OPERATOR})


def operates_terminal_of(*, user: User, port_call: PortCall) -> bool:
    """The user's organisation runs the call's terminal (and reports what it discharges)."""
    operator_id = port_call.terminal.operator_id
    return operator_id is not None and operator_id in organisation_ids_for(user)


def is_filing_agent(*, user: User, filing: VesselFiling) -> bool:
    return filing.agent_id in organisation_ids_for(user)


def filing_list(*, user: User) -> QuerySet[VesselFiling]:
    """Filings the user's organisations filed or that are addressed to them, newest first."""
    org_ids = organisation_ids_for(user)
    return (
        VesselFiling.objects.filter(Q(agent_id__in=org_ids) | Q(reviews__agency_id__in=org_ids))
        .distinct()
        .select_related("agent", "port_call__vessel", "port_call__terminal")
        .prefetch_related(_visible_reviews(org_ids))
        .order_by("-created_at", "-id")
    )


def _visible_reviews(org_ids: list[int]) -> Prefetch:
    """Every review for the agent; an agency's own review only, for an agency."""
    reviews = AgencyReview.objects.select_related("agency").filter(
        Q(filing__agent_id__in=org_ids) | Q(agency_id__in=org_ids)
    )
    return Prefetch("reviews", queryset=reviews.order_by("agency_kind"))


def filing_get_for_user(*, user: User, filing_id) -> VesselFiling:
    """The filing with its lines and the reviews the user may see; Http404 when not theirs."""
    try:
        return (
            filing_list(user=user)
            .select_related("created_by", "port_call__berth", "port_call__port")
            .prefetch_related("people", "dangerous_goods")
            .get(pk=int(filing_id))
        )
    except (VesselFiling.DoesNotExist, ValueError, TypeError):
        raise Http404("No such filing") from None


def review_for_user(*, user: User, filing: VesselFiling) -> AgencyReview | None:
    """The review the user's agency owes on this filing, if any."""
    org_ids = organisation_ids_for(user)
    return next((r for r in filing.reviews.all() if r.agency_id in org_ids), None)


def review_get_for_user(*, user: User, review_id) -> AgencyReview:
    try:
        return AgencyReview.objects.select_related("filing").get(
            pk=int(review_id), agency_id__in=organisation_ids_for(user)
        )
    except (AgencyReview.DoesNotExist, ValueError, TypeError):
        raise Http404("No such review") from None


def port_call_list(*, user: User) -> QuerySet[PortCall]:
    """Calls in the ports of the user's organisations (agents: their calls and unassigned)."""
    orgs = Organisation.objects.filter(memberships__user=user)
    calls = PortCall.objects.select_related("vessel", "terminal", "berth", "agent", "port")
    if user.is_superuser:
        return calls.order_by("-eta")
    return calls.filter(port__in=orgs.values("port")).order_by("-eta")


def terminals_for(user: User):
    from port.models import Terminal

    return (
        Terminal.objects.filter(port__organisations__memberships__user=user)
        .distinct()
        .order_by("code")
    )


def port_call_get_for_user(*, user: User, port_call_id) -> PortCall:
    try:
        return port_call_list(user=user).get(pk=int(port_call_id))
    except (PortCall.DoesNotExist, ValueError, TypeError):
        raise Http404("No such port call") from None


def manifest_for_call(*, port_call_id: int) -> QuerySet[ManifestEntry]:
    return ManifestEntry.objects.filter(port_call_id=port_call_id).select_related("submitted_by")


def manifest_for_user(*, user: User, port_call: PortCall) -> QuerySet[ManifestEntry]:
    """The merged manifest for the agencies; a shipping agent's own company's lines only."""
    entries = manifest_for_call(port_call_id=port_call.pk).order_by("bl_number", "container_number")
    if is_reviewing_agency(user) or user.is_superuser:
        return entries
    return entries.filter(submitted_by_id__in=organisation_ids_for(user))


def imports_for(*, user: User, port_call: PortCall) -> QuerySet[EdifactImport]:
    return EdifactImport.objects.filter(
        port_call=port_call, organisation_id__in=organisation_ids_for(user)
    ).order_by("-created_at")[:5]


def dg_flags_for_call(*, user: User, port_call: PortCall) -> QuerySet[DangerousGoodsFlag]:
    return dg_flag_queue(user=user).filter(port_call=port_call)


def dg_flag_queue(*, user: User, status: str = DangerousGoodsFlag.Status.OPEN):
    """The maritime officers' queue of dangerous-goods findings, oldest first."""
    if not is_maritime(user):
        return DangerousGoodsFlag.objects.none()
    return (
        DangerousGoodsFlag.objects.filter(status=status)
        .select_related("port_call__vessel")
        .order_by("created_at", "id")
    )


def import_get_for_user(*, user: User, import_id) -> EdifactImport:
    try:
        return EdifactImport.objects.get(
            pk=int(import_id), organisation_id__in=organisation_ids_for(user)
        )
    except (EdifactImport.DoesNotExist, ValueError, TypeError):
        raise Http404("No such import") from None


def boardings_for(*, user: User, port_call: PortCall) -> QuerySet[BoardingAppointment]:
    """A call's boardings: all of them for its agent, an agency's own for an agency, an
    enterprise's own requests for an enterprise."""
    org_ids = organisation_ids_for(user)
    boardings = BoardingAppointment.objects.filter(port_call=port_call).select_related(
        "agency", "requested_by"
    )
    if port_call.agent_id in org_ids:
        return boardings
    return boardings.filter(Q(agency_id__in=org_ids) | Q(requested_by_id__in=org_ids))


def boarding_requester(*, user: User, port_call: PortCall) -> int | None:
    """The organisation in whose name the user may request a boarding of the call: the
    call's shipping agent, or an enterprise of the user's with goods declared on it."""
    org_ids = organisation_ids_for(user)
    if port_call.agent_id in org_ids:
        return port_call.agent_id
    on_call = declaration_queries.enterprise_ids_on_call(port_call_id=port_call.pk, among=org_ids)
    return min(set(on_call) & set(org_ids), default=None)


def boarding_get_for_agency(*, user: User, boarding_id) -> BoardingAppointment:
    try:
        return BoardingAppointment.objects.get(
            pk=int(boarding_id), agency_id__in=organisation_ids_for(user)
        )
    except (BoardingAppointment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such boarding") from None


def boarding_get_for_user(*, user: User, boarding_id) -> BoardingAppointment:
    """A boarding of the user's agency, or one the user's organisation requested."""
    org_ids = organisation_ids_for(user)
    try:
        return BoardingAppointment.objects.get(
            Q(agency_id__in=org_ids) | Q(requested_by_id__in=org_ids), pk=int(boarding_id)
        )
    except (BoardingAppointment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such boarding") from None


def boarding_list(*, user: User) -> QuerySet[BoardingAppointment]:
    """Boardings an agency makes, those of the calls a shipping agent handles, and those an
    enterprise requested."""
    org_ids = organisation_ids_for(user)
    return (
        BoardingAppointment.objects.filter(
            Q(agency_id__in=org_ids)
            | Q(port_call__agent_id__in=org_ids)
            | Q(requested_by_id__in=org_ids)
        )
        .select_related("port_call__vessel", "agency", "requested_by")
        .order_by("-scheduled_at", "-pk")
    )


# Who booked a boarding: the shipping agent's or an enterprise's request, or the agency itself.
BOOKERS = ("agent", "enterprise", "agency")


def _booker(requester_kind: str | None) -> str:
    if not requester_kind:
        return "agency"
    return "enterprise" if requester_kind != Organisation.Kind.SHIPPING_AGENT else "agent"


def boarding_times(*, user: User, since=None) -> dict:
    """Median booking → boarding and booking → release, in minutes, of the released boardings
    the user may see, by who booked them (`BOOKERS`)."""
    rows = boarding_list(user=user).filter(status=BoardingAppointment.Status.RELEASED)
    if since is not None:
        rows = rows.filter(released_at__gte=since)
    found = {who: {"boarding": [], "release": []} for who in BOOKERS}
    for kind, booked, boarded, released in rows.values_list(
        "requested_by__kind", "created_at", "completed_at", "released_at"
    )[:5000]:
        times = found[_booker(kind)]
        times["boarding"].append((boarded - booked).total_seconds() / 60)
        times["release"].append((released - booked).total_seconds() / 60)
    return {
        who: {
            "count": len(times["release"]),
            "booking_to_boarding_minutes": _median(times["boarding"]),
            "booking_to_release_minutes": _median(times["release"]),
        }
        for who, times in found.items()
    }


def boarding_medians(*, start, end) -> dict[str, dict]:
    """Port-wide, the boardings released in [start, end) by who booked them (`BOOKERS`):
    how many, and the median minutes from booking to boarding and to release, in one
    statement."""
    table = BoardingAppointment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT o.kind, count(*),
                   percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM b.completed_at - b.created_at)) / 60,
                   percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM b.released_at - b.created_at)) / 60
            FROM {table} b LEFT JOIN port_organisation o ON o.id = b.requested_by_id
            WHERE b.status = %s AND b.released_at >= %s AND b.released_at < %s
            GROUP BY o.kind
            """,  # noqa: S608 - our table name; the values are parameters
            [BoardingAppointment.Status.RELEASED, start, end],
        )
        rows = {_booker(kind): row for kind, *row in cursor.fetchall()}
    found = {}
    for who in BOOKERS:
        count, boarding, release = rows.get(who, (0, None, None))
        found[who] = {
            "count": count,
            "booking_to_boarding_minutes": None if boarding is None else round(boarding, 1),
            "booking_to_release_minutes": None if release is None else round(release, 1),
        }
    return found


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def reviewing_agencies(*, port_id: int) -> QuerySet[Organisation]:
    """The agencies an agent may ask to board: those of the call's port."""
    from shipping.models import REVIEWING_KINDS

    return Organisation.objects.filter(kind__in=REVIEWING_KINDS, port_id=port_id).order_by("name")


def is_reviewing_agency(user: User) -> bool:
    from shipping.models import REVIEWING_KINDS

    return bool(user_organisation_kinds(user) & set(REVIEWING_KINDS))


def filing_live_group(user: User, key: str) -> str | None:
    if not key.isdigit() or not filing_list(user=user).filter(pk=int(key)).exists():
        return None
    return events.filing_group(int(key))


def port_call_live_group(user: User, key: str) -> str | None:
    if not key.isdigit() or not port_call_list(user=user).filter(pk=int(key)).exists():
        return None
    return events.port_call_group(int(key))


def dangerous_containers(*, port_call_id: int) -> frozenset[str]:
    """Containers of a call that a manifest lists with a UN number or an IMDG class."""
    return frozenset(
        ManifestEntry.objects.filter(port_call_id=port_call_id)
        .filter(Q(un_number__gt="") | Q(imdg_class__gt=""))
        .values_list("container_number", flat=True)
    )


def manifest_lines_between(*, start, end) -> QuerySet[ManifestEntry]:
    """Manifest lines filed in [start, end), for reconciliation against other records."""
    return ManifestEntry.objects.filter(created_at__gte=start, created_at__lt=end)


def dangerous_manifest_lines() -> QuerySet[ManifestEntry]:
    """Manifest lines with a UN number or an IMDG class (to compose into other queries)."""
    return ManifestEntry.objects.filter(Q(un_number__gt="") | Q(imdg_class__gt=""))
