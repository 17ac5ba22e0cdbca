"""The zone gate's answer time at 50 camera reads a second.

A real uvicorn process serves the app on the bench database; the camera system (this
process, a pool of threads with keep-alive connections) posts reads open-loop at a fixed
rate, each due at t0 + i/rate, and a read's latency runs from when it was due to its
answer (so a slow answer delays the reads behind it and is counted, not hidden). Nine in
ten reads match an open pass; one in ten has a plate that matches nothing. Reported per
run: the HTTP answer's p50 and p99, and the service's own `answer_ms` (from the read
reaching the service to the answer, before commit) recorded on the passage; and, at the
same rate through the same server, a minimal authenticated API read (the enterprise's
stock list): the floor of HTTP, authentication and a query. The limit is the seeds'
"under a minute" for a truck's whole passage. BENCH_GATE_SECONDS (default 10) and
BENCH_GATE_RATE (default 50) change the load.
"""

import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import requests
from django.core.management import call_command
from django.db import connection

from zones import services
from zones.models import GatePassage, ZoneGate

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
# The camera system's connections: a few per lane. Each becomes a server thread holding a
# database connection, on a PostgreSQL other work shares.
WORKERS = 8
GPU = {
    "item_no": "GPU-4090",
    "hs_code": "8473302000",
    "description": "Graphics cards",
    "unit": "pcs",
    "quantity": "10",
    "value": "120000",
}


def run(measure) -> dict:
    rate = int(os.environ.get("BENCH_GATE_RATE", "50"))
    seconds = int(os.environ.get("BENCH_GATE_SECONDS", "10"))
    reads = rate * seconds
    call_command("seed_demo", verbosity=0, certificates=False)
    from port.models import User

    company = User.objects.get(username="zoneco")
    gate = ZoneGate.objects.get(code="G1")
    server, base = _serve()
    try:
        camera = _token(base, "zonegate")
        enterprise = _token(base, "zoneco")
        runs = []
        for run_no in range(RUNS):
            plates = _passes(company, run_no, reads)
            started_id = GatePassage.objects.order_by("-pk").values_list("pk", flat=True).first()
            bodies = [_read(gate.pk, plates, i) for i in range(reads)]
            gate_ms = _load(
                base,
                camera,
                rate,
                lambda s, b: s.post(f"{base}/api/v1/zones/gate-reads/", json=b, timeout=30),
                bodies,
            )
            service_ms = list(
                GatePassage.objects.filter(pk__gt=started_id or 0).values_list(
                    "answer_ms", flat=True
                )
            )
            floor_ms = _load(
                base,
                enterprise,
                rate,
                lambda s, b: s.get(f"{base}/api/v1/zones/stock/", timeout=30),
                [None] * reads,
            )
            runs.append(
                {
                    "gate_p50_ms": _pct(gate_ms, 50),
                    "gate_p99_ms": _pct(gate_ms, 99),
                    "service_p50_ms": _pct(service_ms, 50),
                    "service_p99_ms": _pct(service_ms, 99),
                    "floor_p50_ms": _pct(floor_ms, 50),
                    "floor_p99_ms": _pct(floor_ms, 99),
                    "released": GatePassage.objects.filter(
                        pk__gt=started_id or 0, decision="release"
                    ).count(),
                    "reads": reads,
                }
            )
    finally:
        server.terminate()
        server.wait(timeout=20)
    summary = {
        key: {
            "median": round(statistics.median(r[key] for r in runs), 2),
            "min": round(min(r[key] for r in runs), 2),
            "max": round(max(r[key] for r in runs), 2),
        }
        for key in runs[0]
        if key.endswith("_ms")
    }
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "runs": runs,
        **summary,
        "limit_ms": 60000,
        "limit": "seeds: a truck through the gate in under a minute",
    }


def _passes(company, run_no: int, count: int) -> list[str]:
    """Open gate passes, filed in batches through the service, one plate each."""
    plates = [f"闽D{run_no}{n:04d}" for n in range(count)]
    for start in range(0, count, 500):
        services.movement_file_many(
            user=company,
            source="api",
            documents=[
                {
                    "kind": "domestic_in",
                    "truck_plate": plate,
                    "declared_weight_kg": "18000",
                    "lines": [GPU],
                }
                for plate in plates[start : start + 500]
            ],
        )
    return plates


def _read(gate_id: int, plates: list[str], i: int) -> dict:
    plate = plates[i] if i % 10 else f"闽E{i:05d}"[:7]  # one in ten matches no pass
    return {
        "gate": gate_id,
        "lane": i % 4 + 1,
        "truck_plate": plate,
        "weight_kg": "18150",
        "read_id": f"bench-{plate}-{i}-{time.monotonic_ns()}",
    }


def _load(base: str, token: str, rate: int, send, bodies: list) -> list[float]:
    """Open loop: request i is due at t0 + i/rate; latency from due time to answer, in ms."""
    sessions: dict[int, requests.Session] = {}

    def one(i: int, t0: float) -> float:
        session = sessions.get(i % WORKERS) or sessions.setdefault(i % WORKERS, _session(token))
        due = t0 + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        response = send(session, bodies[i])
        if response.status_code >= 300:
            raise RuntimeError(f"{response.status_code}: {_error(response.text)}")
        return (time.perf_counter() - due) * 1000

    t0 = time.perf_counter() + 0.5
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda i: one(i, t0), range(len(bodies))))


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def _token(base: str, username: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/token/",
        data={"username": username, "password": "portwise-demo"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]


def _serve() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = urlsplit(os.environ.get("DATABASE_URL") or _embedded_url())
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.server_settings",
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
    }
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
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/login/", timeout=10)
            return server, base
        except (requests.ConnectionError, requests.Timeout):
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("uvicorn did not start") from None
            time.sleep(0.2)


def _embedded_url() -> str:
    from port import embedded

    return embedded.database_url()


def _pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))], 2)


def _error(text: str) -> str:
    marker = 'class="exception_value">'
    return text[text.index(marker) + len(marker) :][:300] if marker in text else text[:300]


def run_upload(measure) -> dict:
    """An ERP file of 500 zone documents (one line each) filed by the worker's code, as the
    worker runs it (zone_upload_process, in this process, on the bench database): chunks of
    50 documents per call and transaction, against the peer of one document per call and
    transaction (CHUNK = 1), each run on a fresh upload. Reported: seconds per file and
    documents a second, median of three, min and max; the peer in the same run."""
    from zones.services import uploads

    call_command("seed_demo", verbosity=0, certificates=False)
    from port.models import User

    company = User.objects.get(username="zoneco")
    documents = int(os.environ.get("BENCH_UPLOAD_DOCUMENTS", "500"))
    header = "document,kind,truck_plate,declared_weight_kg,item_no,hs_code,description,unit,quantity,value\n"
    counter = {"n": 0}

    def one(chunk: int) -> None:
        counter["n"] += 1
        rows = "".join(
            f"U{counter['n']}-{n},domestic_in,闽F{counter['n'] % 10}{n:04d},18000,GPU-4090,"
            f"8473302000,Graphics cards,pcs,10,120000\n"
            for n in range(documents)
        )
        upload = services.zone_upload_create(
            user=company, file_name="bench.csv", content=(header + rows).encode()
        )
        with mock.patch.object(uploads, "CHUNK", chunk):
            done = services.zone_upload_process(upload_id=upload.pk)
        if len(done.filed) != documents:
            raise RuntimeError(f"filed {len(done.filed)} of {documents}: {done.errors[:3]}")

    result = {}
    for name, chunk in (("chunked_50", 50), ("peer_one_by_one", 1)):
        figures = measure(lambda chunk=chunk: one(chunk), repeat=RUNS)
        figures["documents_per_s_median"] = round(documents / figures["median_s"], 1)
        result[name] = figures
    result["documents"] = documents
    result["ratio_peer_to_chunked"] = round(
        result["peer_one_by_one"]["median_s"] / result["chunked_50"]["median_s"], 2
    )
    return result
