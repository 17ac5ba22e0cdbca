"""The transactional outbox: work that a change queues is written as a row in the change's
own transaction, and a relay (`manage.py outbox_relay`) sends it to Celery after commit.

So a committed change always gets its work, even when Redis was down at commit time (the row
waits, and the relay sends it once Redis answers), and a rolled-back change never does. The
relay sends each row at least once: a relay that dies between sending and marking the row
sends it again, so every task queued here must be idempotent (they are: a second run
finds the work done and changes nothing).

Write one row for one unit of work: a batch of declarations is one row with their ids, never
a row per declaration (`enqueue_many` writes several different ones in one INSERT).

Wake-up: every INSERT into the table NOTIFYs `portwise_outbox` at commit (a trigger,
port/migrations/0008_outbox.py); the relay LISTENs, so the latency from commit to broker is
milliseconds, and it polls every `POLL_SECONDS` as well, in case a notification is missed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from port.models import OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "portwise_outbox"
BATCH = 100
POLL_SECONDS = 1.0  # the longest a row waits when its NOTIFY was missed
BACKOFF_FIRST = 0.2  # seconds after the first failed send; doubles each time
BACKOFF_MAX = 5.0  # so work flows again within 5 s of Redis coming back
RECLAIM_SECONDS = 2.0  # how often the relay looks for dead workers' tasks (port/workers.py)
# In a rush of mergeable rows (one sent less than RUSH_SECONDS ago), a wake-up waits
# GATHER_SECONDS before claiming, so that one pass sends the rush's rows together as one
# task: single filings at 140 a second were claimed one or two at a time, and an assessment
# costs its worker about 7 ms a task whatever its size (docs/performance.md, session 8).
# At 400 grouped filings a second (session 11), 0.1 s left the worker and relay 0.5 ms of
# CPU a filing, 0.3 s 0.17 ms: the rush's assessment waits 0.2 s more for its decision.
# A row after a quiet spell, and rows of tasks that do not merge, are sent at once, and
# so are rows that already carry GATHERED_ENOUGH values between them (a batch API's 5,000
# filings waited 0.3 s for nothing: a task's fixed cost is small beside that many).
GATHER_SECONDS = 0.3
RUSH_SECONDS = 1.0
GATHERED_ENOUGH = 1000


class BrokerUnavailable(Exception):
    """The relay could not send to the broker; the rows stay and are sent later."""


def _plain(kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs as plain JSON (dates, decimals, UUIDs as strings): what the task will get,
    and a payload that cannot be sent fails here, where it was built."""
    return json.loads(json.dumps(kwargs, cls=DjangoJSONEncoder))


def enqueue(task_name: str, **kwargs: Any) -> OutboxMessage:
    """Queue `task_name(**kwargs)` once the current transaction commits (one row, written in
    that transaction: rolled back with it). One plain INSERT: the ORM's `create` cost a
    filing about a millisecond of CPU to build and compile it."""
    plain = _plain(kwargs)
    with connection.cursor() as cursor:
        cursor.execute(_ENQUEUE_SQL, [task_name, json.dumps(plain), timezone.now()])
        pk, created_at = cursor.fetchone()
    return OutboxMessage.from_db(
        connection.alias,
        ["id", "task_name", "kwargs", "created_at", "sent_at", "attempts", "last_error"],
        [pk, task_name, plain, created_at, None, 0, ""],
    )


def enqueue_statement(task_name: str, **kwargs: Any) -> tuple[str, list]:
    """`enqueue` as a statement and its parameters, for a caller that sends it with its own
    writes in one round trip (the filing's INSERTs)."""
    return _ENQUEUE_SQL, [task_name, json.dumps(_plain(kwargs)), timezone.now()]


_ENQUEUE_SQL = (
    f"INSERT INTO {OutboxMessage._meta.db_table} "  # noqa: S608 - names of ours
    "(task_name, kwargs, created_at, attempts, last_error) "
    "VALUES (%s, %s::jsonb, %s, 0, '') RETURNING id, created_at"
)


def enqueue_many(messages: Iterable[tuple[str, dict[str, Any]]]) -> list[OutboxMessage]:
    """Queue several `(task_name, kwargs)` in one INSERT, e.g. a batch's work for each of
    the few tasks it needs. Each message is one unit of work (a list of ids), not an object."""
    rows = [OutboxMessage(task_name=name, kwargs=_plain(kwargs)) for name, kwargs in messages]
    return OutboxMessage.objects.bulk_create(rows) if rows else []


def backlog() -> tuple[int, datetime | None]:
    """How many rows wait to be sent, and when the oldest of them was written."""
    found = OutboxMessage.objects.filter(sent_at__isnull=True).aggregate(
        pending=Count("id"), oldest=Min("created_at")
    )
    return found["pending"], found["oldest"]


# Tasks whose rows the relay may send as one task: task name -> the list argument joined.
_MERGEABLE: dict[str, str] = {}
MERGE_LIMIT = 5000  # values in one merged list at most


def register_mergeable(task_name: str, list_argument: str) -> None:
    """Declare that `task_name` over the union of several rows' `list_argument` (their other
    arguments equal) does the work of those rows one by one: the relay then sends the rows it
    claims together as one task. Single filings in a rush are assessed in batches so."""
    _MERGEABLE[task_name] = list_argument


class _Unit(NamedTuple):
    rows: list[OutboxMessage]
    task_name: str
    kwargs: dict[str, Any]


def _units(rows: list[OutboxMessage]) -> list[_Unit]:
    """The sends for these rows, in the order of their first row: the rows of a mergeable task
    with the same other arguments as one send (up to MERGE_LIMIT values), the others alone."""
    units: list[_Unit] = []
    growing: dict[tuple[str, str], _Unit] = {}
    for row in rows:
        argument = _MERGEABLE.get(row.task_name)
        values = row.kwargs.get(argument) if argument else None
        if not isinstance(values, list):
            units.append(_Unit([row], row.task_name, row.kwargs))
            continue
        others = {key: value for key, value in row.kwargs.items() if key != argument}
        key = (row.task_name, json.dumps(others, sort_keys=True))
        unit = growing.get(key)
        if unit is None or len(unit.kwargs[argument]) + len(values) > MERGE_LIMIT:
            unit = growing[key] = _Unit([], row.task_name, {**others, argument: []})
            units.append(unit)
        unit.rows.append(row)
        unit.kwargs[argument].extend(values)
    return units


def _gathered() -> int:
    """How many values the next pass's unsent rows of mergeable tasks carry between them."""
    if not _MERGEABLE:
        return 0
    names, arguments = zip(*_MERGEABLE.items(), strict=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(_GATHERED_SQL, [BATCH, list(names), list(arguments)])
            return cursor.fetchone()[0]
    except DatabaseError:  # the pass that follows meets it and backs off
        return 0


_GATHERED_SQL = (
    "SELECT coalesce(sum(jsonb_array_length(o.kwargs -> m.argument)), 0)::int FROM ("  # noqa: S608
    f"SELECT task_name, kwargs FROM {OutboxMessage._meta.db_table} "  # a name of ours
    "WHERE sent_at IS NULL ORDER BY id LIMIT %s) o "
    "JOIN unnest(%s::text[], %s::text[]) AS m (task_name, argument) USING (task_name) "
    "WHERE jsonb_typeof(o.kwargs -> m.argument) = 'array'"
)


def _send(unit: _Unit) -> None:
    from port.celery import app

    # No retries inside Celery: a broker that is down fails at once, and the relay backs
    # off with the rows kept. The task id names the (first) row, so a second send is traceable.
    first, count = unit.rows[0].pk, len(unit.rows)
    task_id = f"outbox-{first}" + (f"+{count - 1}" if count > 1 else "")
    app.send_task(unit.task_name, kwargs=unit.kwargs, task_id=task_id, retry=False)


def relay_once(batch: int = BATCH) -> int:
    """Send up to `batch` unsent rows, oldest first, and mark them sent; return how many.

    Rows are claimed with FOR UPDATE SKIP LOCKED, so several relays share the work without
    sending a row twice. Rows of a mergeable task go as one task (`register_mergeable`).
    When a send fails, the rows sent before it are marked, the failed ones record the error,
    and BrokerUnavailable is raised: the rest wait for the next try.
    """
    return _relay_once(batch)[0]


def _relay_once(batch: int) -> tuple[int, bool]:
    """`relay_once`, and whether a mergeable task was among those sent."""
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(sent_at__isnull=True)
            .order_by("id")
            .only("id", "task_name", "kwargs")[:batch]
        )
        sent: list[int] = []
        merged = False
        failure: Exception | None = None
        for unit in _units(rows):
            pks = [row.pk for row in unit.rows]
            try:
                _send(unit)
            except Exception as error:  # noqa: BLE001 - any failure keeps the rows
                failure = error
                OutboxMessage.objects.filter(pk__in=pks).update(
                    attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
                )
                break
            sent += pks
            merged = merged or unit.task_name in _MERGEABLE
        if sent:
            OutboxMessage.objects.filter(pk__in=sent).update(
                sent_at=timezone.now(), attempts=F("attempts") + 1
            )
    if failure is not None:
        raise BrokerUnavailable(f"{type(failure).__name__}: {failure}") from failure
    return len(sent), merged


def purge_sent(*, now: datetime | None = None) -> int:
    """Delete rows sent more than OUTBOX_RETENTION_HOURS ago; return how many."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.OUTBOX_RETENTION_HOURS)
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


def _reclaim() -> None:
    from port import workers

    try:
        workers.reclaim_dead()
    except Exception as error:  # noqa: BLE001 - the broker is down: next time
        log.warning("outbox relay: dead workers not checked (%s)", error)


# --- the relay loop ------------------------------------------------------------------------


class _Listener:
    """A connection of its own that LISTENs on CHANNEL; `wait(t)` returns when a row was
    committed or after t seconds. Falls back to plain sleeping while it cannot connect."""

    def __init__(self) -> None:
        self.conn = None

    def _connect(self) -> None:
        import psycopg

        params = connection.get_connection_params()
        params = {k: v for k, v in params.items() if isinstance(v, str | int) and k != "pool"}
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """True when woken by a notification."""
        try:
            if self.conn is None or self.conn.closed:
                self._connect()
            woken = False
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                woken = True
            if woken:  # drain the others that came with it: one pass sends them all
                for _ in self.conn.notifies(timeout=0):
                    pass
            return woken
        except Exception as error:  # noqa: BLE001 - the database is away: poll until back
            log.warning("outbox relay: LISTEN unavailable (%s); polling", error)
            self.close()
            time.sleep(timeout)
            return False

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None


def relay_forever(stop: threading.Event | None = None, *, batch: int = BATCH) -> None:
    """Relay until `stop` is set: drain, then wait for a NOTIFY (or POLL_SECONDS)."""
    stop = stop or threading.Event()
    listener = _Listener()
    backoff = 0.0
    reclaimed_at = 0.0
    sent_at = float("-inf")  # when this relay last sent a mergeable task (monotonic)
    try:
        while not stop.is_set():
            if time.monotonic() - reclaimed_at >= RECLAIM_SECONDS:
                reclaimed_at = time.monotonic()
                _reclaim()
            try:
                sent, merged = _relay_once(batch)
            except BrokerUnavailable as error:
                backoff = min(max(backoff * 2, BACKOFF_FIRST), BACKOFF_MAX)
                log.warning("outbox relay: broker unavailable (%s); retry in %.1fs", error, backoff)
                stop.wait(backoff)
                continue
            except DatabaseError as error:
                backoff = min(max(backoff * 2, BACKOFF_FIRST), BACKOFF_MAX)
                log.warning(
                    "outbox relay: database unavailable (%s); retry in %.1fs", error, backoff
                )
                close_old_connections()
                connection.close()
                stop.wait(backoff)
                continue
            if backoff:
                log.info("outbox relay: sending again")
            backoff = 0.0
            if merged:
                sent_at = time.monotonic()
            if sent == batch:
                continue  # more waiting: no sleep
            woken = listener.wait(POLL_SECONDS)
            if (
                woken
                and time.monotonic() - sent_at < RUSH_SECONDS
                and _gathered() < GATHERED_ENOUGH
            ):
                stop.wait(GATHER_SECONDS)  # a rush: let its next rows join this pass
    finally:
        listener.close()
