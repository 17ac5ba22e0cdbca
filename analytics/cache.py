"""One dashboard answer per scope, filters and period, kept until the consumer folds new
events into that dashboard's figures.

The consumer writes, in the transaction that folds a batch, the batch's last event id as
the version of every dashboard the batch touched (`DashboardVersion`: the port's, and each
enterprise's whose events it held, the groups it tells `analytics.dashboard_updated`). A
request reads its dashboard's version in one query and looks its answer up in the cache
under it; a miss computes the tables and stores them. The version commits with the
rollups, so a request that reads a version reads at least the rollups of that version: a
cached answer is never older than its key. Event ids never repeat in a database (a rolled
back transaction's ids are not reused), and the key names the database (its oid), so two
databases sharing one Redis, or a database built again, never meet. A dashboard without a
version yet (no event folded since the last rebuild) is computed every time.

After folding the last batch of a tick, the consumer computes the port-wide day and week
(`dashboard_warm`) before it tells the pages to re-fetch: they find them ready.

What moves without an event (the clock: hours waited so far, the last 24 hours' series)
moves with the key's hour and at most MAX_AGE seconds late.
"""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connections, router
from django.utils import timezone, translation

from analytics import dashboard, events, statistics
from analytics.models import DashboardVersion
from analytics.queries import Scope

logger = logging.getLogger(__name__)

MAX_AGE = 60  # seconds

VERSION = """
    SELECT d.oid, max(v.last_event_id)
    FROM pg_database d
    LEFT JOIN analytics_dashboardversion v ON v.dashboard = ANY(%s)
    WHERE d.datname = current_database()
    GROUP BY d.oid
"""


def dashboard_keys(scope: Scope) -> list[str]:
    """The versions a scope's figures follow: the port's, or each of its enterprises'."""
    if scope.port_wide:
        return [events.PORT_KEY]
    return [str(organisation_id) for organisation_id in scope.organisation_ids]


def answer_key(scope: Scope, filters: dashboard.Filters, now: datetime) -> str | None:
    """The cache key of this answer at the dashboard's current version (one query), or
    None when the dashboard has no version yet."""
    # Read where the rollups are read (the replica, when one is set): a version is never
    # newer than the rollups read after it.
    with connections[router.db_for_read(DashboardVersion)].cursor() as cursor:
        cursor.execute(VERSION, [dashboard_keys(scope)])
        database, version = cursor.fetchone()
    if version is None:
        return None
    period = statistics.period_for(filters.period, filters.on)
    who = "port" if scope.port_wide else "-".join(map(str, scope.organisation_ids))
    hour = now.replace(minute=0, second=0, microsecond=0).isoformat()
    return ":".join(
        [
            "analytics.dashboard",
            str(database),
            str(version),
            who,
            period.kind,
            period.start.isoformat(),
            str(filters.terminal_id or ""),
            filters.direction,
            translation.get_language() or "",
            hour,
        ]
    )


def dashboard_tables(
    scope: Scope, filters: dashboard.Filters, *, now: datetime | None = None
) -> list[dict]:
    """The dashboard's tables as dicts (`Table.as_dict`), from the cache when this version
    of the answer is there; computed and stored otherwise."""
    now = now or timezone.now()
    key = answer_key(scope, filters, now)
    if key is not None:
        tables = _get(key)
        if tables is None and not _claim(key):
            tables = _await(key)
        if tables is not None:
            return tables
    tables = [t.as_dict() for t in dashboard.dashboard_tables(scope, filters, now=now)]
    if key is not None:
        _set(key, tables)
        _release(key)
    return tables


# After a push every open page re-fetches at once: one computes (the first to claim the
# answer), the others wait for its answer, and compute it themselves only past WAIT_S.
WAIT_S = 2.0
POLL_S = 0.02


def _claim(key: str) -> bool:
    try:
        return cache.add(f"{key}:computing", 1, timeout=int(WAIT_S) + 1)
    except Exception:  # noqa: BLE001
        logger.warning("dashboard cache unavailable (claim)", exc_info=True)
        return True


def _release(key: str) -> None:
    try:
        cache.delete(f"{key}:computing")
    except Exception:  # noqa: BLE001
        logger.warning("dashboard cache unavailable (release)", exc_info=True)


def _await(key: str) -> list[dict] | None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        tables = _get(key)
        if tables is not None:
            return tables
    return None


def dashboard_warm() -> None:
    """Compute and store the answers most pages ask for first: the port-wide day and week,
    unfiltered, in each language. The consumer calls it after a commit, before telling the
    pages to re-fetch, so that their re-fetch finds the new answer ready."""
    port = Scope(port_wide=True)
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for period in ("day", "week"):
                dashboard_tables(port, dashboard.Filters(period=period))


# The cache is a speed-up: with Redis down the dashboard is computed, not refused.
def _get(key: str) -> list[dict] | None:
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - any cache failure: compute instead
        logger.warning("dashboard cache unavailable (get)", exc_info=True)
        return None


def _set(key: str, tables: list[dict]) -> None:
    try:
        cache.set(key, tables, MAX_AGE)
    except Exception:  # noqa: BLE001
        logger.warning("dashboard cache unavailable (set)", exc_info=True)
