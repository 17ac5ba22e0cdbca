"""Filing at volume, against real server processes on the bench database.

- `intake_batch`: the batch API to decision. Batches of 5,000 declarations posted to
  `POST /api/v1/declarations/batch/` on a real web server, assessed by a real Celery
  worker; declarations per second from the first request to the last decision, beside
  raw COPY of the same number of declaration rows in the same run.
- `intake_load`: one declaration per request, 16 keep-alive clients for 60 s against two
  web processes, under WSGI (gunicorn) and under ASGI (uvicorn): requests/s, p50/p95/p99
  and errors, beside a bare DRF create (`bench/urls.py`) on the same server in the same run.

Each figure is the median of BENCH_RUNS (3) runs with min and max. BENCH_LOAD_SECONDS
shortens the load runs while developing; the reported figures use 60.
"""

import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.core.management import call_command
from django.db import connection
from stdnum import iso6346

from bench import load
from declarations.models import Declaration
from port import embedded
from port.auth import token_issue
from port.celery import all_queues
from port.models import PortCall, User

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BATCH = 5000
BATCHES_PER_RUN = 2
LOAD_SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
LOAD_CLIENTS = 16
WEB_PROCESSES = 2
TILES = {
    "hs_code": "6907210000",
    "description": "Glazed ceramic floor tiles",
    "quantity": "18000",
    "unit": "m2",
    "value": "412000.00",
    "origin_country": "CN",
}


def _summary(values: list[float], digits: int = 1) -> dict:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def _container(prefix: str, serial: int) -> str:
    base = f"{prefix}{serial:06d}"
    return base + iso6346.calc_check_digit(base)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env() -> dict:
    url = urlsplit(embedded.database_url())
    tag = f"bench{os.getpid()}"
    return {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "CELERY_QUEUE": tag,
        "CHANNELS_PREFIX": tag,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        # As in production: DEBUG off (no query log, no per-request static file lookups).
        "DEBUG": "false",
        "SECRET_KEY": f"bench-only-{os.getpid()}-not-a-secret",
        "SECURE_SSL_REDIRECT": "false",  # the bench speaks plain HTTP on the loopback
    }


def _web_argv(server: str, port: int) -> list[str]:
    if server == "asgi":
        return [sys.executable, "-m", "uvicorn", "port.asgi:application", "--host", "127.0.0.1"] + [
            "--port",
            str(port),
            "--workers",
            str(WEB_PROCESSES),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    return [sys.executable, "-m", "gunicorn", "port.wsgi:application"] + [
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WEB_PROCESSES),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--log-level",
        "warning",
    ]


@contextlib.contextmanager
def servers(server: str):
    """A web server (2 processes) and a Celery worker on the bench database."""
    env, port = _env(), _free_port()
    queues = ",".join(all_queues(env["CELERY_QUEUE"]))
    children = [
        subprocess.Popen(_web_argv(server, port), cwd=ROOT, env=env),  # noqa: S603
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "port", "worker", "--pool", "solo"]
            + ["--queues", queues, "--loglevel", "WARNING", "--without-mingle"]
            + ["--without-gossip", "--hostname", f"{env['CELERY_QUEUE']}@%h"],
            cwd=ROOT,
            env=env,
        ),
    ]
    try:
        _wait_for(port)
        yield port
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            answer = _request(port, "GET", "/healthz", None, {})
            if answer[0]:
                time.sleep(2)  # the second process and the worker
                return
        time.sleep(0.2)
    raise RuntimeError("the web server did not start")


def _request(port, method, path, body: bytes | None, headers: dict) -> tuple[int, bytes]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        client.request(method, path, body=body, headers=headers)
        answer = client.getresponse()
        return answer.status, answer.read()
    finally:
        client.close()


def _fresh_call(template: PortCall, voyage: str) -> PortCall:
    return PortCall.objects.create(
        vessel=template.vessel,
        port=template.port,
        terminal=template.terminal,
        voyage=voyage,
        eta=template.eta,
        agent=template.agent,
    )


def _setup() -> tuple[User, str, PortCall]:
    call_command("seed_demo", verbosity=0)
    importer = User.objects.get(username="importer")
    return importer, token_issue(user=importer).key, PortCall.objects.get(voyage="062E")


# --- the batch API to decision -----------------------------------------------------------


def run_batch(measure) -> dict:
    importer, token, template = _setup()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    rates, api_rates, copy_rates = [], [], []
    with servers("wsgi") as port:
        for run in range(RUNS + 1):  # run 0 warms up and is not counted
            call = _fresh_call(template, f"BB{run:03d}")
            bodies = [
                json.dumps({"declarations": _batch(call, run, b)}).encode()
                for b in range(BATCHES_PER_RUN)
            ]
            total = BATCH * BATCHES_PER_RUN
            started = time.perf_counter()
            for body in bodies:
                status, answer = _request(
                    port, "POST", "/api/v1/declarations/batch/", body, headers
                )
                filed = json.loads(answer)["filed"] if status == 200 else answer[:300]
                assert filed == BATCH, (status, filed)
            api_done = time.perf_counter()
            _wait_decided(call, total)
            decided = time.perf_counter()
            print(
                f"batch run {run}: filed {api_done - started:.2f} s, decided {decided - started:.2f} s"
            )
            if run:
                rates.append(total / (decided - started))
                api_rates.append(total / (api_done - started))
                copy_rates.append(_copy_rows_per_s(total))
    return {
        "batch_size": BATCH,
        "declarations_per_run": BATCH * BATCHES_PER_RUN,
        "runs": RUNS,
        "batch_to_decision_per_s": _summary(rates),
        "batch_api_filed_per_s": _summary(api_rates),
        "copy_declaration_rows_per_s": _summary(copy_rates, 0),
        "ratio_to_copy": round(statistics.median(rates) / statistics.median(copy_rates), 4),
        "target_per_s": 5000,
    }


def _batch(call: PortCall, run: int, batch: int) -> list[dict]:
    start = (run * BATCHES_PER_RUN + batch) * BATCH
    return [
        {
            "port_call": call.pk,
            "bl_number": f"BB{start + n:010d}",
            "containers": [_container("BBTU", start + n)],
            "items": [TILES],
            "reference": f"bench-{start + n}",
        }
        for n in range(BATCH)
    ]


def _wait_decided(call: PortCall, total: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    declarations = Declaration.objects.filter(port_call=call)
    while time.monotonic() < deadline:
        if not declarations.filter(status=Declaration.Status.SUBMITTED).exists():
            assert declarations.count() == total
            return
        time.sleep(0.05)
    raise RuntimeError("the declarations were not all decided in time")


def _copy_rows_per_s(count: int) -> float:
    """Raw COPY of `count` declaration rows into a copy of the table (indexes, no FKs)."""
    row = Declaration.objects.order_by("-pk").values_list(
        "enterprise_id", "declarant_id", "created_by_id", "port_call_id"
    )[0]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy (LIKE declarations_declaration INCLUDING ALL)")
        columns = "number, direction, enterprise_id, declarant_id, created_by_id, port_call_id, bl_number, status, idempotency_key, created_at, updated_at, submitted_at"  # noqa: E501
        now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
        started = time.perf_counter()
        with cursor.cursor.copy(f"COPY bench_copy ({columns}) FROM STDIN") as copy:
            for n in range(count):
                copy.write_row(
                    (f"3701{n:014d}", "import", *row, f"CP{n:010d}", "submitted", f"c-{n}")
                    + (now, now, now)
                )
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy")
    return count / elapsed


# --- one declaration per request, against the bare DRF create ----------------------------


def run_load(measure) -> dict:
    importer, token, call = _setup()
    headers = {"Authorization": f"Token {token}"}
    figures = {}
    servers_to_run = os.environ.get("BENCH_LOAD_SERVERS", "wsgi,asgi").split(",")
    for server in servers_to_run:
        filing_runs, bare_runs = [], []
        with servers(server) as port:
            for run in range(RUNS + 1):  # run 0 warms up (shorter) and is not counted
                seconds = LOAD_SECONDS if run else 5
                prefix = server[0].upper() + "ABCDEFGHIJ"[run]  # letters: owner codes
                filing = load.run(
                    host="127.0.0.1",
                    port=port,
                    path="/api/v1/declarations/",
                    headers=headers,
                    body_for=lambda n, p=prefix: _one(call, p, n),
                    clients=LOAD_CLIENTS,
                    seconds=seconds,
                )
                bare = load.run(
                    host="127.0.0.1",
                    port=port,
                    path="/bench/bare/",
                    headers=headers,
                    body_for=lambda n, p=prefix: {"number": _container(f"{p}RU", n)},
                    clients=LOAD_CLIENTS,
                    seconds=seconds,
                )
                if run:
                    filing_runs.append(filing)
                    bare_runs.append(bare)
        figures[server] = {
            "filing": _load_summary(filing_runs),
            "bare_drf_create": _load_summary(bare_runs),
            "ratio_to_bare": round(
                statistics.median(r["requests_per_s"] for r in filing_runs)
                / statistics.median(r["requests_per_s"] for r in bare_runs),
                2,
            ),
        }
    return {
        "clients": LOAD_CLIENTS,
        "seconds": LOAD_SECONDS,
        "web_processes": WEB_PROCESSES,
        "runs": RUNS,
        **figures,
        "target": {"requests_per_s": 300, "p95_ms": 50, "errors": 0},
    }


def _one(call: PortCall, prefix: str, n: int) -> dict:
    return {
        "port_call": call.pk,
        "bl_number": f"LD{prefix}{n:08d}",
        "containers": [_container(f"{prefix}LU", n)],
        "items": [TILES],
    }


def _load_summary(runs: list[dict]) -> dict:
    out = {}
    for key in ("requests_per_s", "p50_ms", "p95_ms", "p99_ms"):
        out[key] = _summary([r[key] for r in runs])
    out["errors"] = [r["errors"] for r in runs]
    out["statuses"] = [r["statuses"] for r in runs]
    return out
