"""Shared fixtures: the demo port's people (alice/bob/charlie style), API clients, and the
real parts the slow tests run against: a Celery worker process and an ASGI server."""

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.layers import channel_layers
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient
from stdnum import iso6346

from port import embedded
from port.celery import all_queues
from port.celery import app as celery_app
from port.models import Organisation, PortCall, User

ROOT = Path(__file__).resolve().parent.parent
# Tests use their own Redis database, so a `make run` on the same server never answers
# their pings nor takes their tasks; and this run's own queue and channel prefix, so two
# test runs at once keep apart too.
TEST_REDIS_DB = 9
RUN_ID = uuid.uuid4().hex[:8]
TEST_QUEUE = f"portwise-test-{RUN_ID}"
TEST_CHANNELS_PREFIX = f"pwtest{RUN_ID}"


TEST_REDIS_URL = embedded.redis_url_with_db(settings.REDIS_URL, TEST_REDIS_DB)


REAL_PARTS_FIXTURES = {"celery_worker_process", "asgi_server"}


def pytest_collection_modifyitems(config, items):
    """Mark `realparts` the tests that start a real worker or server, or speak WebSocket:
    .ci/run runs them a second time on the embedded servers, as a newcomer's `make test`."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in fixtures or item.get_closest_marker("browser"):
            continue  # the browser tests run once, on the servers CI provides
        if REAL_PARTS_FIXTURES & fixtures or item.path.name in {
            "test_live.py",
            "test_live_events.py",
            "test_embedded.py",
        }:
            item.add_marker(pytest.mark.realparts)


@pytest.fixture(scope="session", autouse=True)
def _test_settings():
    test_settings = override_settings(
        REDIS_URL=TEST_REDIS_URL,
        CACHES={"default": {**settings.CACHES["default"], "LOCATION": TEST_REDIS_URL}},
        CHANNEL_LAYERS={
            "default": {
                **settings.CHANNEL_LAYERS["default"],
                "CONFIG": {
                    "hosts": [
                        {
                            **settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0],
                            "address": TEST_REDIS_URL,
                        }
                    ],
                    "prefix": TEST_CHANNELS_PREFIX,
                },
            }
        },
        # The demo logins are hashed on every seed; a slow hasher would dominate the suite.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    test_settings.enable()
    channel_layers.backends.clear()
    celery_app.conf.broker_url = embedded.celery_url(TEST_REDIS_URL)
    celery_app.conf.task_default_queue = TEST_QUEUE
    yield
    test_settings.disable()


@pytest.fixture
def demo(db):
    """The demo port: organisations and users from seed_demo, without its demo certificates
    (tests start from no timeline events)."""
    call_command("seed_demo", certificates=False, stdout=open(os.devnull, "w"))  # noqa: SIM115
    orgs = {o.name: o for o in Organisation.objects.all()}
    users = {u.username: u for u in User.objects.all()}
    return SimpleNamespace(
        importer=users["importer"],
        exporter=users["exporter"],
        broker=users["broker"],
        officer=users["officer"],
        terminal=users["terminal"],
        importer_org=orgs["Xiamen Harbour Foods Import Co., Ltd."],
        exporter_org=orgs["Fujian Sunrise Ceramics Export Co., Ltd."],
        broker_org=orgs["Xiamen Jinhai Customs Brokerage Co., Ltd."],
        customs=orgs["Xiamen Customs, Haicang Office"],
        port_call=PortCall.objects.get(voyage="062E"),
    )


@pytest.fixture
def api_for():
    def client_for(user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return client_for


def filing(port_call_id: int, **overrides) -> dict:
    """A valid API body for a one-item import declaration."""
    body = {
        "port_call": port_call_id,
        "bl_number": "COSU6401234560",
        "containers": ["COSU6123451", "CSNU8011228"],
        "items": [
            {
                "hs_code": "6907210000",
                "description": "Glazed ceramic floor tiles",
                "quantity": "18000",
                "unit": "m2",
                "value": "412000.00",
                "origin_country": "CN",
            }
        ],
    }
    body.update(overrides)
    return body


def container_number(serial: int, owner: str = "TGHU") -> str:
    """A valid ISO 6346 number for a serial."""
    number = f"{owner}{serial:06d}"
    return number + iso6346.calc_check_digit(number)


MEAT_ITEM = {
    "hs_code": "0202300090",
    "description": "Frozen boneless beef",
    "quantity": "24000",
    "unit": "kg",
    "value": "960000",
    "origin_country": "AU",
}


def _database_url_for(database_name: str) -> str:
    parts = urlsplit(embedded.database_url())
    return urlunsplit(parts._replace(path=f"/{database_name}"))


def _subprocess_env() -> dict[str, str]:
    """The environment for a process that must see what the tests see."""
    return {
        **os.environ,
        "DATABASE_URL": _database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": TEST_REDIS_URL,
        "CELERY_QUEUE": TEST_QUEUE,
        "CHANNELS_PREFIX": TEST_CHANNELS_PREFIX,
        "PYTHONPATH": str(ROOT),
    }


def start_celery_worker(name: str, **env) -> subprocess.Popen:
    """A real Celery worker process (solo pool) named `name` on the test database and this
    run's queues; returns once it answers a ping."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "port",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--queues",
            ",".join(all_queues(TEST_QUEUE)),
            "--hostname",
            name,
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env={**_subprocess_env(), **env},
    )
    hostname = name.replace("%h", socket.gethostname())
    deadline = time.monotonic() + 60
    while not _answers(hostname, env.get("REDIS_URL")):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"The Celery worker did not start (exit code {worker.poll()})")
    return worker


def _answers(hostname: str, redis_url: str | None) -> bool:
    """The worker answers a ping; on another broker than the tests', it beats as ready."""
    if redis_url is None:
        return bool(celery_app.control.ping(destination=[hostname], timeout=0.5))
    import redis

    from port import workers

    try:
        beat = redis.Redis.from_url(redis_url).get(f"{workers.PREFIX}{hostname}")
    except redis.RedisError:
        beat = None
    time.sleep(0.2)
    return beat == b"alive"


def stop_processes(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process on the test database and this run's queue, with the
    outbox relay (port/outbox.py) alongside: work reaches the worker through it."""
    relay = outbox_relay_process()
    try:
        worker = start_celery_worker(f"test-{RUN_ID}-{uuid.uuid4().hex[:4]}@%h")
    except BaseException:
        stop_processes(relay)
        raise
    yield worker
    stop_processes(relay, worker)


def outbox_relay_process(**env) -> subprocess.Popen:
    """`manage.py outbox_relay` on the test database and this run's broker and queue."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "outbox_relay"],
        cwd=ROOT,
        env={**_subprocess_env(), **env},
        stdout=subprocess.DEVNULL,
    )


@pytest.fixture
def asgi_server(transactional_db):
    """The real ASGI application (HTTP and WebSockets) served by uvicorn on a free port."""
    import uvicorn

    from port.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    # A consumer cut off in the middle of receive() by the server's shutdown leaves the
    # channel layer bound to the server's dead event loop; a later test's loop would be
    # refused ("Two event loops are trying to receive()"). Later tests get a fresh layer.
    from channels.layers import channel_layers

    channel_layers.backends.clear()


def websocket_for(user: User | None):
    """A WebSocket client on /ws/live/ through the real ASGI stack, signed in as `user`."""
    from django.test import Client

    from port.asgi import application

    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return LiveSocket(application, "/ws/live/", headers=headers)


class LiveSocket(WebsocketCommunicator):
    """The browser's side of /ws/live/, as port/static/js/live.js reads it.

    `connect()` keeps the `live.joined` frame in `joined`; `receive_json_from()` returns the
    events of numbered frames one by one (every frame is kept in `frames`), and any other
    frame as it is. `receive_frame()` returns the next frame unopened."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.joined: dict | None = None
        self.frames: list[dict] = []
        self._events: list[dict] = []

    async def connect(self, timeout=1):
        connected = await super().connect(timeout)
        if connected[0]:
            self.joined = await self.receive_frame(timeout=5)
            assert self.joined["type"] == "live.joined", self.joined
        return connected

    async def receive_frame(self, timeout=1):
        return await super().receive_json_from(timeout)

    async def receive_json_from(self, timeout=1):
        if not self._events:
            frame = await self.receive_frame(timeout)
            if frame.get("type") != "live.events":
                return frame
            self.frames.append(frame)
            self._events.extend(frame["events"])
        return self._events.pop(0)

    async def receive_nothing(self, timeout=0.1, interval=0.01):
        return not self._events and await super().receive_nothing(timeout, interval)


@pytest.fixture(autouse=True)
def _fresh_reference_data():
    """Reference editions are cached per process; a test's rolled-back load must not leak."""
    from reference import queries

    queries.clear_cache()


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in Chinese activates Chinese in this thread; the next test starts in the
    site's language whatever the last one asked for."""
    yield
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _rows_written_by_migrations(request, django_db_blocker):
    """A transactional test ends with a flush, which also empties the rows data migrations
    wrote (the FTA agreements certificates are issued under, which `seed_demo` and so
    `make run` need); they are written again after it, for the tests that follow."""
    yield
    marker = request.node.get_closest_marker("django_db")
    flushed = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if not flushed:
        return
    from django.apps import apps

    migration = import_module("certificates.migrations.0002_agreements_and_number_serial")
    with django_db_blocker.unblock():
        migration.add_agreements(apps, None)


def queued(task_name: str | None = None) -> list[tuple[str, dict]]:
    """The work queued through the outbox (port/outbox.py) and not yet sent, oldest first:
    `(task_name, kwargs)` for each row, or only those of `task_name`."""
    from port.models import OutboxMessage

    rows = OutboxMessage.objects.filter(sent_at__isnull=True).order_by("id")
    if task_name is not None:
        rows = rows.filter(task_name=task_name)
    return list(rows.values_list("task_name", "kwargs"))
