"""Two web replicas behind the proxy (Caddy, as in docker-compose.yml, without containers):
a WebSocket held by one replica receives the event of a filing served by the other, because
the channel layer, the sessions and the database are shared, not the process."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from tests.conftest import ROOT, _subprocess_env, container_number, filing

pytestmark = pytest.mark.slow
CADDY = shutil.which("caddy")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} died: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer: {log.read_text()[-2000:]}")


@pytest.fixture
def replicas_behind_the_proxy(transactional_db, tmp_path):
    if CADDY is None:
        if os.environ.get("CI"):
            pytest.fail("caddy is missing (.ci/run installs Debian's caddy)")
        pytest.skip("no caddy on this machine (apt-get install caddy)")
    processes, logs = [], {}
    ports = [_free_port(), _free_port()]
    try:
        for name, port in zip(("a", "b"), ports, strict=True):
            log = tmp_path / f"web-{name}.log"
            logs[name] = log
            processes.append(
                subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "uvicorn", "port.asgi:application", "--port", str(port)]
                    + ["--lifespan", "off", "--log-level", "info"],
                    cwd=ROOT,
                    env={**_subprocess_env(), "PYTHONUNBUFFERED": "1"},
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                )
            )
        proxy_port = _free_port()
        caddyfile = tmp_path / "Caddyfile"
        caddyfile.write_text(
            "{\n\tadmin off\n\tauto_https off\n}\n"
            f":{proxy_port} {{\n\treverse_proxy 127.0.0.1:{ports[0]} 127.0.0.1:{ports[1]} {{\n"
            "\t\tlb_policy round_robin\n\t}\n}\n"
        )
        caddy_log = tmp_path / "caddy.log"
        processes.append(
            subprocess.Popen(  # noqa: S603
                [CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
                stdout=caddy_log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        for port, process, log in zip(ports, processes, logs.values(), strict=False):
            _wait_for(f"http://127.0.0.1:{port}/livez", process, log)
        _wait_for(f"http://127.0.0.1:{proxy_port}/livez", processes[2], caddy_log)
        yield proxy_port, logs
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _served_by(logs: dict[str, Path], request_line: str) -> set[str]:
    return {name for name, log in logs.items() if request_line in log.read_text()}


def test_a_socket_on_one_replica_hears_a_filing_served_by_the_other(
    demo, replicas_behind_the_proxy
):
    import websockets

    proxy_port, logs = replicas_behind_the_proxy
    client = Client()
    client.force_login(demo.importer)
    session = client.cookies["sessionid"].value
    csrf = _get_new_csrf_string()
    cookie = f"sessionid={session}; csrftoken={csrf}"

    def post_filing(serial: int) -> int:
        body = filing(
            demo.port_call.pk,
            bl_number=f"COSU64{serial:08d}",
            containers=[container_number(700000 + serial)],
        )
        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"http://127.0.0.1:{proxy_port}/api/v1/declarations/",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRFToken": csrf},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.status == 201
            return json.loads(response.read())["id"]

    async def scenario():
        async with websockets.connect(
            f"ws://127.0.0.1:{proxy_port}/ws/live/",
            additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{proxy_port}"},
        ) as socket_:
            await asyncio.sleep(0.2)  # the access log line follows the handshake
            (holder,) = _served_by(logs, '"WebSocket /ws/live/"')
            for attempt in range(4):  # round robin: the next POST may land on either replica
                before = {
                    name: log.read_text().count('"POST /api/v1/declarations/')
                    for name, log in logs.items()
                }
                declaration_id = await asyncio.to_thread(post_filing, attempt)
                after = {
                    name: log.read_text().count('"POST /api/v1/declarations/')
                    for name, log in logs.items()
                }
                (server,) = [name for name in logs if after[name] > before[name]]
                if server == holder:
                    continue
                while True:
                    frame = json.loads(await asyncio.wait_for(socket_.recv(), timeout=15))
                    # A numbered frame carries its group's events of one transaction; one
                    # event names its declaration, or a batch's lists them all.
                    for event in frame.get("events", []) if frame["type"] == "live.events" else []:
                        if declaration_id in (event.get("ids") or [event.get("id")]):
                            return holder, server, event
            pytest.fail("every filing reached the socket's own replica")

    import asyncio

    holder, server, event = async_to_sync(scenario)()
    assert holder != server
    assert event["type"].startswith(("declaration.", "declarations."))
    assert re.match(r"^[a-z_.]+$", event["type"])
