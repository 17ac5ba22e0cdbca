"""The fault suite's real parts: a PRIVATE PostgreSQL the tests may stop and restart (never
the machine's server), and Portwise served on it as `make run` serves it: uvicorn for the
web, a Celery worker with its prefork pool. Redis is the test run's own database on the
machine's server (tests/conftest.py).

The private server is made once per test session (migrated and seeded with the demo port),
each test's servers are fresh.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from port import embedded
from port.management.commands.seed_demo import DEMO_PASSWORD
from tests.conftest import ROOT, TEST_CHANNELS_PREFIX, TEST_QUEUE, TEST_REDIS_URL


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.parent.name == "faults":
            item.add_marker(pytest.mark.slow)


class PrivatePostgres:
    """An embedded PostgreSQL in a folder of its own, that a test may stop and start."""

    def __init__(self, data_dir: Path):
        self.server = embedded.EmbeddedPostgres(data_dir)
        self.data_dir = data_dir

    @property
    def url(self) -> str:
        return self.server.url("portwise")

    def start(self) -> float:
        started = time.monotonic()
        self.server.start()
        return time.monotonic() - started

    def stop(self) -> float:
        """Stop it as an operator's restart or a crash would: connections are cut."""
        started = time.monotonic()
        self.server.stop()
        return time.monotonic() - started

    def running(self) -> bool:
        return self.server.is_running()

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def env(self) -> dict[str, str]:
        """The environment of a process that uses this server and the tests' Redis."""
        return {
            **os.environ,
            "DATABASE_URL": self.url,
            "REDIS_URL": TEST_REDIS_URL,
            "CELERY_QUEUE": TEST_QUEUE,
            "CHANNELS_PREFIX": TEST_CHANNELS_PREFIX,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }


@pytest.fixture(scope="session")
def private_postgres():
    data_dir = Path(tempfile.mkdtemp(prefix="pw-faults-"))
    server = PrivatePostgres(data_dir)
    server.start()
    try:
        server.server.ensure_database("portwise")
        for command in (["migrate", "--no-input", "-v", "0"], ["seed_demo", "--no-certificates"]):
            subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=server.env(),
                check=True,
                capture_output=True,
            )
        yield server
    finally:
        if server.running():
            server.stop()
        embedded.remove_data(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def database(private_postgres):
    """The private server, running (a test that stopped it may have failed half-way)."""
    if not private_postgres.running():
        private_postgres.start()
    return private_postgres


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(database: PrivatePostgres, log_path: Path, *, port: int | None = None, **env: str):
    """Start uvicorn on the private server as `make run` starts it (on `port`, or a free
    one); (process, base URL)."""
    port = port or free_port()
    log = log_path.open("a")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "port.asgi:application"]
        + ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"],
        cwd=ROOT,
        env={**database.env(), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/livez", timeout=5).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"uvicorn did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)


@pytest.fixture
def web(database, tmp_path):
    """uvicorn serving Portwise on the private server, started as `make run` starts it."""
    process, base = serve(database, tmp_path / "web.log")
    yield base
    _stop(process)


@pytest.fixture
def worker(database, tmp_path):
    """A Celery worker on the private server, as `make run` starts it (prefork, 2)."""
    from port.celery import all_queues

    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "port", "worker", "-l", "warning"]
        + ["--concurrency", "2", "--queues", ",".join(all_queues(TEST_QUEUE))]
        + ["--hostname", f"faults-{os.getpid()}@%h", "--without-mingle", "--without-gossip"],
        cwd=ROOT,
        env=database.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    _stop(process)
    log.close()


def token_for(base: str, username: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/token/",
        data={"username": username, "password": DEMO_PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]


@pytest.fixture
def relay(database, tmp_path):
    """The outbox relay on the private server, as `make run` starts it: filings queue their
    assessment through it."""
    log = (tmp_path / "relay.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "outbox_relay"],
        cwd=ROOT,
        env=database.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    _stop(process)
    log.close()


def assessed() -> int:
    """How many filings have their decisions."""
    from declarations.models import Declaration

    return Declaration.objects.filter(decisions__isnull=False).distinct().count()


def declaration_ids_in(value: bytes) -> list[int]:
    """The declaration ids a stored Celery message carries (a queue's message, or an unacked
    hash's [message, exchange, routing key]): the relay merges rows, so the task id names only
    the first of them, and the ids are in the base64 body."""
    try:
        message = json.loads(value)
        if isinstance(message, list):
            message = json.loads(message[0]) if isinstance(message[0], str) else message[0]
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        return list(kwargs.get("declaration_ids", []))
    except (ValueError, KeyError, TypeError, IndexError):
        return []


def where_are_they(redis_url: str) -> str:
    """For a failure: where the unassessed filings are, counted by place: their outbox rows
    (sent or not) and the Redis keys (queues, workers' unacked hashes) of messages naming them."""
    from declarations.models import Declaration
    from port.models import OutboxMessage

    client = redis.Redis.from_url(redis_url)
    in_redis: dict[str, set[int]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        values = client.lrange(key, 0, -1) if kind == b"list" else []
        values = client.hvals(key) if kind == b"hash" else values
        in_redis[key.decode()] = {i for v in values for i in declaration_ids_in(v)}
    in_outbox: dict[int, list[str]] = {}
    for row in OutboxMessage.objects.all():
        for pk in row.kwargs.get("declaration_ids", []):
            in_outbox.setdefault(pk, []).append(
                "sent" if row.sent_at else f"unsent({row.attempts})"
            )
    places = Counter()
    for pk, status in Declaration.objects.filter(decisions__isnull=True).values_list(
        "pk", "status"
    ):
        outbox = ",".join(sorted(in_outbox.get(pk, [])))
        keys = ",".join(sorted(key for key, ids in in_redis.items() if pk in ids))
        places[f"{status}; outbox [{outbox}]; in Redis [{keys}]"] += 1
    return "never assessed: " + "; ".join(f"{n} {place}" for place, n in places.most_common())
