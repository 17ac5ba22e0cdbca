"""Cross-border e-commerce at the Double-11 peak: bulk intake to decision, decision latency
at a steady 1,050 lists a second, and the sorting line's answer at 200 scans a second.

Real processes on the bench database, as deployed: uvicorn (WEB_WORKERS processes) serves
the API, the outbox relay sends each batch's decision task, and a Celery worker with
DECIDERS processes decides (`ecommerce.tasks.batch_decide_task`: each decider claims
batches of its own). The declaring enterprise (this process) posts inventory lists in
batches of BATCH over HTTP; the figures include HTTP, JSON, validation, COPY, the outbox,
the broker, matching, rules, quota, tax and the update. The orders, payments and
waybills are filed beforehand (not timed).

1. intake: LISTS lists per run, as fast as SENDERS keep-alive connections post them (the
   bodies encoded beforehand); lists decided per second from the first byte of the first
   batch to the last batch decided; beside it, raw COPY of the same rows (lists and goods
   lines) into an unindexed copy of the table, in the same run. `sustained`: the same
   for BENCH_EC_SUSTAINED_LISTS (660,000: at least a minute at up to 11,000 a second).
2. latency: batches of 105 due every 100 ms (1,050 lists/s), open loop over SENDERS
   connections, for LATENCY_SECONDS; per batch, from the API's response to its decision
   committed (the batch's `decided_at`, stamped by the worker).
3. sorting: POST /api/v1/ecommerce/sorting/<waybill>/ open-loop at 200/s for
   SORTING_SECONDS (the zone gate bench's load generator), each due at t0 + i/rate.
"""

import asyncio
import contextlib
import functools
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import requests
from django.conf import settings
from django.db import connection

from bench.planner import analyze_as_autovacuum_would
from bench.zones import _embedded_url, _pct
from ecommerce import decision, intake
from ecommerce.db import bulk_cursor
from ecommerce.models import Batch, BuyerQuota, InventoryList, ListLine, Order, Payment, Waybill
from port.celery import all_queues
from tests.ecommerce import factories

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_EC_RUNS", "3"))  # 1 for one long run (BENCH_EC_LISTS)
SORTING_RATE = 200
SORTING_CONNECTIONS = 16
# Keep-alive connections posting batches, and uvicorn's worker processes (docker-compose's
# WEB_CONCURRENCY default).
SENDERS = int(os.environ.get("BENCH_EC_SENDERS", "4"))
WEB_WORKERS = int(os.environ.get("BENCH_EC_WEB_WORKERS", "2"))
# The Celery worker's processes deciding (docker-compose's WORKER_CONCURRENCY default).
DECIDERS = int(os.environ.get("BENCH_EC_DECIDERS", "2"))
BATCH = 2000
PASSWORD = "bench-portwise"  # noqa: S105 - a throw-away database's users


def run(measure) -> dict:
    lists = int(os.environ.get("BENCH_EC_LISTS", "20000"))
    sustained = int(os.environ.get("BENCH_EC_SUSTAINED_LISTS", "660000"))
    sustained_runs = int(os.environ.get("BENCH_EC_SUSTAINED_RUNS", str(RUNS)))
    latency_seconds = int(os.environ.get("BENCH_EC_LATENCY_SECONDS", "20"))
    sorting_seconds = int(os.environ.get("BENCH_EC_SORTING_SECONDS", "15"))
    ec = _world()
    server, base = _serve()
    deciders = _deciders()
    figures: dict = {"batch": BATCH, "web_workers": WEB_WORKERS, "deciders": DECIDERS}
    try:
        alice, operator = _token(base, "alice"), _token(base, "site")
        _phase(
            figures,
            "intake",
            5000,
            "target_lists_per_s",
            lambda: [_intake_run(ec, base, alice, n, lists) for n in range(RUNS)],
        )
        if sustained:
            _phase(
                figures,
                "sustained",
                5000,
                "target_lists_per_s",
                lambda: [
                    _intake_run(ec, base, alice, 20 + n, sustained) for n in range(sustained_runs)
                ],
            )
        _phase(
            figures,
            "latency_at_1050_per_s",
            2000,
            "limit_p99_ms",
            lambda: [_latency_run(ec, base, alice, n, latency_seconds) for n in range(RUNS)],
        )
        waybills = list(InventoryList.objects.values_list("waybill_no", flat=True)[:5000])
        _phase(
            figures,
            "sorting_at_200_per_s",
            5,
            "limit_p99_ms",
            lambda: [_sorting_run(base, operator, waybills, sorting_seconds) for _r in range(RUNS)],
        )
    finally:
        for process in (server, *deciders):
            process.terminate()
        for process in (server, *deciders):
            process.wait(timeout=30)
    return figures


def run_sorting(measure) -> dict:
    """Only the sorting line (`python -m bench ecommerce_sorting`)."""
    seconds = int(os.environ.get("BENCH_EC_SORTING_SECONDS", "15"))
    ec = _world()
    parcels = _documents(ec, 50_000_000, 2000)
    intake.batch_file(
        kind="list", organisation_id=ec.declarant.pk, items=[p["list"] for p in parcels]
    )
    for batch_id in Batch.objects.filter(decided_at__isnull=True).values_list("pk", flat=True):
        decision.batch_decide(batch_id=batch_id)
    waybills = [p["waybill"]["waybill_no"] for p in parcels]
    server, base = _serve()
    figures: dict = {"rate": SORTING_RATE, "connections": SORTING_CONNECTIONS}
    try:
        operator = _token(base, "site")
        _phase(
            figures,
            "sorting_at_200_per_s",
            5,
            "limit_p99_ms",
            lambda: [_sorting_run(base, operator, waybills, seconds) for _r in range(RUNS)],
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    return figures


@functools.cache
def _world():
    """The participants, once per bench process: `make bench` runs `ecommerce` and then
    `ecommerce_sorting` on the same database (a second world broke on its unique codes)."""
    ec = factories.world()
    for user in (ec.alice, ec.operator):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    return ec


def _phase(figures: dict, name: str, limit, limit_name: str, runs) -> None:
    """Run one phase's runs and keep its figures; a phase that fails (a shared PostgreSQL
    out of connections) is reported as failed, and the others still run."""
    try:
        done = runs()
        figures[name] = {"runs": done, **_summary(done), limit_name: limit}
    except Exception as error:  # noqa: BLE001 - reported in the results, never hidden
        figures[name] = {"error": repr(error)[:300], limit_name: limit}
    print(name, json.dumps(figures[name]), flush=True)


# ------------------------------------------------------------------ 1. intake to decision


def _intake_run(ec, base: str, token: str, run_no: int, count: int) -> dict:
    start = 1_000_000 * (run_no + 1)
    parcels = _documents(ec, start, count)
    bodies = [_body(parcels[i : i + BATCH]) for i in range(0, count, BATCH)]
    del parcels
    with _frozen():
        began = time.perf_counter()
        answers = _post_batches(base, token, bodies, [began] * len(bodies), SENDERS)
        answered = time.perf_counter() - began
        _wait_decided([batch for batch, _at in answers])
        elapsed = time.perf_counter() - began
    released = InventoryList.objects.filter(list_no__gte=f"L{start:09d}", status="released").count()
    copy_rows_per_s = _raw_copy(start, min(count, 20_000))
    rows = count + count  # each list and its one goods line
    return {
        "lists": count,
        "released": released,
        "seconds": round(elapsed, 2),
        # The last batch answered (filed): what the deciders took beyond it is their lag.
        "answered_seconds": round(answered, 2),
        "lists_per_s": round(count / elapsed),
        "rows_per_s": round(rows / elapsed),
        "copy_rows_per_s": round(copy_rows_per_s),
        "ratio_to_copy": round(rows / elapsed / copy_rows_per_s, 4),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def _wait_decided(batch_ids: list[int], timeout: float = 900) -> None:
    """Until the worker has decided every one of these batches."""
    deadline = time.monotonic() + timeout
    open_batches = Batch.objects.filter(pk__in=batch_ids, decided_at__isnull=True)
    while open_batches.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{open_batches.count()} batches not decided in time")
        time.sleep(0.01)


def _documents(ec, start: int, count: int) -> list[dict]:
    """File the orders, payments and waybills of `count` parcels (not timed)."""
    parcels = [factories.parcel(start + i) for i in range(count)]
    filer = {"order": ec.platform, "payment": ec.payment, "waybill": ec.logistics}
    for kind, organisation in filer.items():
        for i in range(0, count, intake.MAX_BATCH):
            intake.batch_file(
                kind=kind,
                organisation_id=organisation.pk,
                items=[p[kind] for p in parcels[i : i + intake.MAX_BATCH]],
            )
    analyze_as_autovacuum_would(InventoryList, ListLine, Order, Payment, Waybill, BuyerQuota, Batch)
    return parcels


def _raw_copy(start: int, count: int) -> float:
    """Rows per second of COPY of the same lists and lines into unindexed copies."""
    lists_table, lines_table = InventoryList._meta.db_table, ListLine._meta.db_table
    rows = list(
        InventoryList.objects.filter(
            list_no__gte=f"L{start:09d}", list_no__lt=f"L{start + count:09d}"
        )
        .order_by("id")
        .values_list()
    )
    lines = list(ListLine.objects.filter(inventory_list_id__in=[r[0] for r in rows]).values_list())
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE bench_lists (LIKE {lists_table})")  # noqa: S608
        cursor.execute(f"CREATE TEMP TABLE bench_lines (LIKE {lines_table})")  # noqa: S608
        began = time.perf_counter()
        list_columns = ", ".join(f.column for f in InventoryList._meta.concrete_fields)
        line_columns = ", ".join(f.column for f in ListLine._meta.concrete_fields)
        with cursor.copy(f"COPY bench_lists ({list_columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_jsonable(row))
        with cursor.copy(f"COPY bench_lines ({line_columns}) FROM STDIN") as copy:
            for row in lines:
                copy.write_row(row)
        elapsed = time.perf_counter() - began
        cursor.execute("DROP TABLE bench_lists, bench_lines")
    return (len(rows) + len(lines)) / elapsed


def _jsonable(row) -> list:
    return [json.dumps(v) if isinstance(v, list | dict) else v for v in row]


# ------------------------------------------------------------------ 2. latency at 1,050/s


def _latency_run(ec, base: str, token: str, run_no: int, seconds: int) -> dict:
    """Open loop: batch n is due at t0 + n × 100 ms whatever the answers before it, sent
    over SENDERS keep-alive connections (one sender could not post 105 lists within
    100 ms on the loaded machine, so it offered ~600/s, not 1,050/s)."""
    per_batch, interval = 105, 0.1
    count = per_batch * int(seconds / interval)
    start = 10_000_000 * (run_no + 1)
    parcels = _documents(ec, start, count)
    bodies = [_body(parcels[i : i + per_batch]) for i in range(0, count, per_batch)]
    with _frozen():
        t0 = time.perf_counter() + 0.2
        due = [t0 + n * interval for n in range(len(bodies))]
        answers = _post_batches(base, token, bodies, due, SENDERS)
        _wait_decided([batch for batch, _at in answers])
    decided = dict(
        Batch.objects.filter(pk__in=[b for b, _at in answers]).values_list("pk", "decided_at")
    )
    # Both clocks are this machine's: the answer's wall time here, the worker's stamp there.
    waits = [(decided[batch].timestamp() - at) * 1000 for batch, at in answers]
    late = [(sent - due[i]) * 1000 for i, sent in enumerate(_post_batches.sent)]
    return {
        "lists": count,
        # From the first batch's due time to the last batch's sending.
        "offered_lists_per_s": round((count - per_batch) / (max(_post_batches.sent) - t0)),
        "p50_ms": _pct(waits, 50),
        "p99_ms": _pct(waits, 99),
        "send_late_p99_ms": _pct(late, 99),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def _body(parcels: list[dict]) -> bytes:
    return orjson.dumps({"lists": [p["list"] for p in parcels]})


@contextlib.contextmanager
def _frozen():
    """The bench's own prepared parcels and bodies out of the collector's sight while it
    measures (a web process would not hold them)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _post_batches(base, token, bodies, due, senders) -> list[tuple[int, float]]:
    """POST each body to the list batch endpoint at its due time (or as soon as one of
    `senders` keep-alive connections is free). Returns each batch's id and the wall time
    its answer arrived; `_post_batches.sent` keeps when each was sent (perf_counter)."""
    import uvloop

    host, port = urlsplit(base).hostname, urlsplit(base).port
    head = (
        f"POST /api/v1/ecommerce/lists/batch/ HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
    ).encode()
    sent = [0.0] * len(bodies)
    answers: list[tuple[int, float]] = [(0, 0.0)] * len(bodies)

    async def load():
        idle: asyncio.Queue = asyncio.Queue()
        for _ in range(senders):
            idle.put_nowait(await asyncio.open_connection(host, port))

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, due[i] - time.perf_counter()))
            reader, writer = await idle.get()
            sent[i] = time.perf_counter()
            try:
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(bodies[i]) + bodies[i])
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
            finally:
                idle.put_nowait((reader, writer))
            if not status.startswith(b"HTTP/1.1 201"):
                raise RuntimeError(f"{status!r} {body[:300]!r}")
            answers[i] = (orjson.loads(body)["batch"], time.time())

        await asyncio.gather(*(one(i) for i in range(len(bodies))))
        while not idle.empty():
            _reader, writer = idle.get_nowait()
            writer.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(load())
    _post_batches.sent = sent
    return answers


# ------------------------------------------------------------------ 3. the sorting line


def _sorting_run(base: str, token: str, waybills: list[str], seconds: int) -> dict:
    """Open loop at SORTING_RATE scans/s over SORTING_CONNECTIONS keep-alive connections, one
    in twenty an unknown waybill; each scan's time from its due time to its answer read.
    Beside it, in the same run, PostgreSQL's own floor: the same statement sent straight
    to the server from here, one after another."""
    numbers = [
        waybills[i % len(waybills)] if i % 20 else f"UNKNOWN{i}"
        for i in range(SORTING_RATE * seconds)
    ]
    answers, late = _scan_load(base, token, numbers)
    floor = _sql_floor(numbers[:1000], token)
    return {
        "scans": len(numbers),
        "p50_ms": _pct(answers, 50),
        "p99_ms": _pct(answers, 99),
        "max_ms": round(max(answers), 2),
        # How late this client sent (its own scheduling on a busy machine), part of the above.
        "client_late_p99_ms": _pct(late, 99),
        "sql_floor_p50_ms": _pct(floor, 50),
        "sql_floor_p99_ms": _pct(floor, 99),
    }


def _scan_load(base: str, token: str, numbers: list[str]) -> tuple[list[float], list[float]]:
    import uvloop

    host, port = urlsplit(base).hostname, urlsplit(base).port
    auth = f"Authorization: Token {token}\r\n".encode()

    async def load():
        idle: asyncio.Queue = asyncio.Queue()
        for _ in range(SORTING_CONNECTIONS):
            idle.put_nowait(await asyncio.open_connection(host, port))
        answers, late = [0.0] * len(numbers), [0.0] * len(numbers)
        t0 = time.perf_counter() + 0.5

        async def one(i: int) -> None:
            due = t0 + i / SORTING_RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            reader, writer = await idle.get()
            late[i] = (time.perf_counter() - due) * 1000
            try:
                writer.write(
                    f"POST /api/v1/ecommerce/sorting/{numbers[i]}/ HTTP/1.1\r\n"
                    f"Host: {host}\r\nContent-Length: 0\r\n".encode()
                    + auth
                    + b"\r\n"
                )
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
            finally:
                idle.put_nowait((reader, writer))
            answers[i] = (time.perf_counter() - due) * 1000
            if not status.startswith(b"HTTP/1.1 200") or b"instruction" not in body:
                raise RuntimeError(f"{status!r} {body[:200]!r}")

        await asyncio.gather(*(one(i) for i in range(len(numbers))))
        while not idle.empty():
            _reader, writer = idle.get_nowait()
            writer.close()
        return answers, late

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(load())


def _sql_floor(numbers: list[str], token: str) -> list[float]:
    """The fast path's statement straight to PostgreSQL, one after another, in ms."""
    from ecommerce.sorting_line import SCAN

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    times = []
    with bulk_cursor() as cursor:
        for number in numbers:
            began = time.perf_counter()
            cursor.execute(SCAN, {"waybill": number, "key": token})
            cursor.fetchone()
            times.append((time.perf_counter() - began) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = on")
    return times


# ------------------------------------------------------------------ helpers


def _summary(runs: list[dict]) -> dict:
    keys = [k for k in runs[0] if k.endswith(("_per_s", "_ms", "ratio_to_copy"))]
    return {
        key: {
            "median": statistics.median(r[key] for r in runs),
            "min": min(r[key] for r in runs),
            "max": max(r[key] for r in runs),
        }
        for key in keys
    }


def _serve() -> tuple[subprocess.Popen, str]:
    """uvicorn on the bench database (as bench.zones does), waiting patiently for it on a
    busy machine, and never leaving it running when it does not answer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "port.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--workers",
            str(WEB_WORKERS),
        ],
        cwd=ROOT,
        env=_env(),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(f"{base}/livez", timeout=10)
            return server, base
        except requests.RequestException:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("uvicorn did not start") from None
            time.sleep(0.5)


def _deciders() -> list[subprocess.Popen]:
    """The Celery worker (DECIDERS processes, every queue of this bench's own) and the
    outbox relay, on the bench database."""
    env = _env()
    queues = ",".join(all_queues(env["CELERY_QUEUE"]))
    worker = [sys.executable, "-m", "celery", "-A", "port", "worker"]
    worker += ["--concurrency", str(DECIDERS), "--queues", queues, "--loglevel", "WARNING"]
    worker += ["--without-mingle", "--without-gossip", "--hostname", f"{env['CELERY_QUEUE']}@%h"]
    relay = [sys.executable, str(ROOT / "manage.py"), "outbox_relay"]
    return [subprocess.Popen(argv, cwd=ROOT, env=env) for argv in (worker, relay)]  # noqa: S603


@functools.cache
def _env() -> dict:
    url = urlsplit(os.environ.get("DATABASE_URL") or _embedded_url())
    tag = f"ecbench{os.getpid()}"
    return {
        **os.environ,
        "CELERY_QUEUE": tag,  # this bench's own queues and live groups on the shared Redis
        "CHANNELS_PREFIX": tag,
        # A pool per process: per-request threads under ASGI otherwise each keep a connection.
        "DATABASE_POOL_MAX_SIZE": os.environ.get("DATABASE_POOL_MAX_SIZE", "8"),
        # As in production: DEBUG off (it keeps every query), the same keys as this process
        # (the buyers' hashes of the documents filed here must match the lists posted there).
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP here; TLS ends at the proxy in production
        "SECRET_KEY": settings.SECRET_KEY,
        "ECOMMERCE_BUYER_KEY": settings.ECOMMERCE_BUYER_KEY or "",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
    }


def _token(base: str, username: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/token/", data={"username": username, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return response.json()["token"]
