"""Every write to the analytics rollups: folding new timeline events in, and rebuilding.

The consumer reads the timeline past a watermark, in id order, in batches: one query in,
bulk writes out, and the watermark moves in the same transaction as the rollups, under
the watermark row's lock. Running it twice, or twice at once, counts nothing twice.

How an event kind feeds the clearance facts is the `FACT_HANDLERS` table below: an app
that adds a kind (the inspection branch's "inspection finished", the shipping branch's
berthing) adds a line there. Every kind is counted in `HourlyCount` without any line.
"""

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from analytics import cache, events, statistics
from analytics.models import NONE, ClearanceFact, DashboardVersion, HourlyCount, Watermark
from declarations import queries as declaration_queries
from inspection import queries as inspection_queries
from port import live
from port.models import TimelineEvent
from port.timeline import timeline_after
from reference import queries as reference_queries

WATERMARK = "timeline"
DECLARATION = "declarations.declaration"


def metrics_of(kind: str, data: dict) -> list[str]:
    """The metrics one event counts towards: its kind, and the kind with its new state."""
    metrics = [kind]
    for key in ("to", "outcome", "direction"):
        if isinstance(data.get(key), str):
            metrics.append(f"{kind}:{data[key]}")
    return metrics


@transaction.atomic
def rollups_consume(*, batch_size: int = 5000, now: datetime | None = None) -> int:
    """Fold the timeline events past the watermark into the rollups; return how many.

    Writes HourlyCount and ClearanceFact rows and moves the watermark, in one transaction
    under the watermark's row lock (a concurrent run waits, then finds nothing new).
    After commit, tells the dashboards that changed.
    """
    Watermark.objects.get_or_create(name=WATERMARK)
    watermark = Watermark.objects.select_for_update().get(name=WATERMARK)
    batch = timeline_after(watermark.last_event_id, limit=batch_size, now=now or timezone.now())
    if not batch:
        return 0
    about = _declaration_ids(batch)
    facts = _apply_facts(batch, about)
    _add_counts(batch, facts)
    days = {_local_day(f.filed_at) for f in facts.values() if f.filed_at}
    days |= _record_arrivals(batch)
    clearance_days_refresh(days=days)
    watermark.last_event_id = batch[-1]["id"]
    watermark.save(update_fields=["last_event_id", "updated_at"])
    organisations = sorted({e["organisation_id"] for e in batch if e["organisation_id"]})
    dashboard_versions_bump(organisation_ids=organisations, last_event_id=batch[-1]["id"])
    if len(batch) < batch_size:
        # Caught up: the port's answers are computed once here, before the pages hear of
        # the change (callbacks run in order), instead of by every page's re-fetch at once.
        transaction.on_commit(cache.dashboard_warm, robust=True)
    live.publish_on_commit(
        groups=events.dashboard_groups(organisations),
        event=events.dashboard_updated(len(batch)),
    )
    return len(batch)


BUMP = """
    INSERT INTO analytics_dashboardversion (dashboard, last_event_id)
    SELECT dashboard, %s FROM unnest(%s::text[]) AS keys(dashboard)
    ON CONFLICT (dashboard) DO UPDATE SET last_event_id = EXCLUDED.last_event_id
"""


def dashboard_versions_bump(*, organisation_ids: list[int], last_event_id: int) -> None:
    """The port's dashboard, and these enterprises', now show events up to `last_event_id`
    (one statement, in the consumer's transaction): their cached answers are superseded."""
    keys = [events.PORT_KEY] + [str(i) for i in sorted(organisation_ids)]
    with connection.cursor() as cursor:
        cursor.execute(BUMP, [last_event_id, keys])


def dashboard_versions_forget() -> None:
    """After a rebuild: no dashboard has a version (nothing is cached) until the consumer
    folds the next events, whose ids are past every version written before."""
    DashboardVersion.objects.all().delete()


def rollups_consume_all(*, batch_size: int = 5000) -> int:
    """Consume until caught up; each batch is its own transaction."""
    total = 0
    while consumed := rollups_consume(batch_size=batch_size):
        total += consumed
    return total


# -- clearance facts ------------------------------------------------------------------------


def _filed(fact: ClearanceFact, event: dict) -> None:
    fact.filed_at = event["created_at"]


def _status_changed(fact: ClearanceFact, event: dict) -> None:
    to = event["data"].get("to")
    at = event["created_at"]
    if to in {"released", "inspection_required"} and fact.decided_at is None:
        fact.decided_at = at
        fact.outcome = to
        fact.containers_selected = len(event["data"].get("selected") or [])
    if to == "released" and fact.released_at is None:
        fact.released_at = at


def _access_decided(fact: ClearanceFact, event: dict) -> None:
    # A declaration may have two checks (quarantine, permits): the later release clears it.
    if event["data"].get("to") == "released":
        at = event["created_at"]
        fact.access_cleared_at = max(at, fact.access_cleared_at or at)


def _inspection_status_changed(fact: ClearanceFact, event: dict) -> None:
    # The first container an officer starts on ends the wait for inspection.
    if event["data"].get("to") == "in_progress" and fact.inspection_started_at is None:
        fact.inspection_started_at = event["created_at"]


# kind -> how it moves a declaration's fact.
FACT_HANDLERS: dict[str, Callable[[ClearanceFact, dict], None]] = {
    TimelineEvent.Kind.DECLARATION_FILED: _filed,
    TimelineEvent.Kind.DECLARATION_STATUS_CHANGED: _status_changed,
    TimelineEvent.Kind.INSPECTION_STATUS_CHANGED: _inspection_status_changed,
    TimelineEvent.Kind.ACCESS_DECIDED: _access_decided,
}
INSPECTION = "inspection.inspection"


def _declaration_ids(batch: list[dict]) -> dict[int, int]:
    """Event id -> the declaration it is about, for events about a declaration or one of
    its inspections (resolved in one query)."""
    inspections = inspection_queries.declaration_ids_of_inspections(
        inspection_ids=[e["subject_id"] for e in batch if e["subject_type"] == INSPECTION]
    )
    about = {}
    for event in batch:
        if event["subject_type"] == DECLARATION:
            about[event["id"]] = event["subject_id"]
        elif event["kind"] == TimelineEvent.Kind.ACCESS_DECIDED:
            about[event["id"]] = event["data"]["declaration_id"]
        elif event["subject_type"] == INSPECTION and event["subject_id"] in inspections:
            about[event["id"]] = inspections[event["subject_id"]]
    return about


def _apply_facts(batch: list[dict], about: dict[int, int]) -> dict[int, ClearanceFact]:
    """Create and move the facts of the declarations in the batch; return them by id."""
    relevant = [e for e in batch if e["id"] in about and e["kind"] in FACT_HANDLERS]
    ids = set(about.values())
    facts = {f.declaration_id: f for f in ClearanceFact.objects.filter(declaration_id__in=ids)}
    missing = {
        about[e["id"]] for e in relevant if e["kind"] == TimelineEvent.Kind.DECLARATION_FILED
    } - facts.keys()
    new = {}
    for declaration_id, row in declaration_queries.declaration_facts(
        declaration_ids=list(missing)
    ).items():
        new[declaration_id] = ClearanceFact(
            declaration_id=declaration_id,
            direction=row["direction"],
            enterprise_id=row["enterprise_id"],
            declarant_id=row["declarant_id"],
            terminal_id=row["terminal_id"] or NONE,
            port_call_id=row["port_call_id"] or NONE,  # none: an e-commerce summary
            trade_mode=row["trade_mode"],
            arrived_at=row["arrived_at"] if row["direction"] == "import" else None,
            hs_chapter=(row["main_hs"] or "")[:2],
            origin_country=row["main_country"] or "",
            value=_value_cny(row),
            containers=row["container_count"],
        )
    for event in relevant:
        declaration_id = about[event["id"]]
        fact = new.get(declaration_id) or facts.get(declaration_id)
        if fact is not None:
            FACT_HANDLERS[event["kind"]](fact, event)
    ClearanceFact.objects.bulk_create([f for f in new.values() if f.filed_at])
    ClearanceFact.objects.bulk_update(
        list(facts.values()),
        [
            "decided_at",
            "inspection_started_at",
            "released_at",
            "access_cleared_at",
            "outcome",
            "containers_selected",
        ],
        batch_size=1000,
    )
    return {**facts, **new}


ARRIVE = """
    UPDATE analytics_clearancefact f SET arrived_at = c.ata
    FROM port_portcall c
    WHERE c.id = ANY(%s) AND c.ata IS NOT NULL
      AND f.port_call_id = c.id AND f.direction = 'import' AND f.arrived_at IS NULL
    RETURNING f.filed_at
"""


def _record_arrivals(batch: list[dict]) -> set:
    """Start the clock of the imports filed ahead of their vessel, now that it has berthed
    (one statement for the batch); return the local days of their filing."""
    calls = [
        e["subject_id"]
        for e in batch
        if e["kind"] == TimelineEvent.Kind.PORT_CALL_STATUS_CHANGED
        and (e["data"] or {}).get("to") == "berthed"
    ]
    if not calls:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(ARRIVE, [calls])
        return {_local_day(row[0]) for row in cursor.fetchall()}


# -- hourly counts --------------------------------------------------------------------------

UPSERT_COUNT = """
    INSERT INTO analytics_hourlycount (metric, hour, organisation_id, terminal_id, count)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (metric, hour, organisation_id, terminal_id)
    DO UPDATE SET count = analytics_hourlycount.count + EXCLUDED.count
"""


def _add_counts(batch: list[dict], facts: dict[int, ClearanceFact]) -> None:
    counts: Counter = Counter()
    for event in batch:
        fact = facts.get(event["subject_id"]) if event["subject_type"] == DECLARATION else None
        hour = event["created_at"].replace(minute=0, second=0, microsecond=0)
        for metric in metrics_of(event["kind"], event["data"] or {}):
            key = (
                metric,
                hour,
                event["organisation_id"] or NONE,
                fact.terminal_id if fact else NONE,
            )
            counts[key] += 1
    # Sorted, so that two writers touching the same keys lock them in the same order.
    rows = [(*key, count) for key, count in sorted(counts.items())]
    with connection.cursor() as cursor:
        cursor.executemany(UPSERT_COUNT, rows)


RECOUNT = """
    SELECT m.metric, date_trunc('hour', e.created_at), COALESCE(e.organisation_id, 0),
           COALESCE(f.terminal_id, 0), count(*)
    FROM port_timelineevent e
    LEFT JOIN analytics_clearancefact f
      ON e.subject_type = 'declarations.declaration' AND f.declaration_id = e.subject_id
    CROSS JOIN LATERAL (VALUES
        (e.kind),
        (CASE WHEN jsonb_typeof(e.data -> 'to') = 'string' THEN e.kind || ':' || (e.data ->> 'to') END),
        (CASE WHEN jsonb_typeof(e.data -> 'outcome') = 'string'
              THEN e.kind || ':' || (e.data ->> 'outcome') END),
        (CASE WHEN jsonb_typeof(e.data -> 'direction') = 'string'
              THEN e.kind || ':' || (e.data ->> 'direction') END)
    ) AS m(metric)
    WHERE m.metric IS NOT NULL AND e.id <= %s
    GROUP BY 1, 2, 3, 4
"""


def hourly_counts_recount(*, up_to_event_id: int) -> dict[tuple, int]:
    """The hourly counts recomputed from raw events in one SQL pass (for checks and rebuilds)."""
    with connection.cursor() as cursor:
        cursor.execute(RECOUNT, [up_to_event_id])
        return {tuple(row[:4]): row[4] for row in cursor.fetchall()}


@transaction.atomic
def hourly_counts_rebuild() -> int:
    """Replace the hourly counts by a recount of every event up to the watermark.

    For a large imported history: one set-based pass instead of the consumer's batches.
    """
    Watermark.objects.get_or_create(name=WATERMARK)
    watermark = Watermark.objects.select_for_update().get(name=WATERMARK)
    HourlyCount.objects.all().delete()
    dashboard_versions_forget()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO analytics_hourlycount (metric, hour, organisation_id, terminal_id, count) "
            + RECOUNT,
            [watermark.last_event_id],
        )
        return cursor.rowcount


def _local_day(moment: datetime):
    return timezone.localdate(moment)


DAILY_CLEARANCE = """
    INSERT INTO analytics_dailyclearance
        (day, direction, terminal_id, enterprise_id, declarations, median_h, p90_h)
    SELECT day, direction,
           CASE WHEN GROUPING(terminal_id) = 1 THEN -1 ELSE terminal_id END,
           CASE WHEN GROUPING(enterprise_id) = 1 THEN -1 ELSE enterprise_id END,
           count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY hours)
    FROM (
        SELECT (filed_at AT TIME ZONE %(tz)s)::date AS day, direction, terminal_id, enterprise_id,
               EXTRACT(EPOCH FROM (released_at - cleared_from)) / 3600.0 AS hours
        FROM analytics_clearancefact
        WHERE {where}
    ) AS facts
    GROUP BY day, direction,
             GROUPING SETS ((), (terminal_id), (enterprise_id), (terminal_id, enterprise_id))
"""


def clearance_days_refresh(*, days: set) -> None:
    """Recompute what the dashboards read of the facts filed on these local days: their
    daily clearance, their trade, and the clearance of those days and of their weeks."""
    if not days:
        return
    tz = timezone.get_current_timezone()
    weeks = {day - timedelta(days=day.weekday()) for day in days}
    start = timezone.make_aware(datetime.combine(min(weeks), datetime.min.time()), tz)
    end = timezone.make_aware(datetime.combine(max(weeks), datetime.min.time()), tz) + timedelta(
        days=7
    )
    in_range = "filed_at >= %(start)s AND filed_at < %(end)s AND "
    on_days = in_range + "(filed_at AT TIME ZONE %(tz)s)::date = ANY(%(days)s)"
    in_weeks = in_range + f"{WEEK_OF_FILING} = ANY(%(weeks)s)"
    params = {
        "tz": str(tz),
        "start": start,
        "end": end,
        "days": sorted(days),
        "weeks": sorted(weeks),
    }
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_dailyclearance WHERE day = ANY(%(days)s)", params)
        cursor.execute(DAILY_CLEARANCE.format(where=on_days), params)
        cursor.execute("DELETE FROM analytics_dailytrade WHERE day = ANY(%(days)s)", params)
        cursor.execute(DAILY_TRADE.format(where=on_days), params)
        cursor.execute(
            "DELETE FROM analytics_periodclearance WHERE (kind = 'day' AND start = ANY(%(days)s))"
            " OR (kind = 'week' AND start = ANY(%(weeks)s))",
            params,
        )
        cursor.execute(period_clearance_sql("day", on_days), params)
        cursor.execute(period_clearance_sql("week", in_weeks), params)


@transaction.atomic
def clearance_daily_rebuild() -> None:
    """Recompute every rollup of the facts (daily clearance, trade, period clearance) from
    scratch (after a bulk import)."""
    tz = str(timezone.get_current_timezone())
    dashboard_versions_forget()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_dailyclearance")
        cursor.execute(DAILY_CLEARANCE.format(where="TRUE"), {"tz": tz})
        cursor.execute("DELETE FROM analytics_dailytrade")
        cursor.execute(DAILY_TRADE.format(where="TRUE"), {"tz": tz})
        cursor.execute("DELETE FROM analytics_periodclearance")
        cursor.execute(period_clearance_sql("day", "TRUE"), {"tz": tz})
        cursor.execute(period_clearance_sql("week", "TRUE"), {"tz": tz})


# The local Monday of a fact's filing: the ISO week it belongs to.
WEEK_OF_FILING = "date_trunc('week', filed_at AT TIME ZONE %(tz)s)::date"
PERIOD_START = {"day": "(filed_at AT TIME ZONE %(tz)s)::date", "week": WEEK_OF_FILING}
# (stage, from column, to column): statistics.STAGES without the labels.
STAGE_COLUMNS = [(key, begin, end) for key, _label, begin, end in statistics.STAGES]
ALL_SETS = "GROUPING SETS ((), (terminal_id), (enterprise_id), (terminal_id, enterprise_id))"
TERMINAL_AND_ENTERPRISE = """
    CASE WHEN GROUPING(terminal_id) = 1 THEN -1 ELSE terminal_id END,
    CASE WHEN GROUPING(enterprise_id) = 1 THEN -1 ELSE enterprise_id END"""


def period_clearance_sql(kind: str, where: str) -> str:
    """Each stage's median, 90th percentile and count per period (day or week) of filing,
    direction, terminal and enterprise, with the ALL rows (grouping sets)."""
    stage_columns = ", ".join(f"{s}_median, {s}_p90, {s}_count" for s, _a, _b in STAGE_COLUMNS)
    aggregates = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {s}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {s}), count({s})"
        for s, _a, _b in STAGE_COLUMNS
    )
    hours = ", ".join(
        f"EXTRACT(EPOCH FROM ({end} - {begin})) / 3600.0 AS {s}" for s, begin, end in STAGE_COLUMNS
    )
    # Built from this module's constants only: nothing from a request reaches it.
    return f"""
        INSERT INTO analytics_periodclearance
            (kind, start, direction, terminal_id, enterprise_id, declarations, {stage_columns})
        SELECT '{kind}', start, direction, {TERMINAL_AND_ENTERPRISE}, count(*), {aggregates}
        FROM (
            SELECT {PERIOD_START[kind]} AS start, direction, terminal_id, enterprise_id, {hours}
            FROM analytics_clearancefact
            WHERE {where}
        ) AS facts
        GROUP BY start, direction, {ALL_SETS}
    """  # noqa: S608


# Each fact counts once under each trade dimension.
DAILY_TRADE = f"""
    INSERT INTO analytics_dailytrade
        (day, dimension, key, direction, terminal_id, enterprise_id, declarations, containers, value)
    SELECT day, dimension, key, direction, {TERMINAL_AND_ENTERPRISE},
           count(*), sum(containers), sum(value)
    FROM (
        SELECT (filed_at AT TIME ZONE %(tz)s)::date AS day, direction, terminal_id, enterprise_id,
               containers, value, trade_mode, origin_country, hs_chapter
        FROM analytics_clearancefact
        WHERE {{where}}
    ) AS facts
    CROSS JOIN LATERAL (VALUES
        ('trade_mode', trade_mode), ('country', origin_country), ('hs_chapter', hs_chapter),
        ('enterprise', enterprise_id::text)
    ) AS dimensions(dimension, key)
    GROUP BY day, dimension, key, direction, {ALL_SETS}
"""  # noqa: S608


def counts_by_key() -> dict[tuple, int]:
    return {
        (c.metric, c.hour, c.organisation_id, c.terminal_id): c.count
        for c in HourlyCount.objects.all()
    }


def _value_cny(row: dict) -> Decimal:
    """The declaration's goods value in CNY at the reference rate of its filing day (the
    latest published on or before it); kept as declared where no rate is known."""
    value = row["total_value"] or Decimal(0)
    day = _local_day(row["submitted_at"]) if row.get("submitted_at") else timezone.localdate()
    converted = reference_queries.to_cny(value, row.get("currency") or "CNY", day)
    return value if converted is None else converted
