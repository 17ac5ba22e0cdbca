"""Set-based intake: a batch of thousands validated once, written in bulk, one task, one push
per organisation; the single filing is a batch of one. Query counts are pinned here."""

import datetime
import gc
import io
import json
import threading
import time
from decimal import Decimal

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from declarations import api, services, two_step
from declarations.models import Declaration, DeclarationContainer, DeclarationItem
from port import structure
from port.auth import token_issue
from port.errors import InvalidInput
from port.models import TimelineEvent
from tests.conftest import MEAT_ITEM, container_number, filing, queued
from tests.declarations import factories

URL = "/api/v1/declarations/"


def entries(demo, count: int, start: int = 0, **overrides) -> list[dict]:
    return [
        filing(
            demo.port_call.pk,
            bl_number=f"BATCH{start + n:07d}",
            containers=[container_number(100_000 + start + n)],
            **overrides,
        )
        for n in range(count)
    ]


def post_batch(client, declarations, **headers):
    return client.post(f"{URL}batch/", {"declarations": declarations}, format="json", **headers)


def test_a_batch_of_1000_takes_as_many_queries_as_a_batch_of_10(demo, api_for):
    client = api_for(demo.importer)
    post_batch(client, entries(demo, 1, 5000))  # warms the reference editions' cache
    counts = {}
    for size, start in ((10, 0), (1000, 10)):
        with CaptureQueriesContext(connection) as queries:
            response = post_batch(client, entries(demo, size, start))
        assert response.json()["filed"] == size
        counts[size] = len(queries)

    # declarant, enterprises, port calls, busy containers, ids and numbers, containers,
    # one COPY each for declarations, items, container links and timeline, and the
    # transaction (a savepoint pair inside the test's own), and the batch's one outbox row
    assert counts == {10: 13, 1000: 13}
    assert Declaration.objects.filter(status="submitted").count() == 1011
    assert DeclarationItem.objects.count() == 1011
    assert DeclarationContainer.objects.count() == 1011
    assert TimelineEvent.objects.filter(subject_type="declarations.declaration").count() == 2022


def test_a_single_filing_takes_a_pinned_number_of_queries(demo, api_for):
    client = api_for(demo.importer)
    first, second = entries(demo, 2)
    client.post(URL, first, format="json")

    with CaptureQueriesContext(connection) as queries:
        response = client.post(URL, second, format="json")

    assert response.status_code == 201
    # the batch of one (13, as above); the answer is built from what was written
    assert len(queries) == 13, "\n".join(q["sql"][:100] for q in queries.captured_queries)


@pytest.mark.parametrize("declarations", [2, 3])  # 400 goods lines at once, 600 by COPY
def test_a_small_batch_of_long_declarations_is_written_whole(demo, api_for, declarations):
    item = filing(demo.port_call.pk)["items"][0]
    batch = entries(demo, declarations, items=[item] * 200)

    response = post_batch(api_for(demo.importer), batch)

    assert response.json()["filed"] == declarations
    assert DeclarationItem.objects.count() == 200 * declarations
    assert sorted(DeclarationItem.objects.values_list("line_number", flat=True))[-1] == 200
    assert DeclarationContainer.objects.count() == declarations


def test_a_batch_queues_one_assessment_and_one_push_per_organisation(
    demo, django_capture_on_commit_callbacks
):
    from port import live

    groups = [
        live.organisation_group(org.pk)
        for org in (demo.broker_org, demo.importer_org, demo.exporter_org)
    ]
    before = live.sequences(groups)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        results = services.declarations_file(
            user=demo.broker,
            entries=[
                services.FilingEntry(filing=services_input(demo, n, enterprise=org.pk))
                for n, org in enumerate([demo.importer_org, demo.exporter_org] * 50)
            ],
        )

    assert all(r.declaration is not None for r in results), [r.errors for r in results]
    # one outbox row for the whole batch, never one per declaration
    assert queued() == [
        (services.ASSESS_TASK, {"declaration_ids": [r.declaration.pk for r in results]})
    ]
    # the broker's group, and each enterprise's: one numbered frame each for 100
    # declarations, sent by one after-commit callback
    assert len(callbacks) == 1
    assert live.sequences(groups) == {group: before[group] + 1 for group in groups}


def test_a_container_twice_in_one_batch_is_refused_the_second_time(demo, api_for):
    twice = container_number(424242)
    body = entries(demo, 3)
    body[0]["containers"] = body[2]["containers"] = [twice]

    result = post_batch(api_for(demo.importer), body).json()

    assert (result["filed"], result["refused"]) == (2, 1)
    assert result["results"][2]["errors"] == {
        "containers": [f"{twice} is on declaration 0 of this batch."]
    }


def test_every_bad_declaration_is_reported_by_index_and_field(demo, api_for):
    body = entries(demo, 5)
    body[1]["bl_number"] = ""
    body[3]["items"] = [{**body[3]["items"][0], "hs_code": "12345"}]
    body[4]["port_call"] = "not a number"

    result = post_batch(api_for(demo.importer), body).json()

    assert [r["index"] for r in result["results"] if r["errors"]] == [1, 3, 4]
    assert list(result["results"][1]["errors"]) == ["bl_number"]
    assert result["results"][3]["errors"] == {
        "items": {"0": {"hs_code": ["A commodity code has exactly 10 digits."]}}
    }
    assert result["results"][4]["errors"] == {"port_call": ["A valid integer is required."]}
    assert Declaration.objects.count() == 2


def test_a_reference_filed_before_answers_with_that_declaration(demo, api_for):
    client = api_for(demo.importer)
    first = entries(demo, 2)
    first[0]["reference"], first[1]["reference"] = "PO-1", "PO-2"
    filed = post_batch(client, first).json()
    again = entries(demo, 3, start=10)
    again[0]["reference"] = "PO-2"  # the same consignment, sent again

    answer = post_batch(client, again).json()

    assert answer["results"][0]["id"] == filed["results"][1]["id"]
    assert answer["results"][0]["replayed"] is True
    assert Declaration.objects.count() == 4


def test_a_reference_twice_in_one_batch_is_refused_the_second_time(demo, api_for):
    body = entries(demo, 2)
    body[0]["reference"] = body[1]["reference"] = "PO-9"

    result = post_batch(api_for(demo.importer), body).json()

    assert result["results"][1]["errors"] == {
        "reference": ["Declaration 0 of this batch has this reference."]
    }


def test_a_batch_repeated_with_its_idempotency_key_is_replayed(demo, api_for):
    client = api_for(demo.importer)
    body = entries(demo, 3)

    first = post_batch(client, body, HTTP_IDEMPOTENCY_KEY="batch-1")
    second = post_batch(client, body, HTTP_IDEMPOTENCY_KEY="batch-1")

    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Declaration.objects.count() == 3


def test_a_summary_in_a_batch_draws_its_guarantee(demo, api_for):
    from declarations.models import GuaranteeAccount

    two_step.guarantee_account_set(enterprise=demo.exporter_org, quota=Decimal("1000000"))
    summary = entries(demo, 1, kind="summary", items=[MEAT_ITEM])[0]
    summary["enterprise"] = demo.exporter_org.pk

    result = post_batch(api_for(demo.broker), [summary]).json()

    declaration = Declaration.objects.get(pk=result["results"][0]["id"])
    assert declaration.guarantee_amount == Decimal("192000.00")
    assert GuaranteeAccount.objects.get(enterprise=demo.exporter_org).used == Decimal("192000.00")
    assert list(
        TimelineEvent.objects.filter(subject_id=declaration.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    ) == ["declaration.filed", "declaration.guarantee_drawn", "declaration.status_changed"]


def services_input(demo, n: int, **overrides) -> services.FilingInput:
    body = entries(demo, 1, start=n)[0]
    fields = api.DeclarationCreateSerializer(data={**body, **overrides})
    fields.is_valid(raise_exception=True)
    return api.filing_input(fields.validated_data)


@pytest.mark.parametrize(
    "payload",
    [
        {"port_call": 1, "bl_number": " ab ", "containers": ["X"], "items": []},
        {"port_call": "1", "bl_number": "AB", "containers": ["X"], "items": []},
        {"port_call": 1, "bl_number": 7, "containers": "X", "items": []},
        {"port_call": 1, "bl_number": "A" * 36, "containers": [], "items": []},
        {"port_call": True, "bl_number": "", "containers": [None], "items": [{}]},
        {"port_call": 1, "bl_number": "AB", "containers": ["X"], "items": [], "draft": "yes"},
        {"bl_number": "AB\x00", "containers": ["X"], "items": [], "summary": None},
        [],
    ],
)
def test_the_fast_structure_check_answers_as_drf_does(payload):
    fast = structure.validate(api.DeclarationBatchEntrySerializer, payload)
    serializer = api.DeclarationBatchEntrySerializer(data=payload)
    drf = (serializer.validated_data, None) if serializer.is_valid() else (None, serializer.errors)

    assert _plain(fast) == _plain(drf)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, serializers.ErrorDetail):
        return str(value)
    return value


def test_the_batch_body_keeps_the_nesting_limit_of_every_body(demo, api_for):
    nested = b'{"declarations": ' + b"[" * 100 + b"]" * 100 + b"}"

    response = api_for(demo.importer).generic(
        "POST", f"{URL}batch/", nested, content_type="application/json"
    )

    assert response.status_code == 400
    assert "nests deeper than 32 levels" in response.json()["detail"]


def test_the_filing_reads_the_enterprises_a_user_may_file_for_as_the_queryset_does(demo):
    from django.utils import timezone

    from port.queries import enterprises_filable_by, enterprises_filable_by_sql

    today = timezone.localdate()
    for user in (demo.importer, demo.broker, demo.exporter):
        sql, params = enterprises_filable_by_sql(user_id=user.pk, today=today)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        assert ids == list(enterprises_filable_by(user).values_list("pk", flat=True)), user


PLACES = ["AUMEL", "NZAKL", "USLGB", "NLRTM", "SGSIN"]


def _places_edition():
    """A complete UN/LOCODE edition of a few places (the shipped one takes 13 s to load; the
    check is the same)."""
    from reference import services as reference_services

    reference_services.edition_load(
        dataset="unlocode",
        name="UN/LOCODE (test)",
        effective_from=datetime.date(2020, 1, 1),
        rows=[(code, code, {}) for code in [*PLACES, "CNXMN"]],
    )


def test_ports_are_checked_against_unlocode_with_one_statement_per_batch(demo, api_for):
    _places_edition()
    client = api_for(demo.importer)
    post_batch(client, entries(demo, 1, 5000, port_of_loading="AUMEL"))  # warms the editions
    counts = {}
    for size, start in ((10, 0), (1000, 10)):
        body = entries(demo, size, start)
        for n, declaration in enumerate(body):
            declaration["port_of_loading"] = PLACES[n % len(PLACES)]
        with CaptureQueriesContext(connection) as queries:
            response = post_batch(client, body)
        assert response.json()["filed"] == size
        counts[size] = len(queries)

    # the 13 of a batch without ports named, and one look-up of the batch's places
    assert counts == {10: 14, 1000: 14}


def test_a_port_the_unlocode_edition_in_force_does_not_list_is_refused(demo, api_for):
    _places_edition()
    client = api_for(demo.importer)
    body = entries(demo, 3, port_of_loading="AUMEL")
    body[1]["port_of_loading"] = "AUQQQ"
    body[2]["port_of_discharge"] = "CNQQQ"

    result = post_batch(client, body).json()

    assert (result["filed"], result["refused"]) == (1, 2)
    assert result["results"][1]["errors"] == {
        "port_of_loading": ["AUQQQ is not a place in UN/LOCODE (test)."]
    }
    assert result["results"][2]["errors"] == {
        "port_of_discharge": ["CNQQQ is not a place in UN/LOCODE (test)."]
    }
    # the single filing (a batch of one) says the same, on the field
    single = client.post(URL, entries(demo, 1, 10, port_of_loading="AUQQQ")[0], format="json")
    assert single.status_code == 400
    assert single.json()["port_of_loading"] == ["AUQQQ is not a place in UN/LOCODE (test)."]


@pytest.mark.django_db(transaction=True)
def test_filings_that_arrive_together_are_written_together_and_each_answered_as_filed(
    demo, monkeypatch
):
    from port.group_commit import GroupCommit

    held, go = threading.Event(), threading.Event()

    def write(items):  # the first batch stays open until the others have queued behind it
        if not held.is_set():
            held.set()
            assert go.wait(10)
        return services._file_together(items)

    group = GroupCommit(write)
    monkeypatch.setattr(services, "_filings", group)
    shared = container_number(700_001)
    bodies = [[container_number(700_100 + n)] for n in range(8)] + [[shared], [shared]]
    answers = {}

    def file(n):
        try:
            answers[n] = factories.file(demo, containers=bodies[n])
        except InvalidInput as error:
            answers[n] = error
        finally:
            connection.close()  # this thread's own connection

    first = threading.Thread(target=file, args=(0,))
    first.start()
    assert held.wait(10)
    rest = [threading.Thread(target=file, args=(n,)) for n in range(1, len(bodies))]
    for thread in rest:
        thread.start()
    deadline = time.monotonic() + 10
    while len(group._pending) < len(rest) and time.monotonic() < deadline:
        time.sleep(0.005)
    go.set()
    for thread in [first, *rest]:
        thread.join(10)

    # the nine that queued behind the first went in one batch, but for the second claim
    # on the shared container, which waited for the next and met the first as filed
    assert (group.batches, group.items) == (3, 10)
    filed = {n: d for n, d in answers.items() if isinstance(d, Declaration)}
    [refused] = [e for e in answers.values() if isinstance(e, InvalidInput)]
    assert "is on open declaration" in refused.errors["containers"][0]
    assert len(filed) == 9
    for n, declaration in filed.items():  # each answered with its own lines, as filed
        assert [c.number for c in declaration.containers.all()] == bodies[n]
        assert declaration.items.all()[0].hs_code == "6907210000"
        assert declaration.status == "submitted"
    assert Declaration.objects.count() == 9
    assert len({d.number for d in filed.values()}) == 9
    # one assessment task per batch that filed (the third refused its one filing)
    assert [len(k["declaration_ids"]) for _, k in queued(services.ASSESS_TASK)] == [1, 8]
    connection.close()


def test_a_filing_answered_through_wsgi_leaves_nothing_for_the_garbage_collector(demo):
    """Every object of a filing's request is freed once its answer is sent: no reference
    cycles (port.middleware.ReleaseRequestMiddleware, bulk.with_lines, the token's user)."""
    handler, key = WSGIHandler(), token_issue(user=demo.importer).key
    for signal in (request_started, request_finished):  # as the test client does: the
        signal.disconnect(close_old_connections)  # test's transaction holds the connection

    def file(n: int) -> str:
        body = json.dumps(entries(demo, 1, 700 + n)[0]).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": URL,
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Token {key}",
            "REMOTE_ADDR": "127.0.0.1",
        }
        statuses = []
        answer = handler(environ, lambda status, headers: statuses.append(status))
        b"".join(answer)
        answer.close()  # as the server does once the body is sent
        return statuses[0]

    assert file(0).startswith("201")  # loads what a first request loads
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        status = file(1)
        gc.collect()
        garbage = sorted({type(o).__qualname__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)
    assert status.startswith("201")
    assert garbage == []
