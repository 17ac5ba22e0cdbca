"""The sorting line's fast path (ecommerce/sorting_line.py), called as uvicorn calls it,
against the real database: it answers what Django's view answers, records the scan, and
leaves every other request to Django."""

import asyncio
import json

import pytest

from ecommerce.models import SortingScan
from ecommerce.sorting_line import SortingLine
from port.auth import token_issue, token_revoke
from tests.ecommerce.conftest import file_parcels
from tests.ecommerce.factories import parcel

pytestmark = pytest.mark.django_db(transaction=True)


async def _django(scope, receive, send):
    """Stands for Django's application: says it was asked."""
    await send({"type": "http.response.start", "status": 599, "headers": []})
    await send({"type": "http.response.body", "body": b"django"})


def _call(line: SortingLine, method: str, path: str, token: str | None) -> tuple[int, bytes]:
    headers = [(b"host", b"testserver")]
    if token is not None:
        headers.append((b"authorization", f"Token {token}".encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    line.runner.run(line(scope, receive, send))
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


def _in_one_loop(line: SortingLine):
    """Every call of a test on one event loop, as under uvicorn; the pool closed after."""
    line.runner = asyncio.Runner()
    return line


@pytest.fixture
def line():
    line = _in_one_loop(SortingLine(_django))
    yield line
    line.runner.run(line.aclose())
    line.runner.close()


def test_it_answers_each_kind_of_parcel_and_records_posted_scans(ec, line):
    from ecommerce import services
    from ecommerce.models import ListRiskRule

    ListRiskRule.objects.create(
        name="Milk", public_reason="Milk powder checks", action="scan", categories=["milk powder"]
    )
    services.list_rule_set_activate(officer=ec.officer)
    file_parcels(ec, [parcel(1), parcel(2, hs_code="1901100000")])
    file_parcels(ec, [parcel(3)], kinds=("list",))
    token = token_issue(user=ec.operator).key
    answers = {}
    for number in ["W000000001", "W000000002", "W000000003", "W999"]:
        status, body = _call(line, "POST", f"/api/v1/ecommerce/sorting/{number}/", token)
        assert status == 200
        answers[number] = json.loads(body)
    assert {n: a["instruction"] for n, a in answers.items()} == {
        "W000000001": "release",
        "W000000002": "inspection",
        "W000000003": "not_decided",
        "W999": "not_declared",
    }
    assert answers["W999"]["waybill_no"] == "W999"
    # The scan is recorded by POST (on a connection of its own, committed), not by GET.
    assert _call(line, "GET", "/api/v1/ecommerce/sorting/W000000001/", token)[0] == 200
    scans = sorted(SortingScan.objects.values_list("waybill_no", "instruction"))
    assert scans == [
        ("W000000001", "release"),
        ("W000000002", "inspection"),
        ("W000000003", "not_decided"),
        ("W999", "not_declared"),
    ]


def test_everything_it_would_not_answer_200_goes_to_django(ec, line):
    file_parcels(ec, [parcel(1)])
    scanner = token_issue(user=ec.operator).key
    declarant = token_issue(user=ec.alice).key  # may not scan: Django's view says 404
    url = "/api/v1/ecommerce/sorting/W000000001/"
    assert _call(line, "POST", url, None) == (599, b"django")  # no token (or a session)
    assert _call(line, "POST", url, "not-a-key") == (599, b"django")
    assert _call(line, "POST", url, declarant) == (599, b"django")
    assert _call(line, "PUT", url, scanner) == (599, b"django")
    assert _call(line, "POST", f"/api/v1/ecommerce/sorting/{'W' * 41}/", scanner)[0] == 599
    assert _call(line, "GET", "/api/v1/ecommerce/lists/", scanner)[0] == 599
    assert not SortingScan.objects.exists()


def test_a_revoked_token_stops_at_once_though_it_was_remembered(ec, line):
    file_parcels(ec, [parcel(1)])
    token = token_issue(user=ec.operator).key
    url = "/api/v1/ecommerce/sorting/W000000001/"
    assert _call(line, "POST", url, token)[0] == 200
    assert token in line.allowed
    token_revoke(user=ec.operator)
    assert _call(line, "POST", url, token) == (599, b"django")
    assert token not in line.allowed
    assert SortingScan.objects.count() == 1


def test_through_the_real_asgi_application_the_answer_is_the_same(ec):
    """port.asgi's application routes scans to the fast path (no Django answer needed)."""
    from port.asgi import application

    file_parcels(ec, [parcel(1)])
    token = token_issue(user=ec.operator).key
    line = _in_one_loop(application.application_mapping["http"])
    assert isinstance(line, SortingLine)
    try:
        status, body = _call(line, "POST", "/api/v1/ecommerce/sorting/W000000001/", token)
    finally:
        line.runner.run(line.aclose())
        line.runner.close()
    assert (status, json.loads(body)["instruction"]) == (200, "release")
