"""The HTTP API under the WSGI server production runs it with (granian, docker-compose's
`api`, deploy/k8s/api.yaml): a filing is answered as under the ASGI server, errors are
JSON, and behind a trusted proxy the sign-in throttle counts the client's address from
X-Forwarded-For (port/proxy_headers.py), not the proxy's."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.conftest import ROOT, _subprocess_env, container_number, filing
from tests.deploy.test_replicas import _free_port, _wait_for

pytestmark = pytest.mark.slow
PASSWORD = "portwise-demo"
ATTACKER = "203.0.113.7"
USER_AT_HOME = "198.51.100.20"


@pytest.fixture
def wsgi_server(transactional_db, demo, tmp_path):
    # The tests hash with MD5 for speed; the server knows only production's hashers.
    hasher = PBKDF2PasswordHasher()
    demo.importer.password = hasher.encode(PASSWORD, hasher.salt())
    demo.importer.save(update_fields=["password"])
    port = _free_port()
    log = tmp_path / "granian.log"
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "granian", "--interface", "wsgi", "port.wsgi:application"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        + ["--blocking-threads", "2", "--no-ws"],
        cwd=ROOT,
        # The proxy is this machine: 127.0.0.1, FORWARDED_ALLOW_IPS's default.
        env={**_subprocess_env(), "PYTHONUNBUFFERED": "1"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/livez", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _post(url: str, body, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        # json.loads fails the test on any answer that is not JSON
        return error.code, json.loads(error.read())


def _token(base: str, password: str, address: str) -> tuple[int, dict]:
    return _post(
        f"{base}/api/v1/auth/token/",
        {"username": "importer", "password": password},
        {"X-Forwarded-For": address},
    )


def test_a_filing_under_the_wsgi_server(demo, wsgi_server):
    status, answer = _token(wsgi_server, PASSWORD, USER_AT_HOME)
    assert status == 200, answer
    auth = {"Authorization": f"Token {answer['token']}"}
    body = filing(
        demo.port_call.pk, bl_number="COSU6400000001", containers=[container_number(910001)]
    )

    status, filed = _post(f"{wsgi_server}/api/v1/declarations/", body, auth)

    assert status == 201
    assert filed["status"] == "submitted"
    status, refused = _post(f"{wsgi_server}/api/v1/declarations/", b"{not json", auth)
    assert status == 400
    assert refused


def test_behind_the_proxy_the_throttle_counts_the_clients_address(demo, wsgi_server):
    answers = [_token(wsgi_server, f"guess-{n}", ATTACKER)[0] for n in range(8)]

    assert answers[-1] == 429
    assert _token(wsgi_server, PASSWORD, ATTACKER)[0] == 429
    assert _token(wsgi_server, PASSWORD, USER_AT_HOME)[0] == 200
