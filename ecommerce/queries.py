"""Every read of e-commerce data, scoped to who asks.

A list is seen by its declaring enterprise and its platform (and by customs); nobody else
learns it exists (404). Buyers appear only masked.
"""

from datetime import datetime, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from declarations import queries as declaration_queries
from ecommerce import events
from ecommerce.models import (
    DecisionStat,
    InventoryList,
    MonthlySummary,
    Participant,
    SortingScan,
    TaxMonth,
)
from port.models import Membership, Organisation, User
from port.queries import customs_office_ids_for, organisation_ids_for

S = InventoryList.Status
R = Participant.Role

# What the sorting line is told, per list status.
INSTRUCTION = {
    S.RELEASED: "release",
    S.SELECTED: "inspection",
    S.HELD: "inspection",
    S.SENT_BACK: "inspection",
    S.REFUSED: "inspection",
    S.WAITING: "not_decided",
    S.REFUNDED: "inspection",
}
NOT_DECLARED = "not_declared"
CUSTOMS_ROLES = [Membership.Role.OFFICER, Membership.Role.SUPERVISOR]


def is_customs(user: User) -> bool:
    return user.is_authenticated and (user.is_superuser or bool(customs_office_ids_for(user)))


def roles_for(user: User) -> dict[str, list[int]]:
    """{role: [organisation ids]} of the user's organisations."""
    roles: dict[str, list[int]] = {}
    for role, organisation in Participant.objects.filter(
        organisation__memberships__user=user
    ).values_list("role", "organisation_id"):
        roles.setdefault(role, []).append(organisation)
    return roles


def filer_for(user: User, role: str) -> int | None:
    """The organisation the user files for in `role` (the first, when several)."""
    organisations = sorted(roles_for(user).get(role, []))
    return organisations[0] if organisations else None


def may_scan(user: User) -> bool:
    """Customs officers and the site's operators: one query (the sorting line's hot path)."""
    if user.is_superuser:
        return True
    return Membership.objects.filter(
        Q(organisation__kind=Organisation.Kind.CUSTOMS_OFFICE, role__in=CUSTOMS_ROLES)
        | Q(organisation__ecommerce_roles__role=Participant.Role.SITE_OPERATOR),
        user=user,
    ).exists()


def list_list(*, user: User, filters: dict | None = None) -> QuerySet[InventoryList]:
    """Lists the user may see, newest first, filtered by status, trade mode, numbers, date."""
    lists = InventoryList.objects.all()
    if not is_customs(user):
        mine = organisation_ids_for(user)
        lists = lists.filter(Q(declarant_id__in=mine) | Q(platform_id__in=mine))
    return _filtered(lists, filters or {}).defer("rules_hit").order_by("-id")


PAGE_SIZE = 50


def _filtered(lists: QuerySet, filters: dict) -> QuerySet:
    if filters.get("status") in S.values:
        lists = lists.filter(status=filters["status"])
    if filters.get("trade_mode"):
        lists = lists.filter(trade_mode=filters["trade_mode"])
    for number in ("list_no", "waybill_no", "order_no"):
        if filters.get(number):
            lists = lists.filter(**{number: filters[number]})
    return lists


def list_page(
    *, user: User, filters: dict | None = None, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[InventoryList], int | None]:
    """One page of the lists the user may see, newest first, below the id `before` (keyset:
    no OFFSET, no COUNT over millions); and the cursor of the next page (None: the last).
    A filer's lists are those it declared or that name its platform."""
    lists = _filtered(InventoryList.objects.all(), filters or {})
    return _keyset_page(lists, user, ("declarant_id", "platform_id"), before, size)


def export_list_page(
    *, user: User, filters: dict | None = None, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[InventoryList], int | None]:
    """One page of the export lists (9610 E, 9710, 9810) the user may see, newest first,
    below `before`, as `list_page`: its e-commerce enterprise's, or those it declared or
    that name its platform (customs: all); filtered by status, trade mode and destination.
    Each side reads its own partial index of export lists (migration 0010)."""
    filters = filters or {}
    lists = _filtered(
        InventoryList.objects.filter(direction=InventoryList.Direction.EXPORT), filters
    )
    if filters.get("destination"):
        lists = lists.filter(destination=filters["destination"].upper()[:2])
    return _keyset_page(lists, user, ("declarant_id", "platform_id", "enterprise_id"), before, size)


def _keyset_page(
    lists: QuerySet, user: User, sides: tuple[str, ...], before: int | None, size: int
) -> tuple[list[InventoryList], int | None]:
    """Each side of the user's organisations (a column naming one) is read on its own index
    newest first and at most `size + 1` deep, the union ordered and cut: one query for the
    ids, one for the rows, however many lists the organisations have (an OR of the sides
    reads every match, then sorts)."""
    if before is not None:
        lists = lists.filter(id__lt=before)
    if is_customs(user):
        ids = list(lists.order_by("-id").values_list("id", flat=True)[: size + 1])
    else:
        reads = [
            lists.filter(**{side: organisation})
            .order_by("-id")
            .values_list("id", flat=True)[: size + 1]
            for organisation in organisation_ids_for(user)
            for side in sides
        ]
        ids = list(reads[0].union(*reads[1:]).order_by("-id")[: size + 1]) if reads else []
    rows = (
        list(InventoryList.objects.filter(id__in=ids[:size]).defer("rules_hit").order_by("-id"))
        if ids
        else []
    )
    return rows, (ids[size - 1] if len(ids) > size else None)


def summary_list(*, user: User, month=None) -> QuerySet[MonthlySummary]:
    """Monthly summaries of export lists: the user's e-commerce enterprises' (customs: all),
    newest month first, with their declarations."""
    summaries = MonthlySummary.objects.select_related("declaration", "enterprise")
    if not is_customs(user):
        summaries = summaries.filter(enterprise_id__in=roles_for(user).get("enterprise", []))
    if month is not None:
        summaries = summaries.filter(month=month)
    return summaries.order_by("-month", "enterprise__name", "trade_mode", "destination")


def may_see_exports(user: User) -> bool:
    return is_customs(user) or bool(
        roles_for(user).keys() & {R.DECLARANT, R.PLATFORM, R.ENTERPRISE}
    )


def may_summarise(user: User) -> bool:
    return is_customs(user) or Participant.Role.ENTERPRISE in roles_for(user)


def list_get_for_user(*, user: User, list_id: int) -> InventoryList:
    found = list_list(user=user).filter(pk=list_id).first()
    if found is None:
        raise Http404
    return found


def queue(*, user: User) -> QuerySet[InventoryList]:
    """The officers' e-commerce queue: lists selected for inspection, and those held."""
    if not is_customs(user):
        return InventoryList.objects.none()
    return InventoryList.objects.filter(status__in=[S.SELECTED, S.HELD]).order_by("id")


def sorting_instruction(waybill_no: str) -> str:
    """What the sorting line does with a scanned parcel: one index lookup."""
    status = (
        InventoryList.objects.filter(waybill_no=waybill_no).values_list("status", flat=True).first()
    )
    return NOT_DECLARED if status is None else INSTRUCTION[status]


def board(*, minutes: int = 15) -> dict:
    """The "Double 11" board: lists per minute, release rate, decision time p50/p99 and the
    sorting line, over the last minutes. Reads the per-batch statistics rows, not lists."""
    from ecommerce.decision import LATENCY_BUCKETS_MS

    since = timezone.now() - timedelta(minutes=minutes)
    stats = list(
        DecisionStat.objects.filter(decided_at__gte=since).values_list(
            "decided_at", "lists", "released", "selected", "refused", "latency_histogram"
        )
    )
    per_minute: dict[str, int] = {}
    histogram = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    totals = {"lists": 0, "released": 0, "selected": 0, "refused": 0}
    for decided_at, lists, released, selected, refused, buckets in stats:
        key = timezone.localtime(decided_at).strftime("%H:%M")
        per_minute[key] = per_minute.get(key, 0) + lists
        for name, value in zip(totals, (lists, released, selected, refused), strict=True):
            totals[name] += value
        histogram = [a + b for a, b in zip(histogram, buckets, strict=False)]
    scans = _scan_counts(since)
    return {
        "minutes": minutes,
        "per_minute": sorted(per_minute.items()),
        "busiest_minute": max(per_minute.values(), default=0),
        **totals,
        "release_rate": totals["released"] / totals["lists"] if totals["lists"] else None,
        "p50_ms": _percentile(histogram, 0.5, LATENCY_BUCKETS_MS),
        "p99_ms": _percentile(histogram, 0.99, LATENCY_BUCKETS_MS),
        "scans": scans,
    }


SCAN_MINUTE_KEY = "ecommerce:scans:%s"
SETTLED = timedelta(seconds=5)  # a scan is committed within this of its stamp


def _scan_counts(since) -> dict[str, int]:
    """The sorting line's answers since `since` (from the start of its minute). At 200 scans
    a second the window holds 180,000 scans: a minute that ended SETTLED ago no longer
    changes, so its counts are cached (kept an hour); only the minutes not cached yet
    (at most the last one or two) are counted from the scans, in one query."""
    from django.core.cache import cache
    from django.db.models.functions import TruncMinute

    now = timezone.now()
    first = since.replace(second=0, microsecond=0)
    closed_until = (now - SETTLED).replace(second=0, microsecond=0)  # minutes before are done
    minutes = []
    minute = first
    while minute < closed_until:
        minutes.append(minute)
        minute += timedelta(minutes=1)
    cached = cache.get_many([SCAN_MINUTE_KEY % m.isoformat() for m in minutes])
    missing = [m for m in minutes if SCAN_MINUTE_KEY % m.isoformat() not in cached]
    start = min(missing, default=closed_until)
    counted: dict = {}
    for at, instruction, n in (
        SortingScan.objects.filter(scanned_at__gte=start)
        .annotate(minute=TruncMinute("scanned_at"))
        .values("minute", "instruction")
        .annotate(n=Count("id"))
        .values_list("minute", "instruction", "n")
    ):
        counted.setdefault(at, {})[instruction] = n
    cache.set_many(
        {SCAN_MINUTE_KEY % m.isoformat(): counted.get(m, {}) for m in missing}, timeout=3600
    )
    totals: dict[str, int] = {}
    for counts in [*cached.values(), *counted.values()]:
        for instruction, n in counts.items():
            totals[instruction] = totals.get(instruction, 0) + n
    return totals


def _percentile(histogram: list[int], q: float, bounds: list[int]) -> int | None:
    """The upper bound of the bucket the q-th decision falls in (None past the last)."""
    total = sum(histogram)
    if not total:
        return None
    rank, seen = q * total, 0
    for position, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return bounds[position] if position < len(bounds) else None
    return None


def tax_bill(*, enterprise_id: int, year: int, month: int) -> dict:
    """The month's tax of an e-commerce enterprise: lists released (and not returned) in it."""
    start, end = month_bounds(year, month)
    totals = InventoryList.objects.filter(
        enterprise_id=enterprise_id,
        decided_at__gte=start,
        decided_at__lt=end,
        status__in=[S.RELEASED, S.SELECTED, S.HELD],
    ).aggregate(
        vat=Sum("vat_cents"),
        consumption=Sum("consumption_cents"),
        drawn=Sum("guarantee_cents"),
        lists=Count("id"),
    )
    vat, consumption, drawn = totals["vat"] or 0, totals["consumption"] or 0, totals["drawn"] or 0
    guarantee = declaration_queries.guarantee_available(enterprise_id=enterprise_id)
    available = int((guarantee[0] - guarantee[1]) * 100) if guarantee else None
    return {
        "lists": totals["lists"],
        "vat_cents": vat,
        "consumption_cents": consumption,
        "total_cents": vat + consumption,
        # Drawn from the enterprise's guarantee (declarations' account) as lists were
        # released, until the bill is paid; what is left of the guarantee for the rest.
        "guarantee_drawn_cents": drawn,
        "guarantee_available_cents": available,
        "covered_by_guarantee": available is not None and vat + consumption - drawn <= available,
    }


def tax_months_for(user: User, *, officer: bool, status: str = "") -> QuerySet[TaxMonth]:
    """The tax months the user sees (an officer: every enterprise's; an e-commerce
    enterprise: its own), newest first."""
    months = TaxMonth.objects.select_related("enterprise").order_by("-month", "enterprise__name")
    if status in TaxMonth.Status.values:
        months = months.filter(status=status)
    if officer:
        return months
    return months.filter(enterprise_id__in=roles_for(user).get(R.ENTERPRISE, []))


def tax_running_for(user: User) -> list[tuple[Organisation, dict]]:
    """This month's tax so far of each e-commerce enterprise the user belongs to."""
    today = timezone.localdate()
    enterprises = Organisation.objects.filter(
        pk__in=roles_for(user).get(R.ENTERPRISE, [])
    ).order_by("name")
    return [
        (e, tax_bill(enterprise_id=e.pk, year=today.year, month=today.month)) for e in enterprises
    ]


def export_summary(*, declarant_id: int, year: int, month: int) -> list[dict]:
    """Export lists cleared in a month, summed per trade mode and commodity heading
    (清单核放、汇总申报): what the monthly summary declaration carries."""
    from ecommerce.models import ListLine

    start, end = month_bounds(year, month)
    return list(
        ListLine.objects.filter(
            inventory_list__declarant_id=declarant_id,
            inventory_list__direction=InventoryList.Direction.EXPORT,
            inventory_list__status=S.RELEASED,
            inventory_list__decided_at__gte=start,
            inventory_list__decided_at__lt=end,
        )
        .annotate(
            heading=Substr("hs_code", 1, 4),
            trade_mode=F("inventory_list__trade_mode"),
            line_cents=F("quantity") * F("unit_price_cents"),
        )
        .values("trade_mode", "heading")
        .annotate(
            lists=Count("inventory_list_id", distinct=True),
            units=Sum("quantity"),
            value_cents=Sum("line_cents"),
        )
        .order_by("trade_mode", "heading")
    )


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime(year, month, 1))  # noqa: DTZ001 - made aware here
    end = timezone.make_aware(datetime(year + month // 12, month % 12 + 1, 1))  # noqa: DTZ001
    return start, end


def board_live_group(user: User, key: str) -> str | None:
    return events.BOARD_GROUP if is_customs(user) or may_scan(user) else None


def queue_live_group(user: User, key: str) -> str | None:
    return events.QUEUE_GROUP if is_customs(user) else None


def navigation_for(user: User) -> list[tuple[str, str]]:
    entries = []
    roles = roles_for(user)
    if roles.keys() & {Participant.Role.DECLARANT, Participant.Role.PLATFORM}:
        entries.append((_("E-commerce lists"), "ecommerce:lists"))
    officer = is_customs(user) and not user.is_superuser
    if roles.keys() & {R.DECLARANT, R.PLATFORM, R.ENTERPRISE} or officer:
        entries.append((_("E-commerce exports"), "ecommerce:exports"))
    if R.ENTERPRISE in roles or officer:
        entries.append((_("Monthly export summaries"), "ecommerce:summaries"))
        entries.append((_("E-commerce tax"), "ecommerce:tax"))
    if is_customs(user) and not user.is_superuser:
        entries.append((_("E-commerce queue"), "ecommerce:queue"))
        entries.append((_("E-commerce rules"), "ecommerce:rules"))
    if is_customs(user) or Participant.Role.SITE_OPERATOR in roles:
        entries.append((_("Double 11 board"), "ecommerce:board"))
    return entries
