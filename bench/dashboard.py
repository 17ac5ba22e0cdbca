"""The port-wide dashboard API at ten million timeline events.

The history lives in a database of its own (`<the project's database>_dashboard`, or
BENCH_DASHBOARD_DB), built once by `analytics_history` (COPY) and kept between runs: the
next run only migrates it and adds what is missing. BENCH_DASHBOARD_EVENTS sets its size
(default 10,000,000, over 180 days).

Times `GET /api/v1/analytics/dashboard/` for the day and the week (port-wide, in-process
through DRF), RUNS runs of REQUESTS requests each: p50 and p95 per run, then the median,
min and max over the runs, three ways:
- cold: every request is the first after an update (its cached answer deleted first);
- warm: the same answer asked again (the cache's version unchanged);
- trickle: the real consumer folds a few fresh filings every TRICKLE_S seconds in a
  thread beside the requests, which come one every PACE_S seconds (a run spans several
  updates); how many requests computed the answer is counted. Once as in production (the
  consumer computes the port's answers before the pages hear of the change), once
  without that ("unwarmed": the first request after each update computes).
The peer, in the same run: the clearance and trade tables read straight from the rollups.
BENCH_DASHBOARD_FACTS=1 adds the same tables computed from the facts (the path before the
rollups; a week of it takes seconds per call). Also: what one consumer refresh of today
(and its week) costs, since the 5-second task pays it while today's events arrive.
"""

import os
import random
import statistics
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone, translation
from rest_framework.test import APIClient

from analytics import cache, dashboard, services, simulation
from analytics import statistics as stats
from analytics.models import ClearanceFact, DashboardVersion, PeriodClearance
from analytics.queries import Scope, scope_for
from port import embedded
from port.models import TimelineEvent, User

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
REQUESTS = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "40"))
EVENTS = int(os.environ.get("BENCH_DASHBOARD_EVENTS", "10000000"))
FROM_FACTS = os.environ.get("BENCH_DASHBOARD_FACTS") == "1"
TRICKLE_S = float(os.environ.get("BENCH_DASHBOARD_TRICKLE_S", "5"))
TRICKLE_FILINGS = int(os.environ.get("BENCH_DASHBOARD_TRICKLE_FILINGS", "3"))
PACE_S = float(os.environ.get("BENCH_DASHBOARD_PACE_S", "0.5"))
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


def _timed(call, *, before=None, pace_s: float = 0.0) -> dict:
    """RUNS runs of REQUESTS calls: the median, min and max of each run's p50 and p95 (ms).
    `before` runs untimed ahead of each call; `pace_s` spaces the calls' starts."""
    call()  # warm
    p50s, p95s = [], []
    for _ in range(RUNS):
        samples = []
        for _ in range(REQUESTS):
            if before:
                before()
            started = time.perf_counter()
            call()
            elapsed = time.perf_counter() - started
            samples.append(elapsed * 1000)
            if pace_s > elapsed:
                time.sleep(pace_s - elapsed)
        p50s.append(percentile(samples, 0.5))
        p95s.append(percentile(samples, 0.95))
    return {"p50_ms": _summary(p50s), "p95_ms": _summary(p95s)}


def _own_database():
    url = urlsplit(embedded.database_url())
    return kept_database(os.environ.get("BENCH_DASHBOARD_DB") or f"{url.path.strip('/')}_dashboard")


@contextmanager
def kept_database(name: str):
    """Django's connection on the database `name`, created if missing and kept after the
    bench (a history built once, reused by later runs)."""
    url = urlsplit(embedded.database_url())
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


def _fold(rng: random.Random) -> tuple[int, int]:
    """A few real filings, then the real consumer: what a 5-second tick folds. Returns the
    events folded and the filings refused (a random container number already in use)."""
    refused = 0
    for _ in range(TRICKLE_FILINGS):
        outcome = simulation.file_declaration(rng) or "filing refused"
        refused += outcome.startswith("filing refused")
    return services.rollups_consume_all(), refused


class Trickle(threading.Thread):
    """The consumer every TRICKLE_S seconds, on its own connection, until stopped."""

    def __init__(self, name: str):
        super().__init__(daemon=True)
        self.database = name
        self.stop = threading.Event()
        self.ticks: list[float] = []
        self.events = 0
        self.refused = 0

    def run(self) -> None:
        connection.settings_dict["NAME"] = self.database  # this thread's own connection
        # Seeded by the clock: the database keeps the filings of earlier runs.
        rng = random.Random(time.time_ns())  # noqa: S311 - demo data
        try:
            while not self.stop.wait(TRICKLE_S):
                started = time.perf_counter()
                events, refused = _fold(rng)
                self.events += events
                self.refused += refused
                self.ticks.append((time.perf_counter() - started) * 1000)
        finally:
            connection.close()


class Misses:
    """Counts the requests that computed the tables (the cache missed); the consumer's
    thread computing the port's answers ahead is not a request."""

    def __init__(self):
        self.count = 0
        self.compute = dashboard.dashboard_tables
        self.thread = threading.current_thread()

    def __enter__(self):
        def counted(*args, **kwargs):
            if threading.current_thread() is self.thread:
                self.count += 1
            return self.compute(*args, **kwargs)

        cache.dashboard.dashboard_tables = counted
        return self

    def __exit__(self, *exc):
        cache.dashboard.dashboard_tables = self.compute


def _api(client, name: str) -> dict:
    figures = {}
    for kind in ("day", "week"):
        url = f"/api/v1/analytics/dashboard/?period={kind}"
        assert client.get(url).status_code == 200
        filters = dashboard.Filters(period=kind)
        period = stats.period_for(kind)

        def forget(filters=filters):
            django_cache.delete(cache.answer_key(PORT, filters, timezone.now()))

        figures[f"api_{kind}_cold"] = _timed(lambda url=url: client.get(url), before=forget)
        figures[f"api_{kind}_warm"] = _timed(lambda url=url: client.get(url))
        figures[f"peer_tables_from_rollups_{kind}"] = _timed(lambda p=period: _from_rollups(p))
        if FROM_FACTS:
            figures[f"peer_tables_from_facts_{kind}"] = _timed(lambda p=period: _from_facts(p))
    figures.update(_enterprise())
    figures["consumer_warm_port_answers_ms"] = _warm_cost()
    trickle = Trickle(name)
    trickle.start()
    warm = cache.dashboard_warm
    try:
        # As in production (the consumer computes the port's answers before the pages
        # hear of the change), then without that: the first request after each update
        # computes.
        for warmed, suffix in ((True, ""), (False, "_unwarmed")):
            cache.dashboard_warm = warm if warmed else lambda: None
            for kind in ("day", "week"):
                url = f"/api/v1/analytics/dashboard/?period={kind}"
                with Misses() as misses:
                    timing = _timed(lambda url=url: client.get(url), pace_s=PACE_S)
                figures[f"api_{kind}_trickle{suffix}"] = {
                    **timing,
                    "computed": misses.count,
                    "requests": RUNS * REQUESTS + 1,
                }
    finally:
        cache.dashboard_warm = warm
        trickle.stop.set()
        trickle.join()
    figures["trickle"] = {
        "every_s": TRICKLE_S,
        "filings_per_tick": TRICKLE_FILINGS,
        "ticks": len(trickle.ticks),
        "events_folded": trickle.events,
        "filings_refused": trickle.refused,
        "tick_ms": _summary(trickle.ticks) if trickle.ticks else None,
        "request_every_s": PACE_S,
    }
    return figures


def _enterprise() -> dict:
    """One enterprise's week, cold and warm (the importer's: its own consignments)."""
    user = User.objects.get(username="importer")
    client = APIClient()
    client.force_authenticate(user)
    scope = scope_for(user)
    filters = dashboard.Filters(period="week")
    url = "/api/v1/analytics/dashboard/?period=week"

    def forget():
        key = cache.answer_key(scope, filters, timezone.now())
        if key:
            django_cache.delete(key)

    return {
        "enterprise_has_version": cache.answer_key(scope, filters, timezone.now()) is not None,
        "api_enterprise_week_cold": _timed(lambda: client.get(url), before=forget),
        "api_enterprise_week_warm": _timed(lambda: client.get(url)),
    }


def _warm_cost() -> dict:
    """What the consumer pays per update to compute the port's answers ahead (ms)."""
    samples = []
    for _ in range(RUNS):
        keys = []
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                for kind in ("day", "week"):
                    keys.append(
                        cache.answer_key(PORT, dashboard.Filters(period=kind), timezone.now())
                    )
        django_cache.delete_many(keys)
        started = time.perf_counter()
        cache.dashboard_warm()
        samples.append((time.perf_counter() - started) * 1000)
    return _summary(samples)


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
        # The dashboards get a version once the consumer has folded something.
        _fold(random.Random(time.time_ns()))  # noqa: S311
        if not DashboardVersion.objects.filter(dashboard="port").exists():
            last = TimelineEvent.objects.order_by("-id").values_list("id", flat=True).first()
            services.dashboard_versions_bump(organisation_ids=[], last_event_id=last)

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
            "started_utc": timezone.now().isoformat(timespec="seconds"),
            "load_average_before": [round(x, 1) for x in os.getloadavg()],
        }
        figures.update(_api(client, name))
        for kind in ("day", "week"):
            period = stats.period_for(kind)
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
        figures["finished_utc"] = timezone.now().isoformat(timespec="seconds")
        figures["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    return figures
