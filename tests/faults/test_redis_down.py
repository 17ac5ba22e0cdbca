"""Redis stops under a running Portwise (web, outbox relay, a worker: real processes on a
PRIVATE Redis this test stops and starts, never the machine's). Filings answer 201 all the
while, since their work is a row in their own transaction (port/outbox.py) and a live push
is best effort; none is lost, and once Redis is back every one is assessed, once."""

import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests

from declarations.models import Declaration
from inspection.models import Decision
from port import embedded, outbox, workers
from port.auth import token_issue
from port.models import TimelineEvent
from tests.conftest import (
    ROOT,
    RUN_ID,
    _subprocess_env,
    container_number,
    filing,
    outbox_relay_process,
    start_celery_worker,
    stop_processes,
)
from tests.faults.conftest import assessed, free_port, where_are_they

pytestmark = [pytest.mark.slow, pytest.mark.realparts]

DURING_OUTAGE = 30


@pytest.fixture
def private_redis():
    """An embedded Redis in a folder of its own (a short one: its socket path must fit)."""
    data_dir = Path(tempfile.mkdtemp(prefix="pw-redis-"))
    server = embedded.EmbeddedRedis(data_dir)
    server.log_dir.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()
    embedded.remove_data(data_dir)


def _web(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-m", "uvicorn", "port.asgi:application"]
        + ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/livez", timeout=5).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"uvicorn did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def test_filings_answer_201_while_redis_is_down_and_are_assessed_once_it_is_back(
    demo, transactional_db, private_redis, tmp_path, capsys
):
    env = {**_subprocess_env(), "REDIS_URL": private_redis.url()}
    web, base = _web(env, tmp_path / "web.log")
    relay = outbox_relay_process(REDIS_URL=private_redis.url())
    worker = start_celery_worker(f"redis-{RUN_ID}-{uuid.uuid4().hex[:4]}@%h", **env)
    headers = {"Authorization": f"Token {token_issue(user=demo.importer).key}"}
    serial = iter(range(400_000, 500_000))

    def file_one() -> requests.Response:
        n = next(serial)
        body = filing(demo.port_call.pk, bl_number=f"REDIS{n}", containers=[container_number(n)])
        return requests.post(f"{base}/api/v1/declarations/", json=body, headers=headers, timeout=30)

    try:
        before = [file_one().status_code for _ in range(5)]
        # Those five assessed first: a message the relay hands to Redis in the instant Redis
        # stops can be lost between the worker's BRPOP and its unacked record (kombu's Redis
        # transport); the stuck-submission sweep re-queues such a declaration within minutes
        # (declaration_requeue_stuck), which this test does not run. What it proves is that
        # the filings made while Redis is down wait in the outbox and lose nothing.
        deadline = time.monotonic() + 60
        while assessed() < 5:
            assert time.monotonic() < deadline, where_are_they(private_redis.url())
            time.sleep(0.05)
        private_redis.stop()
        down = [file_one() for _ in range(DURING_OUTAGE)]
        waiting, _oldest = outbox.backlog()
        private_redis.start()
        back_at = time.monotonic()
        total = 5 + DURING_OUTAGE
        deadline = time.monotonic() + 90
        while assessed() < total:
            assert time.monotonic() < deadline, where_are_they(private_redis.url())
            time.sleep(0.05)
        recovered = time.monotonic() - back_at
        assert worker.poll() is None  # the worker lived through it, never restarted
    finally:
        stop_processes(web, relay, worker)

    assert before == [201] * 5
    assert [r.status_code for r in down] == [201] * DURING_OUTAGE, [r.text[:200] for r in down]
    assert all(r.headers["Content-Type"].startswith("application/json") for r in down)
    assert waiting >= 1  # their assessment waited in the outbox, not in Redis
    assert Declaration.objects.count() == total  # 0 lost, none filed twice
    assert Decision.objects.count() == total  # one container each: decided once each
    decided = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CONTAINER_DECIDED).count()
    assert decided == total
    assert outbox.backlog() == (0, None)
    with capsys.disabled():
        print(
            f"\n[redis down] {DURING_OUTAGE} filings during the outage: all 201, 0 lost; "
            f"{waiting} outbox rows waited; all {total} assessed {recovered:.1f} s after "
            f"Redis was back"
        )


TAKE_WITH_COUNTDOWN = (
    "import sys\n"
    "from port.celery import app\n"
    "app.send_task('inspection.assess_declarations', kwargs={'declaration_ids': [int(sys.argv[1])]},"
    " countdown=float(sys.argv[2]), task_id='held-' + sys.argv[1])\n"
)


def test_a_message_a_live_worker_held_when_redis_restarted_is_run_within_seconds(
    demo, transactional_db, private_redis, api_for, capsys
):
    """A worker holds a message it took and has not run (a countdown: a retry's back-off;
    a reserved message) when its Redis connection drops. Celery drops what it holds on a
    connection loss, expecting the broker to deliver it again; on Redis the message stays in
    the worker's unacked hash, and the worker lives on (its heartbeat never stops long
    enough), so nothing put it back: it waited for the visibility timeout (an hour) or a
    sweeper. The worker now puts back, on each reconnection, what it holds no more."""
    response = api_for(demo.importer).post(
        "/api/v1/declarations/", filing(demo.port_call.pk), format="json"
    )
    assert response.status_code == 201  # no relay: its own assessment waits in the outbox
    declaration = response.json()["id"]
    env = {**_subprocess_env(), "REDIS_URL": private_redis.url()}
    name = f"held-{RUN_ID}-{uuid.uuid4().hex[:4]}@%h"
    worker = start_celery_worker(name, **env)
    hostname = name.replace("%h", socket.gethostname())
    client = redis.Redis.from_url(private_redis.url())
    try:
        subprocess.run(  # noqa: S603 - our own interpreter and modules
            [sys.executable, "-c", TAKE_WITH_COUNTDOWN, str(declaration), "4"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "port.settings"},
            check=True,
        )
        deadline = time.monotonic() + 30
        while not client.hlen(f"unacked.{hostname}"):  # taken, waiting for its countdown
            assert time.monotonic() < deadline, "the worker never took the message"
            time.sleep(0.05)
        due_by = time.monotonic() + 4  # its countdown ends by then
        private_redis.stop()
        time.sleep(1)
        private_redis.start()
        back_at = time.monotonic()
        deadline = back_at + 60
        while not Decision.objects.filter(declaration_id=declaration).exists():
            assert time.monotonic() < deadline, "the held message was never run"
            time.sleep(0.1)
        recovered = time.monotonic() - back_at
        assert worker.poll() is None  # the worker lived through it
    finally:
        stop_processes(worker)
    assert Decision.objects.filter(declaration_id=declaration).count() == 2  # two containers
    with capsys.disabled():
        print(
            f"\n[redis restarted under a held message] run {recovered:.1f} s after Redis was "
            f"back (its countdown ended by {due_by - back_at:.1f} s after)"
        )


def test_a_message_taken_as_the_connection_drops_is_pushed_back_on_the_next_one(private_redis):
    """BRPOP has handed a message over and removed it from its queue; kombu's write of it into
    the unacked hash fails, the connection being gone. The worker keeps it and pushes it
    back on its next connection (port/workers.py, RestoreOnConnect)."""
    from port.celery import app
    from port.embedded import celery_url

    queue, nodename = f"probe-{uuid.uuid4().hex[:6]}", f"probe-{uuid.uuid4().hex[:6]}@test"
    saved = app.conf.broker_url
    app.conf.broker_url = celery_url(private_redis.url())
    try:
        with app.connection_for_write(transport_options=workers.unacked_keys(nodename)) as conn:
            channel = conn.default_channel
            channel.queue_declare(queue)
            conn.Producer().publish({"n": 1}, routing_key=queue, exchange="", serializer="json")
            raw = channel.client.rpop(queue)  # what BRPOP hands over
            message = channel.Message(json.loads(raw), channel=channel)
            workers._record_or_keep(channel.qos)
            private_redis.stop()
            with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the broker raised
                channel.qos.append(message, message.delivery_tag)
            private_redis.start()
        assert workers._push_back_unrecorded(nodename) == 1
        client = redis.Redis.from_url(private_redis.url())
        assert client.llen(queue) == 1
        assert json.loads(client.lpop(queue))["body"] == json.loads(raw)["body"]
        assert workers._unrecorded == []
    finally:
        app.conf.broker_url = saved
        workers._unrecorded.clear()
