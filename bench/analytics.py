"""The dashboard API at a long history.

Builds the history with `analytics_history` (COPY in batches), then times the dashboard
API (every table: figures, clearance medians and percentiles, trade) and the map API,
port-wide and for one enterprise, plus one incremental consumer run of fresh events.
BENCH_ANALYTICS_EVENTS sets the history size (default 2,000,000) and BENCH_ANALYTICS_DAYS
how far back it reaches (default 180): the events per day set the size of a day's or a
week's figures, the total the size of the history.
"""

import os
import random
import time

from django.core.management import call_command
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from analytics import services, simulation
from analytics.models import ClearanceFact, HourlyCount
from port.models import TimelineEvent, User


def _timed_get(measure, client, url: str) -> dict:
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    timing = measure(lambda: client.get(url), repeat=15)
    return {
        "queries": len(queries),
        "median_ms": round(timing["median_s"] * 1000, 1),
        "max_ms": round(timing["max_s"] * 1000, 1),
    }


def run(measure) -> dict:
    target = int(os.environ.get("BENCH_ANALYTICS_EVENTS", "2000000"))
    days = int(os.environ.get("BENCH_ANALYTICS_DAYS", "180"))
    started = time.perf_counter()
    call_command("analytics_history", events=target, days=days, verbosity=0)
    built_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    officer = User.objects.get(username="officer")
    importer = User.objects.get(username="importer")
    port, enterprise = APIClient(), APIClient()
    port.force_authenticate(officer)
    enterprise.force_authenticate(importer)
    figures = {
        "timeline_events": TimelineEvent.objects.count(),
        "clearance_facts": ClearanceFact.objects.count(),
        "hourly_count_rows": HourlyCount.objects.count(),
        "history_days": days,
        "history_build_s": round(built_s, 1),
        "dashboard_api_port_day": _timed_get(measure, port, "/api/v1/analytics/dashboard/"),
        "dashboard_api_port_week": _timed_get(
            measure, port, "/api/v1/analytics/dashboard/?period=week"
        ),
        "dashboard_api_enterprise_week": _timed_get(
            measure, enterprise, "/api/v1/analytics/dashboard/?period=week"
        ),
        "map_api_port": _timed_get(measure, port, "/api/v1/analytics/map/"),
    }

    # The consumer on top of the history: 50 fresh filings, about 200 events.
    rng = random.Random(11)  # noqa: S311
    for _ in range(50):
        simulation.file_declaration(rng)
    fresh = TimelineEvent.objects.count() - figures["timeline_events"]
    timing = measure(services.rollups_consume, repeat=1)
    figures["consume_fresh_events"] = {"events": fresh, "ms": round(timing["median_s"] * 1000, 1)}
    return figures
