"""The burst: 1,000 filings at concurrency 50 over 100 Idempotency-Keys against a real server.

Ten clients' retries of the same 100 filings arrive at once, as a flaky network makes them.
Expected: exactly 100 declarations, every answer a 201 (the first of a key, or its replay),
0 5xx. Served as `make run` serves it: uvicorn (`port.asgi`, the web's connection pool on
by default) and a Celery worker (prefork, 2) that assesses what is filed, on a PRIVATE
embedded PostgreSQL (max_connections 100), so the machine's shared server is never
exhausted. The peer, in the same run and on the same server: the same web server with the
pool off (`DATABASE_POOL=off`: a persistent connection per request thread, the default
before issue 12).

`python -m bench burst` (in `make bench`) or `python -m bench.burst`. BENCH_BURST_RUNS
(default 3) runs of each.
"""

import json
import os
import random
import shutil
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests
from stdnum import iso6346

ROOT = Path(__file__).resolve().parent.parent
REQUESTS, CONCURRENCY, KEYS = 1000, 50, 100
PASSWORD = "portwise-demo"


def container(owner: str, serial: int) -> str:
    """A valid ISO 6346 number: owner (three letters), U, six digits, check digit."""
    number = f"{owner}U{serial:06d}"
    return number + iso6346.calc_check_digit(number)


def filing(port_call_id: int, bl_number: str, containers: list[str]) -> dict:
    return {
        "port_call": port_call_id,
        "bl_number": bl_number,
        "containers": containers,
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


def fire(
    base: str,
    token: str,
    port_call_id: int,
    *,
    tag: str,
    requests_total: int = REQUESTS,
    concurrency: int = CONCURRENCY,
    keys: int = KEYS,
) -> dict:
    """POST `requests_total` filings over `keys` keys from `concurrency` threads at once.

    Key i files bill of lading `{tag}{i}` with two containers of its own (the same body for
    every retry of a key; a container is on one open declaration at a time).
    Returns the statuses, how many answers were 5xx or not JSON, and latencies.
    """
    owner = "".join(random.choice(string.ascii_uppercase) for _ in range(3))  # noqa: S311
    local = threading.local()
    gate = threading.Barrier(concurrency)

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Token {token}"
            gate.wait()  # every client starts at once
        return local.session

    def one(n: int) -> tuple[int, bool, float]:
        key = n % keys
        started = time.perf_counter()
        try:
            response = session().post(
                f"{base}/api/v1/declarations/",
                json=filing(
                    port_call_id,
                    f"{tag}{key:04d}",
                    [container(owner, key * 2), container(owner, key * 2 + 1)],
                ),
                headers={"Idempotency-Key": f"{tag}-{key}"},
                timeout=120,
            )
        except requests.RequestException:
            return 0, False, time.perf_counter() - started
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        return response.status_code, is_json, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests_total)))
    elapsed = time.perf_counter() - started
    statuses = Counter(status for status, _, _ in results)
    latencies = sorted(seconds for _, _, seconds in results)
    return {
        "requests": requests_total,
        "seconds": round(elapsed, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "no_answer": statuses.get(0, 0),
        "not_json": sum(1 for status, is_json, _ in results if status and not is_json),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000),
    }


# --- the servers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if requests.get(f"{base}/livez", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not answer")


def web_server(env: dict, *, pool: bool) -> tuple[subprocess.Popen, str]:
    """uvicorn as `make run` starts it; pool=False is the peer (DATABASE_POOL=off)."""
    port = free_port()
    env = {**env, "DATABASE_POOL": "on" if pool else "off"}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "port.asgi:application"]
        + ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
        + ["--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, process)
    return process, base


def worker(env: dict) -> subprocess.Popen:
    from port.celery import all_queues

    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "port", "worker", "-l", "warning"]
        + ["--concurrency", "2", "--queues", ",".join(all_queues(env["CELERY_QUEUE"]))]
        + ["--hostname", f"burst-{uuid.uuid4().hex[:6]}@%h", "--without-mingle"],
        cwd=ROOT,
        env=env,
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def token_for(base: str, username: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/token/",
        data={"username": username, "password": PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]


def count(url: str, sql: str, params=()) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def unassessed(url: str, tag: str) -> int:
    return count(
        url,
        "SELECT count(*) FROM declarations_declaration WHERE bl_number LIKE %s "
        "AND status IN ('submitted', 'amended')",
        [f"{tag}%"],
    )


def wait_assessed(url: str, tag: str, timeout: float = 120) -> float | None:
    """Seconds after the burst until the worker assessed every declaration of `tag`."""
    started = time.monotonic()
    while unassessed(url, tag):
        if time.monotonic() - started > timeout:
            return None
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


class BackendSampler:
    """The most client backends PostgreSQL had at once, sampled every 100 ms."""

    def __init__(self, url: str):
        self.url, self.peak = url, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._done.wait(0.1):
                sql = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                self.peak = max(self.peak, conn.execute(sql).fetchone()[0])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(timeout=5)


def private_database():
    """A started private embedded PostgreSQL, migrated and seeded: (server, url, folder)."""
    from port import embedded

    folder = Path(tempfile.mkdtemp(prefix="pw-burst-"))
    server = embedded.EmbeddedPostgres(folder)
    server.start()
    server.ensure_database("portwise")
    url = server.url("portwise")
    return server, url, folder


def run(measure=None) -> dict:
    """Three bursts with the pool (today's default) and three without (the peer)."""
    from port import embedded

    runs = int(os.environ.get("BENCH_BURST_RUNS", "3"))
    server, url, folder = private_database()
    queue = f"burst-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL") or embedded.redis_url(),
        "CELERY_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_POOL_MAX_SIZE", None)
    try:
        for command in (["migrate", "--no-input", "-v", "0"], ["seed_demo", "--no-certificates"]):
            subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True
            )
        port_call = count(url, "SELECT id FROM port_portcall WHERE voyage = '062E'")
        max_connections = count(
            url, "SELECT setting::int FROM pg_settings WHERE name = %s", ["max_connections"]
        )
        the_worker = worker(env)
        figures = {"pool": [], "no_pool": []}
        try:
            for n in range(runs):
                for name, pool in (("pool", True), ("no_pool", False)):
                    web, base = web_server(env, pool=pool)
                    try:
                        token = token_for(base, "importer")
                        tag = f"B{n}{'P' if pool else 'N'}{uuid.uuid4().hex[:5].upper()}"
                        with BackendSampler(url) as backends:
                            result = fire(base, token, port_call, tag=tag)
                        result["peak_backends"] = backends.peak
                        result["declarations"] = count(
                            url,
                            "SELECT count(*) FROM declarations_declaration WHERE bl_number LIKE %s",
                            [f"{tag}%"],
                        )
                    finally:
                        stop(web)
                    figures[name].append(result)
                    print(name, json.dumps(result), flush=True)
        finally:
            stop(the_worker)
    finally:
        server.stop()
        embedded.remove_data(folder)
        shutil.rmtree(folder, ignore_errors=True)
    summary = {}
    for name, results in figures.items():
        summary[name] = {
            key: {
                "median": statistics.median(r[key] for r in results),
                "min": min(r[key] for r in results),
                "max": max(r[key] for r in results),
            }
            for key in ("seconds", "server_errors", "not_json", "declarations", "p50_ms", "p95_ms")
        }
        summary[name]["runs"] = results
    return {
        "requests": REQUESTS,
        "concurrency": CONCURRENCY,
        "keys": KEYS,
        "max_connections": max_connections,
        "expected_declarations": KEYS,
        **summary,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "port.settings")
    print(json.dumps(run(), indent=2))
