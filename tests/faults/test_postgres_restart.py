"""PostgreSQL restarts while enterprises keep filing (a PRIVATE server this test stops and
starts, never the machine's): uvicorn, the outbox relay and a Celery worker (prefork, as
`make run` starts them) stay up through it, nothing of theirs is restarted.

Several clients file as a real client does: each filing with an Idempotency-Key of its own,
and on a 503 or a broken connection the same request again with the same key. Then: every
answer was JSON (503s with Retry-After while the database was away), no filing lost (every
key that got its 201 is one declaration), none filed twice, none decided twice, and every
declaration assessed within RECOVERY_LIMIT of PostgreSQL being back, a task that failed
while the database was down included.
"""

import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests

from tests.conftest import container_number, filing
from tests.faults.conftest import token_for

pytestmark = [pytest.mark.slow, pytest.mark.realparts]

API = "/api/v1/declarations/"
CLIENTS = 6
BEFORE, DOWN, AFTER = 4.0, 8.0, 4.0  # seconds of filing before, during and after the outage
RECOVERY_LIMIT = 90.0  # seconds after PostgreSQL is back by which every filing is assessed
GIVE_UP = 90.0  # a client stops retrying one key after this long (never reached when green)


@dataclass
class Client:
    """One enterprise filing in a loop; what it saw."""

    number: int
    filed: dict[str, str] = field(default_factory=dict)  # key -> bill of lading, on 201
    abandoned: list[str] = field(default_factory=list)
    answers: list[tuple[int, str, str | None]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    connection_errors: int = 0
    retries: int = 0


def _file_until_stopped(client, base, token, port_call, stop: threading.Event) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    serial = 600_000 + client.number * 10_000
    while not stop.is_set():
        serial += 1
        key, bl = f"pgr-{uuid.uuid4()}", f"PGR{serial}"
        body = filing(port_call, bl_number=bl, containers=[container_number(serial)])
        started = time.monotonic()
        while True:
            try:
                response = session.post(
                    f"{base}{API}", json=body, headers={"Idempotency-Key": key}, timeout=30
                )
            except requests.RequestException:
                client.connection_errors += 1
                response = None
            if response is not None:
                kind = response.headers.get("Content-Type", "")
                client.answers.append(
                    (response.status_code, kind, response.headers.get("Retry-After"))
                )
                if response.status_code == 201:
                    client.filed[key] = bl
                    break
                if response.status_code != 503:
                    client.unexpected.append(f"{response.status_code} {response.text[:300]}")
                    break
            if time.monotonic() - started > GIVE_UP:
                client.abandoned.append(key)
                break
            client.retries += 1
            time.sleep(0.5)  # a real client waits Retry-After (5 s); shorter, to press harder


def _assessed(database, bls: list[str]) -> tuple[int, int]:
    """(declarations among `bls` with a decision, decisions on them)."""
    return database.query(
        "SELECT count(DISTINCT d.id), count(x.id) FROM declarations_declaration d "
        "JOIN inspection_decision x ON x.declaration_id = d.id WHERE d.bl_number = ANY(%s)",
        (bls,),
    )[0]


def test_filings_under_load_while_postgresql_restarts(database, web, relay, worker, capsys):
    token = token_for(web, "importer")
    port_call = database.query("SELECT id FROM port_portcall WHERE voyage = '062E'")[0][0]
    clients = [Client(number) for number in range(CLIENTS)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_file_until_stopped, args=(c, web, token, port_call, stop))
        for c in clients
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(BEFORE)
        database.stop()
        time.sleep(DOWN)
    finally:
        database.start()
        back_at = time.monotonic()
        time.sleep(AFTER)
        stop.set()
        for thread in threads:
            thread.join(timeout=GIVE_UP + 40)

    filed = {key: bl for client in clients for key, bl in client.filed.items()}
    bls = sorted(filed.values())
    total = len(bls)
    while True:
        assessed, decisions = _assessed(database, bls)
        if assessed == total or time.monotonic() - back_at > RECOVERY_LIMIT:
            break
        time.sleep(0.1)
    recovered = time.monotonic() - back_at

    answers = [answer for client in clients for answer in client.answers]
    statuses = [status for status, _kind, _after in answers]
    assert not any(thread.is_alive() for thread in threads)
    assert [u for c in clients for u in c.unexpected] == []
    assert [k for c in clients for k in c.abandoned] == []
    not_json = [a for a in answers if not a[1].startswith("application/json")]
    assert not_json == []
    assert all(int(after) > 0 for status, _kind, after in answers if status == 503)
    assert set(statuses) <= {201, 503}
    assert statuses.count(503) >= 1  # the outage was seen
    # every key that got its 201 is one declaration, and nothing else was filed
    rows = database.query(
        "SELECT bl_number, count(*) FROM declarations_declaration "
        "WHERE bl_number LIKE %s GROUP BY bl_number",
        ("PGR%",),
    )
    assert sorted(bl for bl, _count in rows) == bls  # 0 lost, 0 filed without a 201
    assert {count for _bl, count in rows} == {1}  # 0 filed twice
    assert assessed == total, f"{total - assessed} of {total} never assessed"
    assert decisions == total  # one container each: decided once each
    assert recovered < RECOVERY_LIMIT
    for process in (relay, worker):
        assert process.poll() is None  # survived the restart, never restarted
    assert requests.get(f"{web}/readyz", timeout=10).status_code == 200
    connection_errors = sum(c.connection_errors for c in clients)
    with capsys.disabled():
        print(
            f"\n[postgres restart] {CLIENTS} clients, {total} filings "
            f"({len(answers)} answers: {statuses.count(201)} x 201, {statuses.count(503)} x 503, "
            f"0 non-JSON; {connection_errors} connection errors), 0 lost, 0 twice; "
            f"all assessed {recovered:.1f} s after PostgreSQL was back"
        )
