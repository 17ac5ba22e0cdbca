"""The transactional outbox (port/outbox.py): work is a row in the change's own transaction,
relayed to the broker after commit; a broker that is down keeps the rows; tasks are
idempotent, so a row sent twice decides nothing twice."""

import contextlib
import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from declarations import services
from inspection import assessment
from inspection.models import Decision
from port import outbox, retention
from port.celery import app as celery_app
from port.celery import queue_for, workload_of
from port.models import OutboxMessage, TimelineEvent
from tests.conftest import MEAT_ITEM, ROOT, TEST_REDIS_URL, _subprocess_env, filing, queued
from tests.declarations.factories import file

HARMLESS = "port.tasks.outbox_sent_purge_task"  # a task that may run any time, any number


def _queue_length(task_name: str) -> int:
    return redis.Redis.from_url(TEST_REDIS_URL).llen(
        queue_for(workload_of(task_name), celery_app.conf.task_default_queue)
    )


def test_a_row_is_written_in_the_transaction_and_rolled_back_with_it(db):
    with transaction.atomic():
        outbox.enqueue(HARMLESS)
        assert queued() == [(HARMLESS, {})]  # visible inside, before commit

    def failing_change():
        with transaction.atomic():
            outbox.enqueue(HARMLESS, note="never")
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        failing_change()

    assert queued() == [(HARMLESS, {})]


def test_a_filing_writes_its_assessment_as_one_row_in_its_own_transaction(demo, api_for):
    response = api_for(demo.importer).post(
        "/api/v1/declarations/", filing(demo.port_call.pk), format="json"
    )

    assert response.status_code == 201
    assert queued() == [(services.ASSESS_TASK, {"declaration_ids": [response.json()["id"]]})]


def test_a_refused_filing_queues_nothing(demo, api_for):
    response = api_for(demo.importer).post(
        "/api/v1/declarations/", filing(demo.port_call.pk, bl_number=""), format="json"
    )

    assert response.status_code == 400
    assert queued() == []


def test_enqueue_many_writes_one_row_per_unit_of_work(db):
    rows = outbox.enqueue_many([(HARMLESS, {"ids": [1, 2, 3]}), (HARMLESS, {"ids": [4]})])

    assert len(rows) == 2
    assert queued() == [(HARMLESS, {"ids": [1, 2, 3]}), (HARMLESS, {"ids": [4]})]


def test_kwargs_are_stored_as_the_json_the_task_gets(db):
    outbox.enqueue(HARMLESS, on=date(2026, 12, 4), value=Decimal("1.50"))

    assert queued() == [(HARMLESS, {"on": "2026-12-04", "value": "1.50"})]
    with pytest.raises(TypeError):
        outbox.enqueue(HARMLESS, thing=object())


def test_the_relay_sends_oldest_first_and_marks_each_row_sent(db):
    before = _queue_length(HARMLESS)
    outbox.enqueue_many([(HARMLESS, {}) for _ in range(5)])

    assert outbox.relay_once(batch=3) == 3
    assert outbox.relay_once(batch=3) == 2
    assert outbox.relay_once(batch=3) == 0

    assert _queue_length(HARMLESS) == before + 5
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}
    assert outbox.backlog() == (0, None)


def test_the_backlog_is_what_waits_and_since_when(db):
    first = outbox.enqueue(HARMLESS)
    outbox.enqueue(HARMLESS)

    assert outbox.backlog() == (2, first.created_at)


def test_sent_rows_are_purged_after_their_retention_and_unsent_never(db, settings):
    settings.OUTBOX_RETENTION_HOURS = 48
    old, recent, unsent = (outbox.enqueue(HARMLESS) for _ in range(3))
    OutboxMessage.objects.filter(pk=old.pk).update(
        sent_at=timezone.now() - timezone.timedelta(hours=49)
    )
    OutboxMessage.objects.filter(pk=recent.pk).update(sent_at=timezone.now())
    OutboxMessage.objects.filter(pk=unsent.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=30)
    )

    assert retention.outbox_sent_purge() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, unsent.pk}


@pytest.mark.realparts
def test_a_broker_that_is_down_keeps_the_rows_with_the_error(transactional_db):
    """The relay, as its command runs, against a broker address where nothing listens."""
    rows = outbox.enqueue_many([(HARMLESS, {}) for _ in range(3)])

    result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, str(ROOT / "manage.py"), "outbox_relay", "--once"],
        cwd=ROOT,
        env={**_subprocess_env(), "BROKER_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "BrokerUnavailable" in result.stderr
    first, *others = OutboxMessage.objects.order_by("id")
    assert first.pk == rows[0].pk
    assert (first.sent_at, first.attempts) == (None, 1)
    assert "Error" in first.last_error
    assert [(o.sent_at, o.attempts) for o in others] == [(None, 0), (None, 0)]

    assert outbox.relay_once() == 3  # the broker is back (this test's own): all sent


@pytest.mark.realparts
def test_the_relay_wakes_on_commit_not_on_its_poll(transactional_db, monkeypatch):
    """LISTEN/NOTIFY: a committed row is sent well before the relay's next poll."""
    monkeypatch.setattr(outbox, "POLL_SECONDS", 30.0)
    with _relay_running():
        row = outbox.enqueue(HARMLESS)  # autocommit: committed at once
        _wait_until(lambda: OutboxMessage.objects.get(pk=row.pk).sent_at is not None)
    row.refresh_from_db()
    assert (row.sent_at - row.created_at).total_seconds() < 5  # not the 30 s poll


def test_assessment_sent_twice_decides_once(demo):
    """Redelivery (a relay that died before marking, a worker killed before acking) runs
    the task again: the second run finds every decision made and changes nothing."""
    declarations = [file(demo), file(demo, items=[MEAT_ITEM])]
    ids = [d.pk for d in declarations]

    assessment.assess_declarations(declaration_ids=ids)
    decisions = list(Decision.objects.order_by("id").values())
    events = TimelineEvent.objects.count()
    assessment.assess_declarations(declaration_ids=ids)

    assert list(Decision.objects.order_by("id").values()) == decisions
    assert TimelineEvent.objects.count() == events


def test_healthz_reports_the_oldest_unsent_row_and_fails_when_it_waits_too_long(db, client):
    assert client.get("/healthz").json()["outbox"] == {
        "pending": 0,
        "oldest_seconds": None,
        "stale": False,
    }
    row = outbox.enqueue(HARMLESS)
    OutboxMessage.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timezone.timedelta(seconds=120)
    )

    response = client.get("/healthz")

    found = response.json()["outbox"]
    assert (found["pending"], found["stale"]) == (1, True)
    assert found["oldest_seconds"] >= 120
    assert response.status_code == 503


def test_the_relay_sends_rows_of_a_mergeable_task_as_one_task(db, monkeypatch):
    sent = []
    monkeypatch.setattr(outbox, "_send", lambda unit: sent.append((unit.task_name, unit.kwargs)))
    outbox.enqueue(services.ASSESS_TASK, declaration_ids=[1])
    outbox.enqueue(HARMLESS, ids=[9])
    outbox.enqueue(services.ASSESS_TASK, declaration_ids=[2, 3])
    outbox.enqueue(services.ASSESS_TASK, declaration_ids=[4], actor_id=7)
    outbox.enqueue(HARMLESS, ids=[10])

    assert outbox.relay_once() == 5

    assert sent == [
        (services.ASSESS_TASK, {"declaration_ids": [1, 2, 3]}),
        (HARMLESS, {"ids": [9]}),  # not mergeable: one task per row
        (services.ASSESS_TASK, {"actor_id": 7, "declaration_ids": [4]}),  # other arguments
        (HARMLESS, {"ids": [10]}),
    ]
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


def test_a_merged_task_stays_within_the_merge_limit(db, monkeypatch):
    sent = []
    monkeypatch.setattr(outbox, "_send", lambda unit: sent.append(unit.kwargs["declaration_ids"]))
    monkeypatch.setattr(outbox, "MERGE_LIMIT", 3)
    for ids in ([1, 2], [3], [4], [5, 6]):
        outbox.enqueue(services.ASSESS_TASK, declaration_ids=ids)

    outbox.relay_once()

    assert sent == [[1, 2, 3], [4, 5, 6]]


def test_in_a_rush_the_relay_gathers_rows_of_a_mergeable_task_into_one_send(
    transactional_db, monkeypatch
):
    """After a mergeable task was sent, a wake-up waits GATHER_SECONDS before claiming: the
    rows committed meanwhile go as one task (single filings in a rush, assessed in batches);
    after a quiet spell a row is sent at once."""
    sent = []
    monkeypatch.setattr(outbox, "_send", lambda unit: sent.append(unit.kwargs["declaration_ids"]))
    monkeypatch.setattr(outbox, "GATHER_SECONDS", 1.0)  # wide enough for a busy machine
    with _relay_running():
        outbox.enqueue(services.ASSESS_TASK, declaration_ids=[1])  # quiet: sent at once
        _wait_until(lambda: sent == [[1]])
        for pk in (2, 3, 4):  # committed one by one, within the gathering second
            outbox.enqueue(services.ASSESS_TASK, declaration_ids=[pk])
        _wait_until(lambda: sum(len(ids) for ids in sent) == 4)
    assert sent == [[1], [2, 3, 4]]


def test_in_a_rush_rows_that_carry_enough_already_are_sent_at_once(transactional_db, monkeypatch):
    """A batch's thousands of filings in one row gain nothing from waiting for company."""
    sent = []
    monkeypatch.setattr(outbox, "_send", lambda unit: sent.append(unit.kwargs["declaration_ids"]))
    monkeypatch.setattr(outbox, "GATHER_SECONDS", 30.0)
    monkeypatch.setattr(outbox, "GATHERED_ENOUGH", 3)
    with _relay_running():
        outbox.enqueue(services.ASSESS_TASK, declaration_ids=[1])  # quiet: sent at once
        _wait_until(lambda: sent == [[1]])
        assert outbox._gathered() == 0
        outbox.enqueue(services.ASSESS_TASK, declaration_ids=[2, 3, 4])  # in the rush
        _wait_until(lambda: len(sent) == 2)  # well before the 30 s gathering
    assert sent == [[1], [2, 3, 4]]


@contextlib.contextmanager
def _relay_running():
    """`relay_forever` in a thread, drained and listening, until the block ends."""
    stop = threading.Event()
    relay = threading.Thread(target=outbox.relay_forever, args=(stop,), daemon=True)
    relay.start()
    try:
        time.sleep(1.0)  # the relay has drained and listens
        yield
    finally:
        stop.set()
        relay.join(timeout=40)


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not sent in time"
        time.sleep(0.01)
