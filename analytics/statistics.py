"""Clearance-time statistics and trade figures, computed in PostgreSQL over the rollups.

Medians and 90th percentiles are `percentile_cont` over the clearance facts; a period
is a local calendar day or ISO week (Monday to Sunday), and a declaration belongs to the
period it was filed in. Times are in hours. Overall clearance runs from the vessel's
arrival (imports) or the filing (exports) to release: see ClearanceFact.cleared_from.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connections, router
from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.models import ClearanceFact, DailyClearance, DailyTrade, HourlyCount, PeriodClearance
from analytics.queries import Scope

# (key, label, from column, to column); the overall stage's label depends on the direction.
STAGES = [
    ("overall", _("Overall"), "cleared_from", "released_at"),
    ("filing_to_decision", _("Filing to decision"), "filed_at", "decided_at"),
    ("decision_to_inspection", _("Decision to inspection"), "decided_at", "inspection_started_at"),
    ("inspection_to_release", _("Inspection to release"), "inspection_started_at", "released_at"),
    # Goods with quarantine or permits involved: the access stage, owned by the quarantine
    # side, from filing until its last check is released.
    (
        "filing_to_access",
        _("Filing to access cleared (quarantine, permits)"),
        "filed_at",
        "access_cleared_at",
    ),
]
OVERALL_LABELS = {"import": _("Arrival to release"), "export": _("Filing to release")}
PERIODS = {"day", "week"}


class Percentile(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _hours_between(start: str, end: str):
    interval = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    return Func(
        interval, template="EXTRACT(EPOCH FROM %(expressions)s) / 3600.0", output_field=FloatField()
    )


def hours_since(start: str, now: datetime):
    return Func(
        Value(now, output_field=DateTimeField()),
        F(start),
        arg_joiner=" - ",
        template="EXTRACT(EPOCH FROM (%(expressions)s)) / 3600.0",
        output_field=FloatField(),
    )


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # exclusive

    @property
    def previous(self) -> "Period":
        length = self.end - self.start
        return Period(self.kind, self.start - length, self.start)

    def bounds(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        return (
            timezone.make_aware(datetime.combine(self.start, time.min), tz),
            timezone.make_aware(datetime.combine(self.end, time.min), tz),
        )


def period_for(kind: str, on: date | None = None) -> Period:
    """The day, or the ISO week, that contains `on` (today by default)."""
    on = on or timezone.localdate()
    if kind == "week":
        start = on - timedelta(days=on.weekday())
        return Period("week", start, start + timedelta(days=7))
    return Period("day", on, on + timedelta(days=1))


# A selection still open after this long is an anomaly for the inspection desk, not queue
# length; bounding the window also keeps the query's cost independent of history.
WAITING_WINDOW = timedelta(days=7)


def waiting_for_inspection(scope: Scope, now: datetime, **filters):
    """Facts selected for inspection, decided within the window, not yet released."""
    return facts_in_scope(scope, **filters).filter(
        outcome="inspection_required",
        released_at__isnull=True,
        decided_at__gte=now - WAITING_WINDOW,
    )


def facts_in_scope(scope: Scope, *, terminal_id: int | None = None, direction: str = ""):
    facts = ClearanceFact.objects.all()
    if not scope.port_wide:
        facts = facts.filter(enterprise_id__in=scope.organisation_ids)
    if terminal_id:
        facts = facts.filter(terminal_id=terminal_id)
    if direction:
        facts = facts.filter(direction=direction)
    return facts


def _stage_aggregates() -> dict:
    aggregates = {}
    for key, _label, start, end in STAGES:
        hours = _hours_between(start, end)
        aggregates[f"{key}_median"] = Percentile(hours, 0.5)
        aggregates[f"{key}_p90"] = Percentile(hours, 0.9)
        aggregates[f"{key}_count"] = Count(
            "pk", filter=Q(**{f"{start}__isnull": False, f"{end}__isnull": False})
        )
    return aggregates


def _in_period(facts, period: Period):
    start, end = period.bounds()
    return facts.filter(filed_at__gte=start, filed_at__lt=end)


def clearance_summary(scope: Scope, period: Period, **filters) -> list[dict]:
    """Per direction: each stage's median, 90th percentile and count, now and the period
    before, with the change of the median in per cent (negative is faster); from the
    period rollup (an enterprise of several organisations: from the facts)."""
    if not _one_rollup_scope(scope):
        return clearance_summary_from_facts(scope, period, **filters)
    current, previous = {}, {}
    for row in _period_rows(scope, [period, period.previous], **filters).values():
        (current if row["start"] == period.start else previous)[row["direction"]] = row
    return _summary_rows(current, previous)


def clearance_summary_from_facts(scope: Scope, period: Period, **filters) -> list[dict]:
    """The same summary computed from the facts (the rollup's check, and its fallback)."""
    facts = facts_in_scope(scope, **filters)
    current = _by_direction(_in_period(facts, period))
    previous = _by_direction(_in_period(facts, period.previous))
    return _summary_rows(current, previous)


def _one_rollup_scope(scope: Scope) -> bool:
    """The period rollups hold the port and each enterprise, not sets of enterprises."""
    return scope.port_wide or len(scope.organisation_ids) == 1


def _period_rows(
    scope: Scope,
    periods: list[Period],
    *,
    terminal_id: int | None = None,
    direction: str = "",
    per_terminal: bool = False,
):
    """The PeriodClearance rows of these periods, in the scope, as dicts keyed by id."""
    rows = PeriodClearance.objects.filter(
        kind=periods[0].kind,
        start__in=[p.start for p in periods],
        enterprise_id=PeriodClearance.ALL if scope.port_wide else scope.organisation_ids[0],
    )
    if terminal_id:
        rows = rows.filter(terminal_id=terminal_id)
    elif per_terminal:
        rows = rows.exclude(terminal_id=PeriodClearance.ALL)
    else:
        rows = rows.filter(terminal_id=PeriodClearance.ALL)
    if direction:
        rows = rows.filter(direction=direction)
    return {row["id"]: row for row in rows.values()}


def _summary_rows(current: dict, previous: dict) -> list[dict]:
    rows = []
    for direction in ("import", "export"):
        now, before = current.get(direction, {}), previous.get(direction, {})
        stages = []
        for key, label, _start, _end in STAGES:
            median, earlier = now.get(f"{key}_median"), before.get(f"{key}_median")
            stages.append(
                {
                    "stage": key,
                    "label": str(OVERALL_LABELS[direction] if key == "overall" else label),
                    "median_h": round_hours(median),
                    "p90_h": round_hours(now.get(f"{key}_p90")),
                    "count": now.get(f"{key}_count", 0),
                    "previous_median_h": round_hours(earlier),
                    "change_pct": _change(median, earlier),
                }
            )
        rows.append(
            {"direction": direction, "declarations": now.get("declarations", 0), "stages": stages}
        )
    return rows


def _by_direction(facts) -> dict[str, dict]:
    rows = facts.values("direction").annotate(declarations=Count("pk"), **_stage_aggregates())
    return {row["direction"]: row for row in rows}


def clearance_series(
    scope: Scope, *, days: int = 14, on: date | None = None, terminal_id=None, direction=""
) -> list[dict]:
    """Overall clearance per day and direction, for the last `days`
    days, from the daily rollup (an enterprise of several organisations: from the facts)."""
    if not scope.port_wide and len(scope.organisation_ids) != 1:
        return clearance_series_from_facts(
            scope, days=days, on=on, terminal_id=terminal_id, direction=direction
        )
    end = period_for("day", on).end
    rows = DailyClearance.objects.filter(
        day__gte=end - timedelta(days=days),
        day__lt=end,
        terminal_id=terminal_id or DailyClearance.ALL,
        enterprise_id=DailyClearance.ALL if scope.port_wide else scope.organisation_ids[0],
    ).order_by("day", "direction")
    if direction:
        rows = rows.filter(direction=direction)
    return [
        {
            "day": row.day.isoformat(),
            "direction": row.direction,
            "median_h": round_hours(row.median_h),
            "p90_h": round_hours(row.p90_h),
            "declarations": row.declarations,
        }
        for row in rows
    ]


def clearance_series_from_facts(
    scope: Scope, *, days: int = 14, on: date | None = None, **filters
) -> list[dict]:
    """The same series computed from the facts (the rollup's check, and its fallback)."""
    end = period_for("day", on)
    window = Period("day", end.end - timedelta(days=days), end.end)
    hours = _hours_between("cleared_from", "released_at")
    rows = (
        _in_period(facts_in_scope(scope, **filters), window)
        .annotate(day=TruncDate("filed_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "direction")
        .annotate(
            median=Percentile(hours, 0.5), p90=Percentile(hours, 0.9), declarations=Count("pk")
        )
        .order_by("day", "direction")
    )
    return [
        {
            "day": row["day"].isoformat(),
            "direction": row["direction"],
            "median_h": round_hours(row["median"]),
            "p90_h": round_hours(row["p90"]),
            "declarations": row["declarations"],
        }
        for row in rows
    ]


def clearance_by_terminal(
    scope: Scope, period: Period, terminal_names: dict[int, str], **filters
) -> list[dict]:
    """Overall clearance per terminal and direction in the period, from the period rollup
    (an enterprise of several organisations: from the facts)."""
    if not _one_rollup_scope(scope):
        return clearance_by_terminal_from_facts(scope, period, terminal_names, **filters)
    rows = sorted(
        _period_rows(scope, [period], per_terminal=True, **filters).values(),
        key=lambda row: (row["terminal_id"], row["direction"]),
    )
    return [
        {
            "terminal": terminal_names.get(row["terminal_id"], "—"),
            "direction": row["direction"],
            "median_h": round_hours(row["overall_median"]),
            "p90_h": round_hours(row["overall_p90"]),
            "declarations": row["declarations"],
        }
        for row in rows
    ]


def clearance_by_terminal_from_facts(
    scope: Scope, period: Period, terminal_names: dict[int, str], **filters
) -> list[dict]:
    hours = _hours_between("cleared_from", "released_at")
    rows = (
        _in_period(facts_in_scope(scope, **filters), period)
        .values("terminal_id", "direction")
        .annotate(
            median=Percentile(hours, 0.5), p90=Percentile(hours, 0.9), declarations=Count("pk")
        )
        .order_by("terminal_id", "direction")
    )
    return [
        {
            "terminal": terminal_names.get(row["terminal_id"], "—"),
            "direction": row["direction"],
            "median_h": round_hours(row["median"]),
            "p90_h": round_hours(row["p90"]),
            "declarations": row["declarations"],
        }
        for row in rows
    ]


TRADE_DIMENSIONS = {
    "trade_mode": "trade_mode",
    "country": "origin_country",
    "hs_chapter": "hs_chapter",
    "enterprise": "enterprise_id",
}


def trade_breakdown(
    scope: Scope,
    period: Period,
    dimension: str,
    *,
    limit: int = 10,
    terminal_id: int | None = None,
    direction: str = "",
) -> list[dict]:
    """Declarations, containers and value by one dimension, largest value first, summed
    from the daily trade rollup."""
    return trade_breakdowns(
        scope, period, [dimension], limit=limit, terminal_id=terminal_id, direction=direction
    )[dimension]


TRADE = """
    SELECT dimension, key, declarations, containers, value FROM (
        SELECT dimension, key, sum(declarations) AS declarations,
               sum(containers) AS containers, sum(value) AS value,
               row_number() OVER (PARTITION BY dimension ORDER BY sum(value) DESC, key) AS rank
        FROM analytics_dailytrade
        WHERE dimension = ANY(%(dimensions)s) AND terminal_id = %(terminal)s
          AND enterprise_id = ANY(%(enterprises)s) AND day >= %(start)s AND day < %(end)s
          AND (%(direction)s = '' OR direction = %(direction)s)
        GROUP BY dimension, key
    ) AS ranked
    WHERE rank <= %(limit)s
    ORDER BY dimension, rank
"""


def trade_breakdowns(
    scope: Scope,
    period: Period,
    dimensions: list[str],
    *,
    limit: int = 10,
    terminal_id: int | None = None,
    direction: str = "",
) -> dict[str, list[dict]]:
    """`trade_breakdown` of several dimensions in one query (each its top `limit`)."""
    params = {
        "dimensions": list(dimensions),
        "terminal": terminal_id or DailyTrade.ALL,
        "enterprises": [DailyTrade.ALL] if scope.port_wide else list(scope.organisation_ids),
        "start": period.start,
        "end": period.end,
        "direction": direction,
        "limit": limit,
    }
    tables: dict[str, list[dict]] = {dimension: [] for dimension in dimensions}
    with _cursor_reading(DailyTrade) as cursor:
        cursor.execute(TRADE, params)
        for dimension, key, declarations, containers, value in cursor.fetchall():
            tables[dimension].append(
                {
                    "key": int(key) if dimension == "enterprise" else key,
                    "declarations": declarations,
                    "containers": containers or 0,
                    "value": float(value or 0),
                }
            )
    return tables


def trade_breakdown_from_facts(
    scope: Scope, period: Period, dimension: str, *, limit: int = 10, **filters
) -> list[dict]:
    """The same breakdown computed from the facts (the rollup's check)."""
    column = TRADE_DIMENSIONS[dimension]
    rows = (
        _in_period(facts_in_scope(scope, **filters), period)
        .values(column)
        .annotate(declarations=Count("pk"), containers=Sum("containers"), value=Sum("value"))
        .order_by("-value", column)[:limit]
    )
    return [
        {
            "key": row[column],
            "declarations": row["declarations"],
            "containers": row["containers"] or 0,
            "value": float(row["value"] or 0),
        }
        for row in rows
    ]


def counts_in_scope(scope: Scope, *, terminal_id: int | None = None):
    counts = HourlyCount.objects.all()
    if not scope.port_wide:
        counts = counts.filter(organisation_id__in=scope.organisation_ids)
    if terminal_id:
        counts = counts.filter(terminal_id=terminal_id)
    return counts


def metric_totals(
    scope: Scope, metrics: list[str], start: datetime, end: datetime, **filters
) -> dict[str, int]:
    rows = (
        counts_in_scope(scope, **filters)
        .filter(metric__in=metrics, hour__gte=start, hour__lt=end)
        .values("metric")
        .annotate(total=Sum("count"))
    )
    totals = dict.fromkeys(metrics, 0)
    totals.update({row["metric"]: row["total"] for row in rows})
    return totals


def metric_per_hour(
    scope: Scope, metric: str, *, hours: int = 24, now: datetime | None = None, **filters
) -> list[dict]:
    """A metric per hour for the last `hours` hours, every hour present (zero when quiet)."""
    now = now or timezone.now()
    first, last = _last_hours(now, hours)
    rows = (
        counts_in_scope(scope, **filters)
        .filter(metric=metric, hour__gte=first, hour__lte=last)
        .values("hour")
        .annotate(total=Sum("count"))
    )
    return _hour_rows({row["hour"]: row["total"] for row in rows}, first, hours)


def _last_hours(now: datetime, hours: int) -> tuple[datetime, datetime]:
    last = now.replace(minute=0, second=0, microsecond=0)
    return last - timedelta(hours=hours - 1), last


def _hour_rows(by_hour: dict, first: datetime, hours: int) -> list[dict]:
    tz = timezone.get_current_timezone()
    return [
        {
            "hour": (first + timedelta(hours=i)).astimezone(tz).strftime("%H:00"),
            "count": by_hour.get(first + timedelta(hours=i), 0),
        }
        for i in range(hours)
    ]


def metric_figures(
    scope: Scope,
    totals_of: list[str],
    start: datetime,
    end: datetime,
    *,
    per_hour_of: list[str],
    per_hour_unfiltered: list[str],
    now: datetime,
    hours: int = 24,
    terminal_id: int | None = None,
) -> tuple[dict[str, int], dict[str, list[dict]]]:
    """`metric_totals` of `totals_of` over [start, end) and `metric_per_hour` of each of
    `per_hour_of` (with the terminal filter) and `per_hour_unfiltered` (without), in one
    query."""
    first, last = _last_hours(now, hours)
    # Built from constants only; the values are parameters.
    in_scope = "TRUE" if scope.port_wide else "organisation_id = ANY(%(orgs)s)"
    on_terminal = "terminal_id = %(terminal)s" if terminal_id else "TRUE"
    sql = f"""
        SELECT metric, NULL::timestamptz, sum(count) FROM analytics_hourlycount
        WHERE metric = ANY(%(totals)s) AND hour >= %(start)s AND hour < %(end)s
          AND {in_scope} AND {on_terminal}
        GROUP BY metric
        UNION ALL
        SELECT metric, hour, sum(count) FROM analytics_hourlycount
        WHERE metric = ANY(%(filtered)s) AND hour >= %(first)s AND hour <= %(last)s
          AND {in_scope} AND {on_terminal}
        GROUP BY metric, hour
        UNION ALL
        SELECT metric, hour, sum(count) FROM analytics_hourlycount
        WHERE metric = ANY(%(unfiltered)s) AND hour >= %(first)s AND hour <= %(last)s
          AND {in_scope}
        GROUP BY metric, hour
    """  # noqa: S608
    params = {
        "totals": list(totals_of),
        "filtered": list(per_hour_of),
        "unfiltered": list(per_hour_unfiltered),
        "start": start,
        "end": end,
        "first": first,
        "last": last,
        "orgs": list(scope.organisation_ids),
        "terminal": terminal_id,
    }
    totals = dict.fromkeys(totals_of, 0)
    by_hour: dict[str, dict] = {m: {} for m in [*per_hour_of, *per_hour_unfiltered]}
    with _cursor_reading(HourlyCount) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for metric, hour, total in rows:
        if hour is None:
            totals[metric] = total
        else:
            by_hour[metric][hour] = total
    return totals, {m: _hour_rows(counts, first, hours) for m, counts in by_hour.items()}


def _cursor_reading(model):
    """A cursor on the database the model is read from (the replica, when one is set)."""
    return connections[router.db_for_read(model)].cursor()


def round_hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round((now - before) / before * 100, 1)
