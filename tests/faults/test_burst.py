"""The burst (issue 12): 1,000 filings at concurrency 50 over 100 Idempotency-Keys against
uvicorn as `make run` starts it, with a worker assessing: exactly 100 declarations, every
answer a 201, 0 5xx. The web's connection pool keeps
PostgreSQL's backends within its size (bench/burst.py reports the figures and the peer)."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests

from bench.burst import BackendSampler, fire
from tests.faults.conftest import serve, token_for


def test_a_thousand_retries_over_a_hundred_keys_file_a_hundred_declarations(
    database, web, worker, relay
):
    port_call = database.query("SELECT id FROM port_portcall WHERE voyage = '062E'")[0][0]
    token = token_for(web, "importer")
    tag = f"T{uuid.uuid4().hex[:6].upper()}"

    with BackendSampler(database.url) as backends:
        result = fire(web, token, port_call, tag=tag)

    assert result["statuses"] == {"201": 1000}, result
    assert result["server_errors"] == result["not_json"] == result["no_answer"] == 0
    filed = database.query(
        "SELECT count(*), count(DISTINCT bl_number) FROM declarations_declaration "
        "WHERE bl_number LIKE %s",
        [f"{tag}%"],
    )
    assert filed == [(100, 100)]
    # the web's pool (20) + the worker's two processes + this test's sampler, and margin
    assert backends.peak <= 30, backends.peak
    # and every one assessed by the worker, through the outbox and its relay
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        waiting = database.query(
            "SELECT count(*) FROM declarations_declaration WHERE bl_number LIKE %s "
            "AND status = 'submitted'",
            [f"{tag}%"],
        )[0][0]
        if waiting == 0:
            break
        time.sleep(0.5)
    assert waiting == 0, f"{waiting} of 100 declarations not assessed within 120 s"


def test_a_request_that_waits_too_long_for_a_connection_gets_a_503(database, tmp_path):
    """A pool of one, one request holding it behind a lock: the others wait the pool's
    timeout and get a JSON 503 with Retry-After, then the first one finishes."""
    process, base = serve(
        database, tmp_path / "web.log", DATABASE_POOL_MAX_SIZE="1", DATABASE_POOL_TIMEOUT="1"
    )
    token = token_for(base, "importer")
    headers = {"Authorization": f"Token {token}"}

    def read():
        return requests.get(f"{base}/api/v1/declarations/", headers=headers, timeout=30)

    try:
        with psycopg.connect(database.url) as lock:
            lock.execute("LOCK TABLE declarations_declaration IN ACCESS EXCLUSIVE MODE")
            with ThreadPoolExecutor(4) as pool:
                holder = pool.submit(read)
                time.sleep(0.5)  # it has the connection, waiting on the lock
                waiting = [pool.submit(read) for _ in range(3)]
                refused = [future.result() for future in waiting]
                lock.rollback()
                held = holder.result()
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert held.status_code == 200
    for response in refused:
        assert response.status_code == 503
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Retry-After"] == "5"
