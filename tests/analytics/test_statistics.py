"""Clearance statistics against hand-computed figures.

percentile_cont interpolates: over n sorted values the p-th percentile sits at position
p * (n - 1), between the two values around it.
"""

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import services, statistics
from analytics.models import ClearanceFact, HourlyCount
from analytics.queries import Scope

PORT = Scope(port_wide=True)
DAY = date(2026, 3, 11)  # a Wednesday
_ids = iter(range(1, 10_000))


def at(day: date, hours: float) -> datetime:
    start = timezone.make_aware(datetime(day.year, day.month, day.day, 8, 0))
    return start + timedelta(hours=hours)


def fact(
    day, *, direction="import", arrived=None, decided=None, inspected=None, released=None, **fields
):
    defaults = dict(
        enterprise_id=1, declarant_id=1, terminal_id=7, hs_chapter="69", origin_country="CN"
    )
    defaults.update(fields)
    return ClearanceFact.objects.create(
        declaration_id=next(_ids),
        direction=direction,
        arrived_at=None if arrived is None else at(day, arrived),
        filed_at=at(day, 0),
        decided_at=None if decided is None else at(day, decided),
        inspection_started_at=None if inspected is None else at(day, inspected),
        released_at=None if released is None else at(day, released),
        **defaults,
    )


@pytest.fixture
def facts(db):
    # Imports filed on DAY: two released at once, two inspected, one still waiting.
    fact(DAY, decided=2, released=2)
    fact(DAY, decided=4, released=4)
    fact(DAY, decided=1, inspected=2, released=6)
    fact(DAY, decided=3, inspected=5, released=10)
    fact(DAY, decided=0.5)
    # The day before: imports took 8 h and 12 h.
    fact(DAY - timedelta(days=1), decided=8, released=8)
    fact(DAY - timedelta(days=1), decided=1, inspected=2, released=12)
    # One export on DAY, of another enterprise at another terminal.
    fact(
        DAY,
        direction="export",
        decided=1,
        released=1,
        enterprise_id=2,
        terminal_id=8,
        hs_chapter="84",
    )
    services.clearance_daily_rebuild()  # as a bulk import does; the consumer refreshes its days


def stages_of(rows, direction):
    row = next(r for r in rows if r["direction"] == direction)
    return row, {s["stage"]: s for s in row["stages"]}


def test_medians_and_90th_percentiles_per_stage(facts):
    rows = statistics.clearance_summary(PORT, statistics.period_for("day", DAY))

    row, stages = stages_of(rows, "import")
    assert row["declarations"] == 5
    # filing to release over 2, 4, 6, 10 (the waiting one has no release)
    assert (stages["overall"]["median_h"], stages["overall"]["p90_h"]) == (5.0, 8.8)
    assert stages["overall"]["count"] == 4
    # filing to decision over 0.5, 1, 2, 3, 4: p90 at position 3.6 is 3 + 0.6
    assert (stages["filing_to_decision"]["median_h"], stages["filing_to_decision"]["p90_h"]) == (
        2.0,
        3.6,
    )
    # decision to inspection over 1, 2; inspection to release over 4, 5
    assert (
        stages["decision_to_inspection"]["median_h"],
        stages["decision_to_inspection"]["p90_h"],
    ) == (1.5, 1.9)
    assert (
        stages["inspection_to_release"]["median_h"],
        stages["inspection_to_release"]["p90_h"],
    ) == (4.5, 4.9)


def test_trend_against_the_previous_period(facts):
    rows = statistics.clearance_summary(PORT, statistics.period_for("day", DAY))

    _, imports = stages_of(rows, "import")
    # the day before: median of 8 and 12 is 10; now 5: half the time
    assert imports["overall"]["previous_median_h"] == 10.0
    assert imports["overall"]["change_pct"] == -50.0
    _, exports = stages_of(rows, "export")
    assert exports["overall"]["median_h"] == 1.0
    assert exports["overall"]["change_pct"] is None  # nothing to compare with


def test_a_week_holds_both_days_and_compares_with_the_week_before(facts):
    week = statistics.period_for("week", DAY)
    assert (week.start, week.end) == (date(2026, 3, 9), date(2026, 3, 16))

    _, imports = stages_of(statistics.clearance_summary(PORT, week), "import")

    # 2, 4, 6, 8, 10, 12: median 7, p90 at position 4.5 is 10 + 0.5 * 2
    assert (imports["overall"]["median_h"], imports["overall"]["p90_h"]) == (7.0, 11.0)
    assert imports["overall"]["previous_median_h"] is None


def test_an_enterprise_sees_its_own_consignments_only(facts):
    rows = statistics.clearance_summary(
        Scope(port_wide=False, organisation_ids=(2,)), statistics.period_for("day", DAY)
    )

    imports, _ = stages_of(rows, "import")
    exports, _ = stages_of(rows, "export")
    assert (imports["declarations"], exports["declarations"]) == (0, 1)


def test_filters_by_terminal_and_direction(facts):
    period = statistics.period_for("day", DAY)

    by_terminal = statistics.clearance_summary(PORT, period, terminal_id=8)
    exports_only = statistics.clearance_summary(PORT, period, direction="export")

    assert [r["declarations"] for r in by_terminal] == [0, 1]
    assert [r["declarations"] for r in exports_only] == [0, 1]


def test_series_per_day_and_by_terminal(facts):
    series = statistics.clearance_series(PORT, days=2, on=DAY)
    terminals = statistics.clearance_by_terminal(
        PORT, statistics.period_for("day", DAY), {7: "XHCT", 8: "SYCT"}
    )

    assert series == [
        {
            "day": "2026-03-10",
            "direction": "import",
            "median_h": 10.0,
            "p90_h": 11.6,
            "declarations": 2,
        },
        {
            "day": "2026-03-11",
            "direction": "export",
            "median_h": 1.0,
            "p90_h": 1.0,
            "declarations": 1,
        },
        {
            "day": "2026-03-11",
            "direction": "import",
            "median_h": 5.0,
            "p90_h": 8.8,
            "declarations": 5,
        },
    ]
    assert terminals == [
        {
            "terminal": "XHCT",
            "direction": "import",
            "median_h": 5.0,
            "p90_h": 8.8,
            "declarations": 5,
        },
        {
            "terminal": "SYCT",
            "direction": "export",
            "median_h": 1.0,
            "p90_h": 1.0,
            "declarations": 1,
        },
    ]


@pytest.mark.parametrize(
    ("scope", "filters"),
    [
        (PORT, {}),
        (PORT, {"terminal_id": 8}),
        (PORT, {"direction": "import"}),
        (Scope(port_wide=False, organisation_ids=(1,)), {}),
        (Scope(port_wide=False, organisation_ids=(2,)), {"terminal_id": 8}),
    ],
)
def test_the_daily_rollup_equals_the_series_computed_from_facts(facts, scope, filters):
    from_rollup = statistics.clearance_series(scope, days=3, on=DAY, **filters)
    from_facts = statistics.clearance_series_from_facts(scope, days=3, on=DAY, **filters)

    assert from_rollup == from_facts
    assert from_rollup != []


SCOPES_AND_FILTERS = [
    (PORT, {}),
    (PORT, {"terminal_id": 8}),
    (PORT, {"direction": "import"}),
    (Scope(port_wide=False, organisation_ids=(1,)), {}),
    (Scope(port_wide=False, organisation_ids=(2,)), {"terminal_id": 8}),
    (Scope(port_wide=False, organisation_ids=(1, 2)), {"direction": "export"}),
]


@pytest.mark.parametrize(("scope", "filters"), SCOPES_AND_FILTERS)
@pytest.mark.parametrize("kind", ["day", "week"])
def test_the_period_rollups_equal_the_figures_computed_from_facts(facts, scope, filters, kind):
    """What the dashboard reads (period clearance, daily trade) is what the facts say."""
    period = statistics.period_for(kind, DAY)
    terminals = {7: "XHCT", 8: "SYCT"}

    assert statistics.clearance_summary(
        scope, period, **filters
    ) == statistics.clearance_summary_from_facts(scope, period, **filters)
    assert statistics.clearance_by_terminal(
        scope, period, terminals, **filters
    ) == statistics.clearance_by_terminal_from_facts(scope, period, terminals, **filters)
    for dimension in statistics.TRADE_DIMENSIONS:
        assert statistics.trade_breakdown(
            scope, period, dimension, **filters
        ) == statistics.trade_breakdown_from_facts(scope, period, dimension, **filters)


def test_the_consumer_refreshes_the_periods_of_the_facts_it_moved(facts):
    # given: a release today of a declaration filed the day before DAY
    late = ClearanceFact.objects.filter(filed_at__date=DAY - timedelta(days=1)).first()
    late.released_at = at(DAY, 30)
    late.save(update_fields=["released_at"])
    week = statistics.period_for("week", DAY)
    stale = statistics.clearance_summary(PORT, week)

    # when
    services.clearance_days_refresh(days={DAY - timedelta(days=1)})

    # then
    fresh = statistics.clearance_summary(PORT, week)
    assert fresh != stale
    assert fresh == statistics.clearance_summary_from_facts(PORT, week)


def test_overall_clearance_of_imports_runs_from_the_vessels_arrival(db):
    # given: imports of a vessel that arrived 5 h before the filing, 3 h after it (released
    # on arrival, before or after), one whose vessel has not arrived; an export
    fact(DAY, arrived=-5, decided=2, released=2)  # 7 h
    fact(DAY, arrived=3, decided=1, released=1)  # released before arrival: 0 h
    fact(DAY, arrived=3, decided=1, inspected=4, released=9)  # 6 h
    fact(DAY, decided=2, released=4)  # no arrival yet: from the filing, 4 h
    fact(DAY, direction="export", arrived=-9, decided=1, released=1)  # from the filing, 1 h
    services.clearance_daily_rebuild()

    # when
    _row, imports = stages_of(
        statistics.clearance_summary(PORT, statistics.period_for("day", DAY)), "import"
    )
    _row, exports = stages_of(
        statistics.clearance_summary(PORT, statistics.period_for("day", DAY)), "export"
    )
    series = statistics.clearance_series(PORT, days=1, on=DAY)

    # then: over 0, 4, 6, 7 the median is 5 and the 90th percentile 6.7
    assert (imports["overall"]["label"], imports["overall"]["median_h"]) == (
        "Arrival to release",
        5.0,
    )
    assert imports["overall"]["p90_h"] == 6.7
    assert imports["filing_to_decision"]["median_h"] == 1.5  # stages still start at the filing
    assert (exports["overall"]["label"], exports["overall"]["median_h"]) == (
        "Filing to release",
        1.0,
    )
    assert [(r["direction"], r["median_h"]) for r in series] == [("export", 1.0), ("import", 5.0)]
    assert series == statistics.clearance_series_from_facts(PORT, days=1, on=DAY)


def test_trade_breakdown_by_trade_mode(db):
    fact(DAY, trade_mode="0110", value=Decimal("300"))
    fact(DAY, trade_mode="9610", value=Decimal("500"))
    fact(DAY, trade_mode="0110", value=Decimal("400"))
    services.clearance_daily_rebuild()

    rows = statistics.trade_breakdown(PORT, statistics.period_for("day", DAY), "trade_mode")

    assert [(r["key"], r["declarations"], r["value"]) for r in rows] == [
        ("0110", 2, 700.0),
        ("9610", 1, 500.0),
    ]


def test_trade_breakdown_by_chapter_largest_value_first(db):
    fact(DAY, hs_chapter="69", value=Decimal("100"), containers=2)
    fact(DAY, hs_chapter="02", value=Decimal("900"), containers=1)
    fact(DAY, hs_chapter="69", value=Decimal("50"), containers=3)
    services.clearance_daily_rebuild()

    rows = statistics.trade_breakdown(PORT, statistics.period_for("day", DAY), "hs_chapter")

    assert rows == [
        {"key": "02", "declarations": 1, "containers": 1, "value": 900.0},
        {"key": "69", "declarations": 2, "containers": 5, "value": 150.0},
    ]


def test_metric_totals_and_hourly_series_read_the_counts(db):
    now = timezone.make_aware(datetime(2026, 3, 11, 10, 30))
    hour = now.replace(minute=0)
    HourlyCount.objects.create(metric="m", hour=hour, organisation_id=1, count=3)
    HourlyCount.objects.create(metric="m", hour=hour, organisation_id=2, terminal_id=5, count=4)
    HourlyCount.objects.create(
        metric="m", hour=hour - timedelta(hours=2), organisation_id=1, count=1
    )
    HourlyCount.objects.create(
        metric="m", hour=hour - timedelta(days=2), organisation_id=1, count=50
    )

    totals = statistics.metric_totals(PORT, ["m", "other"], hour - timedelta(hours=5), now)
    mine = statistics.metric_totals(Scope(False, (1,)), ["m"], hour - timedelta(hours=5), now)
    series = statistics.metric_per_hour(PORT, "m", hours=3, now=now)

    assert totals == {"m": 8, "other": 0}
    assert mine == {"m": 4}
    assert series == [
        {"hour": "08:00", "count": 1},
        {"hour": "09:00", "count": 0},
        {"hour": "10:00", "count": 7},
    ]


@pytest.mark.parametrize("scope", [PORT, Scope(False, (1,)), Scope(False, (1, 2))])
@pytest.mark.parametrize("terminal_id", [None, 5])
def test_metric_figures_in_one_query_equal_the_totals_and_series(db, scope, terminal_id):
    now = timezone.make_aware(datetime(2026, 3, 11, 10, 30))
    hour = now.replace(minute=0)
    for metric, at, org, terminal, count in [
        ("m", hour, 1, 0, 3),
        ("m", hour, 2, 5, 4),
        ("m", hour - timedelta(hours=2), 1, 5, 1),
        ("m", hour - timedelta(days=2), 1, 0, 50),
        ("g", hour - timedelta(hours=1), 2, 0, 6),
        ("g", hour, 1, 5, 2),
    ]:
        HourlyCount.objects.create(
            metric=metric, hour=at, organisation_id=org, terminal_id=terminal, count=count
        )
    start = hour - timedelta(days=3)

    with CaptureQueriesContext(connection) as queries:
        totals, series = statistics.metric_figures(
            scope,
            ["m", "g", "other"],
            start,
            now,
            per_hour_of=["m"],
            per_hour_unfiltered=["g"],
            now=now,
            hours=3,
            terminal_id=terminal_id,
        )

    assert len(queries) == 1
    assert totals == statistics.metric_totals(
        scope, ["m", "g", "other"], start, now, terminal_id=terminal_id
    )
    assert series == {
        "m": statistics.metric_per_hour(scope, "m", hours=3, now=now, terminal_id=terminal_id),
        "g": statistics.metric_per_hour(scope, "g", hours=3, now=now),
    }


def test_the_access_stage_is_its_own_stage_from_filing_to_the_last_check_released(db):
    """Goods with quarantine or permits involved (两段准入): the access stage shows beside
    customs' stages, and only goods that have one count in it."""
    for access_hours in (3, 7):
        ClearanceFact.objects.filter(pk=fact(DAY, decided=1, released=2).pk).update(
            access_cleared_at=at(DAY, access_hours)
        )
    fact(DAY, decided=1, released=1)  # no access stage: customs' release is the end
    services.clearance_daily_rebuild()

    for rows in (
        statistics.clearance_summary(PORT, statistics.period_for("day", DAY)),
        statistics.clearance_summary_from_facts(PORT, statistics.period_for("day", DAY)),
    ):
        _row, stages = stages_of(rows, "import")
        access = stages["filing_to_access"]
        assert (access["median_h"], access["count"]) == (5.0, 2)
        assert str(access["label"]).startswith("Filing to access cleared")


def test_the_consumer_clears_the_access_stage_when_the_last_check_is_released(db):
    from port.models import TimelineEvent

    declaration_fact = fact(DAY, decided=1, released=2)
    for hours, to in ((3, "released"), (5, "held"), (4, "released")):
        # at the time the officer decided (raw: the timeline's time is its own otherwise)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO port_timelineevent (kind, subject_type, subject_id, data, created_at)"
                " VALUES (%s, 'inspection.accesscheck', %s, %s, %s)",
                [
                    TimelineEvent.Kind.ACCESS_DECIDED,
                    hours,
                    json.dumps({"declaration_id": declaration_fact.declaration_id, "to": to}),
                    at(DAY, hours),
                ],
            )
    services.rollups_consume_all()

    declaration_fact.refresh_from_db()
    assert declaration_fact.access_cleared_at == at(DAY, 4)  # the later release
