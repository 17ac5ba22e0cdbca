"""Filing at volume, against real server processes on the bench database.

- `intake_batch`: the batch API to decision. Batches of 5,000 declarations posted to
  `POST /api/v1/declarations/batch/` on a real web server, assessed by a real Celery
  worker; declarations per second from the first request to the last decision, beside
  raw COPY of the same number of declaration rows in the same run.
- `intake_load`: one declaration per request, 16 keep-alive clients for 60 s against two
  web processes, under WSGI (gunicorn) and under ASGI (uvicorn): requests/s, p50/p95/p99
  and errors, beside a bare DRF create (`bench/urls.py`) on the same server in the same run.

Each figure is the median of BENCH_RUNS (3) runs with min and max. BENCH_LOAD_SECONDS
shortens the load runs while developing; the reported figures use 60. BENCH_BLOCKING_THREADS
sets granian's WSGI threads per process (4, as deployed).
"""

import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
from django.core.management import call_command
from django.db import connection
from stdnum import iso6346

from bench import load
from bench.planner import analyze_as_autovacuum_would
from declarations.models import Declaration
from port import embedded, fanout
from port.auth import token_issue
from port.celery import all_queues
from port.models import PortCall, User

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BATCH = 5000
BATCHES_PER_RUN = 2
# The stream: two clients posting eight batches of 5,000 one after the other (40,000 a run):
# the rate a rush is carried at, where the last batch's assessment weighs less than in 10,000.
STREAM_BATCHES = 8
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
        # BENCH_PYTHONPATH: a server not installed in the venv (e.g. granian in a --target dir)
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("BENCH_PYTHONPATH")])
        ),
        "PYTHONUNBUFFERED": "1",
        # As in production: DEBUG off (no query log, no per-request static file lookups).
        "DEBUG": "false",
        "SECRET_KEY": f"bench-only-{os.getpid()}-not-a-secret",
        "SECURE_SSL_REDIRECT": "false",  # the bench speaks plain HTTP on the loopback
    }


def _web_argv(server: str, port: int) -> list[str]:
    if server.startswith("granian"):  # granian-wsgi (the API as deployed), granian-asgi
        interface = server.partition("-")[2] or "wsgi"
        return [sys.executable, "-m", "granian", "--interface", interface] + [
            f"port.{interface}:application",
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--workers", str(WEB_PROCESSES)),
            *(
                ("--blocking-threads", os.environ.get("BENCH_BLOCKING_THREADS", "8"))
                if interface == "wsgi"
                else ()
            ),
            *("--log-level", "warning", "--no-access-log"),
        ]
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
            *fanout.UVICORN_WEBSOCKET_OPTIONS,
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
    """A web server (2 processes), a Celery worker and the outbox relay on the bench
    database."""
    env, port = _env(), _free_port()
    queues = ",".join(all_queues(env["CELERY_QUEUE"]))
    children = [
        subprocess.Popen(_web_argv(server, port), cwd=ROOT, env=env),  # noqa: S603
        subprocess.Popen(  # noqa: S603
            # Two worker processes, as `make run` and docker-compose run the assessment queue.
            [sys.executable, "-m", "celery", "-A", "port", "worker", "--concurrency", "2"]
            + ["--queues", queues, "--loglevel", "WARNING", "--without-mingle"]
            + ["--without-gossip", "--hostname", f"{env['CELERY_QUEUE']}@%h"],
            cwd=ROOT,
            env=env,
        ),
        # Filings queue their assessment through the outbox (port/outbox.py): its relay.
        subprocess.Popen(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), "outbox_relay"], cwd=ROOT, env=env
        ),
    ]
    try:
        _wait_for(port)
        yield port, (children[0].pid, children[1].pid, children[2].pid)
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


class CpuMeter:
    """CPU seconds used by the web server's processes, the Celery worker and this
    database's PostgreSQL backends between `start` and `stop`: on a shared machine, what a
    request costs whatever share of the cores it was given."""

    def __init__(self, pids: tuple[int, int, int]):
        self.web, *self.queue = (psutil.Process(pid) for pid in pids)  # worker, relay
        self.queue_pids = set()

    def _processes(self) -> dict[int, psutil.Process]:
        found = {self.web.pid: self.web, **{p.pid: p for p in self.web.children(recursive=True)}}
        for process in self.queue:  # the worker's pool processes with it
            with contextlib.suppress(psutil.Error):
                for p in (process, *process.children(recursive=True)):
                    found[p.pid] = p
                    self.queue_pids.add(p.pid)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            backends = [row[0] for row in cursor.fetchall()]
        for pid in backends:
            with contextlib.suppress(psutil.Error):
                found[pid] = psutil.Process(pid)
        return found

    @staticmethod
    def _cpu(process) -> float:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            return times.user + times.system
        return 0.0

    def start(self) -> None:
        self.started = time.time()
        self.before = {pid: (p, self._cpu(p)) for pid, p in self._processes().items()}

    def stop(self) -> dict[str, float]:
        """CPU seconds of the web processes, the Celery worker with the outbox relay
        ("worker") and the database backends since `start`: of the processes alive at both
        ends, and all of those born in between (a pool's new connections: counting only
        the first kind undercounted PostgreSQL in a server's first runs by up to half)."""
        used = {"web": 0.0, "worker": 0.0, "database": 0.0}
        seen = dict(self.before)
        for pid, process in self._processes().items():
            with contextlib.suppress(psutil.Error):
                if pid not in seen and process.create_time() >= self.started - 1:
                    seen[pid] = (process, 0.0)
        for process, before in seen.values():
            with contextlib.suppress(psutil.Error):
                kind = (
                    "worker"
                    if process.pid in self.queue_pids
                    else "database"
                    if process.name().startswith("postgres")
                    else "web"
                )
                used[kind] += max(0.0, self._cpu(process) - before)
        return used


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
    """Batches of 5,000 to decision: two sent by one client one after the other, two by two
    clients at once (each web process takes one), and a stream of eight by two clients."""
    importer, token, template = _setup()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    figures = {}
    with servers(os.environ.get("BENCH_BATCH_SERVER", "granian-wsgi")) as (port, pids):
        meter = CpuMeter(pids)
        for variant, (name, clients, batches) in enumerate(
            (
                ("1_client", 1, BATCHES_PER_RUN),
                ("2_clients", 2, BATCHES_PER_RUN),
                ("stream_2_clients", 2, STREAM_BATCHES),
            )
        ):
            rates, api_rates, copy_rates, cpu_web, cpu_worker, cpu_db = [], [], [], [], [], []
            for run in range(RUNS + 1):  # run 0 warms up and is not counted
                call = _fresh_call(template, f"B{clients}{batches}{run:02d}")
                bodies = [
                    json.dumps({"declarations": _batch(call, variant, run, b)}).encode()
                    for b in range(batches)
                ]
                total = BATCH * batches
                analyze_as_autovacuum_would()
                meter.start()
                started = time.perf_counter()
                _post_all(port, bodies, headers, clients)
                api_done = time.perf_counter()
                _wait_decided(call, total)
                decided = time.perf_counter()
                used = meter.stop()
                print(
                    f"batch, {name}, run {run}: filed {api_done - started:.2f} s, "
                    f"decided {decided - started:.2f} s, CPU: web {used['web']:.2f} s, "
                    f"worker {used['worker']:.2f} s, database {used['database']:.2f} s"
                )
                if run:
                    rates.append(total / (decided - started))
                    api_rates.append(total / (api_done - started))
                    copy_rates.append(_copy_rows_per_s(total))
                    cpu_web.append(1e6 * used["web"] / total)
                    cpu_worker.append(1e6 * used["worker"] / total)
                    cpu_db.append(1e6 * used["database"] / total)
            figures[name] = {
                "declarations_per_run": total,
                "batch_to_decision_per_s": _summary(rates),
                "batch_api_filed_per_s": _summary(api_rates),
                "copy_declaration_rows_per_s": _summary(copy_rates, 0),
                "ratio_to_copy": round(statistics.median(rates) / statistics.median(copy_rates), 4),
                "web_cpu_us_per_declaration": _summary(cpu_web, 0),
                "worker_cpu_us_per_declaration": _summary(cpu_worker, 0),
                "database_cpu_us_per_declaration": _summary(cpu_db, 0),
            }
    return {
        "batch_size": BATCH,
        "declarations_per_run": BATCH * BATCHES_PER_RUN,
        "runs": RUNS,
        **figures,
        "load_average": os.getloadavg(),
        "target_per_s": 5000,
    }


def _post_all(port: int, bodies: list[bytes], headers: dict, clients: int) -> None:
    """Post the batches, `clients` at a time; each must be filed whole."""
    failures = []

    def post(mine: list[bytes]) -> None:
        for body in mine:
            status, answer = _request(port, "POST", "/api/v1/declarations/batch/", body, headers)
            filed = json.loads(answer)["filed"] if status == 200 else answer[:300]
            if filed != BATCH:
                failures.append((status, filed))

    threads = [threading.Thread(target=post, args=(bodies[n::clients],)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def _batch(call: PortCall, variant: int, run: int, batch: int) -> list[dict]:
    start = ((variant * (RUNS + 1) + run) * STREAM_BATCHES + batch) * BATCH  # < 10**6
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
    servers_to_run = os.environ.get("BENCH_LOAD_SERVERS", "granian-wsgi,asgi").split(",")
    for server in servers_to_run:
        filing_runs, bare_runs = [], []
        with servers(server) as (port, pids):
            meter = CpuMeter(pids)
            for run in range(RUNS + 1):  # run 0 warms up (shorter) and is not counted
                seconds = LOAD_SECONDS if run else 5
                # letters: owner codes, one pair per server and run
                prefix = _SERVER_LETTER.get(server, server[0].upper()) + "ABCDEFGHIJ"[run]
                analyze_as_autovacuum_would()
                meter.start()
                filing = load.run(
                    host="127.0.0.1",
                    port=port,
                    path="/api/v1/declarations/",
                    headers=headers,
                    body_for=lambda n, p=prefix: _one(call, p, n),
                    clients=LOAD_CLIENTS,
                    seconds=seconds,
                )
                _per_request(filing, meter.stop())
                meter.start()
                bare = load.run(
                    host="127.0.0.1",
                    port=port,
                    path="/bench/bare/",
                    headers=headers,
                    body_for=lambda n, p=prefix: {"number": _container(f"{p}RU", n)},
                    clients=LOAD_CLIENTS,
                    seconds=seconds,
                )
                _per_request(bare, meter.stop())
                print(f"{server} run {run}: filing {filing}\n  bare {bare}")
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
            "cpu_ratio_to_bare": round(
                statistics.median(r["web_cpu_ms"] for r in filing_runs)
                / statistics.median(r["web_cpu_ms"] for r in bare_runs),
                2,
            ),
        }
    return {
        "clients": LOAD_CLIENTS,
        "seconds": LOAD_SECONDS,
        "web_processes": WEB_PROCESSES,
        "runs": RUNS,
        **figures,
        "load_average": os.getloadavg(),
        "target": {"requests_per_s": 300, "p95_ms": 50, "errors": 0},
    }


_SERVER_LETTER = {"wsgi": "W", "asgi": "A", "granian-wsgi": "G", "granian-asgi": "H"}


def _one(call: PortCall, prefix: str, n: int) -> dict:
    return {
        "port_call": call.pk,
        "bl_number": f"LD{prefix}{n:08d}",
        "containers": [_container(f"{prefix}LU", n)],
        "items": [TILES],
    }


def _per_request(result: dict, used: dict) -> None:
    """CPU milliseconds per answered request: the web processes', the database's."""
    answered = max(1, result["requests"])
    result["web_cpu_ms"] = round(1000 * used["web"] / answered, 2)
    result["worker_cpu_ms"] = round(1000 * used["worker"] / answered, 2)
    result["database_cpu_ms"] = round(1000 * used["database"] / answered, 2)


def _load_summary(runs: list[dict]) -> dict:
    out = {}
    for key in (
        *("requests_per_s", "p50_ms", "p95_ms", "p99_ms"),
        *("web_cpu_ms", "worker_cpu_ms", "database_cpu_ms"),
    ):
        out[key] = _summary([r[key] for r in runs])
    out["errors"] = [r["errors"] for r in runs]
    out["statuses"] = [r["statuses"] for r in runs]
    return out
