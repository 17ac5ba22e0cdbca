"""Reads about zones, each scoped: an enterprise sees its own account, movements and passes;
the zone's customs office sees its gates."""

from datetime import timedelta

from django.db import connection
from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from port.errors import NotYours
from port.models import Membership, Organisation, Terminal, User
from port.queries import customs_office_ids_for, organisation_ids_for
from zones import events
from zones.models import (
    GatePass,
    GatePassage,
    Movement,
    StockItem,
    Transit,
    Zone,
    ZoneEnterprise,
    ZoneGate,
    ZoneUpload,
)

FILING_ROLES = [Membership.Role.DECLARANT, Membership.Role.MANAGER]


def zone_enterprise_for(user: User) -> ZoneEnterprise | None:
    """The zone account the user files for (a declarant or manager of a zone enterprise)."""
    return (
        ZoneEnterprise.objects.filter(
            organisation__memberships__user=user, organisation__memberships__role__in=FILING_ROLES
        )
        .select_related("zone", "organisation")
        .order_by("pk")
        .first()
    )


def zone_enterprise_ids_for(user: User) -> list[int]:
    """Organisations of the user that hold a zone account."""
    return list(
        ZoneEnterprise.objects.filter(organisation_id__in=organisation_ids_for(user)).values_list(
            "organisation_id", flat=True
        )
    )


def stock_for(*, user: User) -> QuerySet[StockItem]:
    return StockItem.objects.filter(organisation_id__in=zone_enterprise_ids_for(user))


def movements_for(*, user: User) -> QuerySet[Movement]:
    return (
        Movement.objects.filter(organisation_id__in=zone_enterprise_ids_for(user))
        .select_related("gate_pass", "counterparty", "zone")
        .prefetch_related("lines")
    )


def transfers_incoming_for(*, user: User) -> QuerySet[Movement]:
    """Transfers other zone enterprises send to the user's: read-only for the receiver (the
    sender amends or cancels them), newest first; its stock is credited at the gate."""
    return (
        Movement.objects.filter(
            counterparty_id__in=zone_enterprise_ids_for(user), kind=Movement.Kind.TRANSFER
        )
        .select_related("gate_pass", "organisation")
        .prefetch_related("lines")
        .order_by("-created_at", "-pk")
    )


def movement_get_for_user(*, user: User, movement_id: int) -> Movement:
    movement = movements_for(user=user).filter(pk=movement_id).first()
    if movement is None:
        raise NotYours
    return movement


def counterparties_in(*, zone: Zone, usccs: set[str]) -> dict[str, Organisation]:
    return {
        ze.organisation.uscc: ze.organisation
        for ze in ZoneEnterprise.objects.filter(
            zone=zone, organisation__uscc__in=usccs
        ).select_related("organisation")
    }


def zone_enterprises_named(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """(zone code, enterprise USCC) -> (zone enterprise id, organisation id), in one query:
    the warehouses e-commerce 1210 lists name."""
    if not pairs:
        return {}
    codes, usccs = {p[0] for p in pairs}, {p[1] for p in pairs}
    return {
        (code, uscc): (pk, organisation)
        for pk, organisation, code, uscc in ZoneEnterprise.objects.filter(
            zone__code__in=codes, organisation__uscc__in=usccs
        ).values_list("pk", "organisation_id", "zone__code", "organisation__uscc")
        if (code, uscc) in pairs
    }


def stock_item_codes(keys: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """(zone enterprise id, item number) -> the item's commodity code, for the items the
    accounts hold (held now or before: an empty item is still on the account); one query."""
    if not keys:
        return {}
    ordered = sorted(keys)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ze.id, s.item_no, s.hs_code FROM zones_stockitem s"
            " JOIN zones_zoneenterprise ze"
            " ON ze.zone_id = s.zone_id AND ze.organisation_id = s.organisation_id"
            " JOIN unnest(%s::bigint[], %s::text[]) AS k(ze, item)"
            " ON ze.id = k.ze AND s.item_no = k.item",
            [[k[0] for k in ordered], [k[1] for k in ordered]],
        )
        return {(ze, item): hs for ze, item, hs in cursor.fetchall()}


def gates_for(*, user: User) -> QuerySet[ZoneGate]:
    """Gates of the zones the user's customs office supervises (any of its roles: the camera
    system signs in as the office's operator)."""
    offices = Membership.objects.filter(
        user=user, organisation__kind=Organisation.Kind.CUSTOMS_OFFICE
    ).values("organisation_id")
    return ZoneGate.objects.filter(zone__customs_office__in=offices).select_related("zone")


def gate_get_for_user(*, user: User, gate_id: int) -> ZoneGate:
    gate = gates_for(user=user).filter(pk=gate_id).first()
    if gate is None:
        raise NotYours
    return gate


def passages_for(*, user: User) -> QuerySet[GatePassage]:
    return GatePassage.objects.filter(gate__in=gates_for(user=user)).select_related(
        "gate", "gate_pass__movement__organisation"
    )


def passages_of_enterprise(*, user: User) -> QuerySet[GatePassage]:
    """An enterprise's own trucks at the gate (released on its passes)."""
    return GatePassage.objects.filter(
        gate_pass__movement__organisation_id__in=zone_enterprise_ids_for(user)
    ).select_related("gate")


def gate_board(*, gate: ZoneGate) -> dict:
    """What the gate officer's board shows: each lane's last passage, the trucks stopped in
    the last hours, today's counts and Portwise's answer times (median, 99th percentile)."""
    now = timezone.now()
    since = now - timedelta(hours=12)
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    recent = GatePassage.objects.filter(gate=gate).select_related("gate_pass__movement")
    lanes = {
        p.lane: p
        for p in recent.filter(created_at__gte=since)
        .order_by("lane", "-created_at")
        .distinct("lane")
    }
    stats = recent.filter(created_at__gte=today).aggregate(
        released=Count("pk", filter=Q(decision=GatePassage.Decision.RELEASE)),
        stopped=Count("pk", filter=Q(decision=GatePassage.Decision.STOP)),
        average_ms=Avg("answer_ms"),
    )
    stats.update(_percentiles(gate, today))
    return {
        "gate": gate,
        "lanes": [(lane, lanes.get(lane)) for lane in range(1, gate.lanes + 1)],
        "stopped": list(
            recent.filter(decision=GatePassage.Decision.STOP, created_at__gte=since)[:20]
        ),
        "last": list(recent[:20]),
        "stats": stats,
    }


def _percentiles(gate: ZoneGate, since) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY answer_ms),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY answer_ms)"
            " FROM zones_gatepassage WHERE gate_id = %s AND created_at >= %s",
            [gate.pk, since],
        )
        p50, p99 = cursor.fetchone()
    return {"p50_ms": p50, "p99_ms": p99}


def gate_traffic(*, zone_ids: list[int] | None = None, hours: int = 24) -> dict:
    """Trucks in and out per hour and the average answer time, for dashboards."""
    since = timezone.now() - timedelta(hours=hours)
    passages = GatePassage.objects.filter(
        created_at__gte=since, decision=GatePassage.Decision.RELEASE
    )
    if zone_ids is not None:
        passages = passages.filter(gate__zone_id__in=zone_ids)
    totals = passages.aggregate(
        trucks_in=Count("pk", filter=Q(gate_pass__direction=GatePass.Direction.IN)),
        trucks_out=Count("pk", filter=Q(gate_pass__direction=GatePass.Direction.OUT)),
        average_ms=Avg("answer_ms"),
    )
    totals["per_hour"] = round((totals["trucks_in"] + totals["trucks_out"]) / hours, 1)
    return totals


def transits_for(*, user: User) -> QuerySet[Transit]:
    """An enterprise's own transits; a terminal operator's, those bound for its terminals or
    for any terminal of the port."""
    orgs = organisation_ids_for(user)
    visible = Q(organisation_id__in=orgs)
    if Terminal.objects.filter(operator_id__in=orgs).exists():
        visible |= Q(terminal__operator_id__in=orgs) | Q(terminal__isnull=True)
    return Transit.objects.filter(visible)


def terminal_of(user: User) -> Terminal | None:
    return (
        Terminal.objects.filter(operator_id__in=organisation_ids_for(user)).order_by("pk").first()
    )


def is_zone_officer(user: User) -> bool:
    return Zone.objects.filter(customs_office_id__in=customs_office_ids_for(user)).exists()


def gate_live_group(user: User, key: str) -> str | None:
    """Topic "zone_gate", key the gate id: the supervising office's people only."""
    if not key.isdigit() or not gates_for(user=user).filter(pk=int(key)).exists():
        return None
    return events.gate_group(int(key))


def navigation_for(user: User) -> list[tuple[str, str]]:
    """The zone pages a user has: a zone enterprise's account, a supervising office's gate."""
    from django.utils.translation import gettext_lazy as _

    entries = []
    if zone_enterprise_for(user) is not None:
        entries.append((_("Bonded zone"), "zones:account"))
    if not user.is_superuser and gates_for(user=user).exists():
        entries.append((_("Zone gate"), "zones:gate"))
    return entries


def uploads_for(*, user: User) -> QuerySet[ZoneUpload]:
    """The ERP files of the user's zone enterprises (anyone of them may watch the progress)."""
    return ZoneUpload.objects.filter(organisation_id__in=zone_enterprise_ids_for(user)).defer(
        "content"
    )


def upload_get_for_user(*, user: User, upload_id: int) -> ZoneUpload:
    upload = uploads_for(user=user).filter(pk=upload_id).first()
    if upload is None:
        raise NotYours
    return upload


def upload_live_group(user: User, key: str) -> str | None:
    """Topic "zone_upload", key the upload id: its enterprise's people only."""
    if not key.isdigit() or not uploads_for(user=user).filter(pk=int(key)).exists():
        return None
    return events.upload_group(int(key))


def movement_timeline(movement: Movement):
    from port.timeline import timeline_for

    return timeline_for(movement).order_by("created_at", "pk")


def gate_map(*, organisation_ids: list[int] | None = None) -> list[dict]:
    """Each zone and its gates for the port map: trucks in and out in the last hour and the
    last 24 hours, trucks stopped in the last hour, Portwise's average answer time. With
    `organisation_ids` (an enterprise's map), only those enterprises' own trucks count
    (stops are then not theirs to see). Two queries, whatever the number of gates."""
    now = timezone.now()
    hour, day = now - timedelta(hours=1), now - timedelta(hours=24)
    passages = GatePassage.objects.filter(created_at__gte=day)
    if organisation_ids is not None:
        passages = passages.filter(gate_pass__movement__organisation_id__in=organisation_ids)
    released = Q(decision=GatePassage.Decision.RELEASE)
    inbound = released & Q(gate_pass__direction=GatePass.Direction.IN)
    outbound = released & Q(gate_pass__direction=GatePass.Direction.OUT)
    rows = {
        row["gate_id"]: row
        for row in passages.values("gate_id").annotate(
            in_hour=Count("pk", filter=inbound & Q(created_at__gte=hour)),
            out_hour=Count("pk", filter=outbound & Q(created_at__gte=hour)),
            in_day=Count("pk", filter=inbound),
            out_day=Count("pk", filter=outbound),
            stopped_hour=Count(
                "pk", filter=Q(decision=GatePassage.Decision.STOP, created_at__gte=hour)
            ),
            average_ms=Avg("answer_ms"),
        )
    }
    zones: dict[int, dict] = {}
    for gate in ZoneGate.objects.select_related("zone").order_by("zone__code", "code"):
        figures = rows.get(gate.pk, {})
        zone = zones.setdefault(
            gate.zone_id, {"code": gate.zone.code, "name": gate.zone.display_name, "gates": []}
        )
        zone["gates"].append(
            {
                "id": gate.pk,
                "code": gate.code,
                "name": gate.display_name,
                "lanes": gate.lanes,
                "in_hour": figures.get("in_hour", 0),
                "out_hour": figures.get("out_hour", 0),
                "in_day": figures.get("in_day", 0),
                "out_day": figures.get("out_day", 0),
                "per_hour": round((figures.get("in_day", 0) + figures.get("out_day", 0)) / 24, 1),
                "stopped_hour": figures.get("stopped_hour", 0)
                if organisation_ids is None
                else None,
                "average_ms": figures.get("average_ms"),
            }
        )
    return list(zones.values())
