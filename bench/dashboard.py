"""The port-wide dashboard API at ten million timeline events.

The history lives in a database of its own (`<the project's database>_dashboard`, or
BENCH_DASHBOARD_DB), built once by `analytics_history` (COPY) and kept between runs: the
next run only migrates it and adds what is missing. BENCH_DASHBOARD_EVENTS sets its size
(default 10,000,000, over 180 days).

Times `GET /api/v1/analytics/dashboard/` for the day and the week (port-wide, in-process
through DRF), RUNS runs of REQUESTS requests each: p50 and p95 per run, then the median,
min and max over the runs. The peer, in the same run: the same clearance and trade tables
computed from the clearance facts as the API did before the period rollups, and one
read of the period rollup alone. Also: what one consumer refresh of today (and its week)
costs, since the 5-second task pays it while today's events arrive.
"""

import os
import statistics
import time
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from analytics import services
from analytics import statistics as stats
from analytics.models import ClearanceFact, PeriodClearance
from analytics.queries import Scope
from port import embedded
from port.models import TimelineEvent, User

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
REQUESTS = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "40"))
EVENTS = int(os.environ.get("BENCH_DASHBOARD_EVENTS", "10000000"))
PORT = Scope(port_wide=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def _timed(call) -> dict:
    """RUNS runs of REQUESTS calls: the median, min and max of each run's p50 and p95 (ms)."""
    call()  # warm
    p50s, p95s = [], []
    for _ in range(RUNS):
        samples = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        p50s.append(percentile(samples, 0.5))
        p95s.append(percentile(samples, 0.95))
    return {"p50_ms": _summary(p50s), "p95_ms": _summary(p95s)}


@contextmanager
def _own_database():
    url = urlsplit(embedded.database_url())
    name = os.environ.get("BENCH_DASHBOARD_DB") or f"{url.path.strip('/')}_dashboard"
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            db.execute(f'CREATE DATABASE "{name}"')
    before = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield name
    finally:
        connection.close()
        connection.settings_dict["NAME"] = before


def _from_facts(period) -> None:
    """The clearance and trade tables as the API computed them before the period rollups."""
    stats.clearance_summary_from_facts(PORT, period)
    stats.clearance_by_terminal_from_facts(PORT, period, {})
    for dimension in stats.TRADE_DIMENSIONS:
        stats.trade_breakdown_from_facts(PORT, period, dimension)


def _from_rollups(period) -> None:
    stats.clearance_summary(PORT, period)
    stats.clearance_by_terminal(PORT, period, {})
    for dimension in stats.TRADE_DIMENSIONS:
        stats.trade_breakdown(PORT, period, dimension)


def run(measure) -> dict:
    with _own_database() as name:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        call_command("analytics_history", events=EVENTS, days=180, verbosity=0)
        if not PeriodClearance.objects.exists():
            services.clearance_daily_rebuild()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        prepared_s = time.perf_counter() - started

        client = APIClient()
        client.force_authenticate(User.objects.get(username="officer"))
        figures = {
            "database": name,
            "timeline_events": TimelineEvent.objects.count(),
            "clearance_facts": ClearanceFact.objects.count(),
            "period_clearance_rows": PeriodClearance.objects.count(),
            "prepare_s": round(prepared_s, 1),
            "runs": RUNS,
            "requests_per_run": REQUESTS,
        }
        for kind in ("day", "week"):
            url = f"/api/v1/analytics/dashboard/?period={kind}"
            assert client.get(url).status_code == 200
            period = stats.period_for(kind)
            figures[f"api_{kind}"] = _timed(lambda url=url: client.get(url))
            figures[f"tables_from_rollups_{kind}"] = _timed(lambda p=period: _from_rollups(p))
            figures[f"peer_tables_from_facts_{kind}"] = _timed(lambda p=period: _from_facts(p))
            figures[f"rollup_equals_facts_{kind}"] = stats.clearance_summary(
                PORT, period
            ) == stats.clearance_summary_from_facts(PORT, period) and all(
                stats.trade_breakdown(PORT, period, d)
                == stats.trade_breakdown_from_facts(PORT, period, d)
                for d in stats.TRADE_DIMENSIONS
            )
        today = timezone.localdate()
        refresh = []
        for _ in range(RUNS):
            started = time.perf_counter()
            services.clearance_days_refresh(days={today, today - timedelta(days=1)})
            refresh.append((time.perf_counter() - started) * 1000)
        figures["consumer_refresh_today_and_yesterday_ms"] = _summary(refresh)
        figures["target"] = {"p95_ms": 50, "events": 10_000_000}
        figures["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    return figures
