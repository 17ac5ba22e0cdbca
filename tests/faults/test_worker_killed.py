"""A Celery worker SIGKILLed in the middle of assessing batches of filings: every filing is
assessed, none twice, and the lost task is redone within seconds (port/workers.py), not
after the broker's one-hour visibility timeout.

Two ways back, as production has them: another worker takes over (a pod gone for good: the
outbox relay sees the dead worker's heartbeat stop and puts its messages back), and the
same worker restarted under its name (`make run`'s supervisor, a container restart: it puts
back its predecessor's messages before consuming)."""

import signal
import socket
import time
import uuid

import pytest
import redis

from declarations.models import Declaration
from declarations.services import declaration_requeue_stuck
from inspection.models import Decision
from port import workers
from port.models import TimelineEvent
from tests.conftest import (
    RUN_ID,
    TEST_QUEUE,
    TEST_REDIS_URL,
    container_number,
    filing,
    outbox_relay_process,
    start_celery_worker,
    stop_processes,
)
from tests.faults.conftest import assessed, declaration_ids_in, where_are_they

pytestmark = [pytest.mark.slow, pytest.mark.realparts]

BATCHES = 12
PER_BATCH = 100
URL = "/api/v1/declarations/batch/"
SWEEP_AFTER = 15


def _lost_declaration_ids(broker: redis.Redis, nodename: str) -> list[int]:
    """The declarations of the messages the dead worker took and never acknowledged (it may
    also hold other work, a notification or a sweep, when it is killed)."""
    values = broker.hvals(workers.unacked_keys(nodename)["unacked_key"])
    return [pk for value in values for pk in declaration_ids_in(value)]


def _frozen_with_a_batch(worker, broker: redis.Redis, nodename: str) -> bool:
    """Stops the worker when it holds an unacknowledged batch after some work is done, and
    says whether it still holds one once stopped; resumes it otherwise."""
    unacked = workers.unacked_keys(nodename)["unacked_key"]
    if not (broker.hlen(unacked) and assessed() > 0):
        return False
    worker.send_signal(signal.SIGSTOP)
    time.sleep(0.05)  # commands the worker had already sent reach Redis
    if broker.hlen(unacked):
        return True
    worker.send_signal(signal.SIGCONT)
    return False


def _file_batches(demo, api_for) -> int:
    client = api_for(demo.importer)
    for b in range(BATCHES):
        body = [
            filing(
                demo.port_call.pk,
                bl_number=f"KILL{b:03d}{n:04d}",
                containers=[container_number(300_000 + b * PER_BATCH + n)],
            )
            for n in range(PER_BATCH)
        ]
        response = client.post(URL, {"declarations": body}, format="json")
        assert response.status_code in (200, 201, 207), response.content
        assert response.json()["filed"] == PER_BATCH
    return BATCHES * PER_BATCH


def _await_assessed(total: int, deadline: float) -> list[int]:
    """Until every filing is assessed. A message the dead worker had taken off its queue
    (BRPOP) and not yet written into its unacked hash when it was killed is in neither
    place: kombu cannot put it back, and in production beat's minute sweep
    (`declaration_requeue_stuck`, filings submitted 120 s ago and still unassessed, 500 at a
    time) queues them again. Each time filings stay unassessed for SWEEP_AFTER seconds, the
    test runs that sweep as beat would (without the 120 s, to stay short); the relay must
    still send it and a worker assess it. Returns the ids it queued again."""
    swept: list[int] = []
    quiet_since, seen = time.monotonic(), assessed()
    while (done := assessed()) < total:
        assert time.monotonic() < deadline, where_are_they(TEST_REDIS_URL)
        if done != seen:
            quiet_since, seen = time.monotonic(), done
        elif time.monotonic() - quiet_since > SWEEP_AFTER:
            swept += declaration_requeue_stuck(older_than_seconds=0)
            quiet_since = time.monotonic()
        time.sleep(0.05)
    return swept


def _forget_earlier_tests(broker: redis.Redis) -> None:
    """This run's queues emptied, and what its stopped workers held forgotten: a worker an
    earlier test stopped with tasks in hand left them for a relay to put back (as production
    wants), and this test's relay would hand them to its workers (CI saw two such tasks)."""
    for pattern in (f"{TEST_QUEUE}*", f"unacked*{RUN_ID}*", f"{workers.PREFIX}*{RUN_ID}*"):
        for key in broker.scan_iter(match=pattern, count=1000):
            broker.delete(key)


@pytest.mark.parametrize("comes_back", ["another_worker", "same_worker_restarted"])
def test_a_worker_killed_mid_batch_loses_nothing_and_decides_nothing_twice(
    demo, api_for, transactional_db, comes_back, capsys
):
    broker = redis.Redis.from_url(TEST_REDIS_URL)
    name = f"killed-{RUN_ID}-{uuid.uuid4().hex[:4]}@%h"
    nodename = name.replace("%h", socket.gethostname())
    _forget_earlier_tests(broker)
    relay = outbox_relay_process()
    worker = start_celery_worker(name)
    second = None
    try:
        total = _file_batches(demo, api_for)
        # Kill while a batch is taken and unacknowledged, after some work is done. The worker
        # is frozen (SIGSTOP) before the hash is read again: in CI once, it finished and
        # acknowledged the batch between the read and the kill, and nothing was lost.
        deadline = time.monotonic() + 120
        while not _frozen_with_a_batch(worker, broker, nodename):
            assert time.monotonic() < deadline, "the worker never took a batch"
            time.sleep(0.005)
        # A worker with a task in hand beats with the short TTL, not the start-up one (in
        # CI once, killed before it was ready, its task waited the start-up's 120 s).
        assert 0 < broker.ttl(f"{workers.PREFIX}{nodename}") <= workers.HEARTBEAT_TTL
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.monotonic()
        lost = broker.hlen(workers.unacked_keys(nodename)["unacked_key"])
        lost_ids = _lost_declaration_ids(broker, nodename)
        assessed_at_kill = assessed()
        assert lost >= 1  # a task really was lost with the worker
        assert assessed_at_kill < total

        restarted_name = name if comes_back == "same_worker_restarted" else f"taker-{name}"
        second = start_celery_worker(restarted_name)
        started = time.monotonic() - killed_at
        lost_rows = Declaration.objects.filter(pk__in=lost_ids, decisions__isnull=True)
        deadline = time.monotonic() + 120
        while lost_rows.exists():
            assert time.monotonic() < deadline, where_are_they(TEST_REDIS_URL)
            time.sleep(0.05)
        redone = time.monotonic() - killed_at
        swept = _await_assessed(total, deadline)
        recovered = time.monotonic() - killed_at
    finally:
        stop_processes(*(p for p in (relay, worker, second) if p is not None))

    assert assessed() == total  # 0 lost
    decisions = Decision.objects.count()
    assert decisions == total  # one container each: one decision each, none twice
    decided = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CONTAINER_DECIDED).count()
    assert decided == total  # no decision recorded twice on the timeline
    with capsys.disabled():
        print(
            f"\n[worker killed, {comes_back}] {lost} task(s) ({len(lost_ids)} filings) lost at "
            f"the kill, {assessed_at_kill}/{total} assessed then; the next worker answered "
            f"{started:.1f} s after the kill, the lost batch was redone at {redone:.1f} s, "
            f"all {total} assessed at {recovered:.1f} s"
            + (f" ({len(swept)} by the minute's sweep)" if swept else "")
        )
    assert redone < 60
