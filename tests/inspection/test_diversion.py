"""Diversion on a realistic vessel, the terminal's feed and acknowledgements, late
decisions, and signed webhooks with retries against a real HTTP server on loopback."""

import hashlib
import hmac
import http.server
import json
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inspection import assessment, diversion
from inspection import gate as port_gate
from inspection.models import Decision, DiversionInstruction, WebhookDelivery, WebhookEndpoint
from port.errors import InvalidInput
from port.models import PortCall
from tests.conftest import MEAT_ITEM, container_number, filing, queued

FEED = "/api/v1/diversion/instructions/"


def declare(demo, api_for, numbers, *, meat=False, n=0):
    body = filing(
        demo.port_call.pk,
        bl_number=f"BLDIV{n:05d}",
        containers=numbers,
        items=[MEAT_ITEM] if meat else filing(0)["items"],
    )
    created = api_for(demo.importer).post("/api/v1/declarations/", body, format="json").json()
    assessment.assess_declarations(declaration_ids=[created["id"]])
    return created["id"]


def berth(call: PortCall) -> None:
    PortCall.objects.filter(pk=call.pk).update(status=PortCall.Status.BERTHED, ata=timezone.now())


def test_a_vessel_of_thousands_is_planned_in_a_fixed_number_of_queries(demo, api_for):
    numbers = [container_number(n) for n in range(3000)]
    declare(demo, api_for, numbers[:40], meat=True, n=1)  # selected
    declare(demo, api_for, numbers[40:100], n=2)  # released, direct pickup
    declare(demo, api_for, numbers[100:400], n=3)  # released
    berth(demo.port_call)

    with CaptureQueriesContext(connection) as queries:
        written = diversion.diversion_plan(
            port_call_id=demo.port_call.pk,
            container_numbers=numbers,
            direct_pickup=set(numbers[40:100]),
        )

    assert len(written) == 3000
    assert len(queries) <= 15  # not one per container
    saved = diversion.lifts_saved(port_call_id=demo.port_call.pk)
    assert saved["by_destination"] == {
        "ship_side": 60,
        "inspection_area": 40,
        "yard": 2900,
        "direct_loading": 0,
    }
    assert (saved["lifts_traditional"], saved["lifts_with_diversion"], saved["lifts_saved"]) == (
        6000,
        5900,
        100,
    )
    assert len({i.sequence for i in written}) == 3000


# The call with its terminal and vessel; JIT off; the containers created and read (one
# statement); the released direct-pickup containers; the decisions; the access stages still
# holding their declarations (two-stage access); the existing instructions; one INSERT of
# instructions (an UPDATE besides when some changed); the terminal's webhook endpoint; the
# savepoint and its release. The same for 3 containers as for a vessel.
QUERIES_FOR_A_DIVERSION_PLAN = 11


@pytest.mark.parametrize("count", [3, 400])
def test_the_plan_of_a_berthed_call_takes_the_same_queries_whatever_its_size(
    demo, api_for, count, django_assert_num_queries
):
    numbers = [container_number(5000 + n) for n in range(count)]
    declare(demo, api_for, numbers[:2], meat=True, n=1)
    berth(demo.port_call)

    with django_assert_num_queries(QUERIES_FOR_A_DIVERSION_PLAN):
        written = diversion.diversion_plan(
            port_call_id=demo.port_call.pk, container_numbers=numbers
        )

    assert len(written) == count
    planned = {p.container_number: p.destination for p in written}
    assert [planned[n] for n in numbers[:2]] == ["inspection_area", "inspection_area"]


def test_planning_again_changes_nothing(demo, api_for):
    declare(demo, api_for, ["COSU6123451"], meat=True)
    first = diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=["COSU6123451", "OOLU6123458"]
    )

    again = diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=["COSU6123451", "OOLU6123458"]
    )

    assert [i.destination for i in first] == ["inspection_area", "yard"]
    assert again == []
    assert set(DiversionInstruction.objects.values_list("sequence", flat=True)) == {
        i.sequence for i in first
    }


def test_a_decision_after_berthing_updates_the_instruction_and_tells_the_terminal(demo, api_for):
    WebhookEndpoint.objects.create(
        organisation=demo.terminal.memberships.get().organisation,
        url="http://127.0.0.1:9/hook",
        secret="s3cret",
    )
    berth(demo.port_call)
    diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=["COSU6123451"])
    before = DiversionInstruction.objects.get()
    assert (before.destination, before.reason) == ("yard", "Not yet declared")

    declare(demo, api_for, ["COSU6123451"], meat=True)

    after = DiversionInstruction.objects.get()
    assert after.destination == "inspection_area"
    assert after.sequence > before.sequence
    delivery = WebhookDelivery.objects.last()
    assert delivery.event == "diversion.instructions_changed"
    assert delivery.payload["instructions"][0]["destination"] == "inspection_area"


def test_the_feed_pages_by_cursor_and_acknowledgements_need_the_current_sequence(demo, api_for):
    diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=["COSU6123451", "OOLU6123458"]
    )
    terminal = api_for(demo.terminal)

    page = terminal.get(FEED, {"after": 0}).json()
    empty = terminal.get(FEED, {"after": page["next_cursor"]}).json()
    first = page["results"][0]
    stale = terminal.post(
        f"{FEED}acknowledge/",
        {"instructions": [{"id": first["id"], "sequence": first["sequence"] - 1}]},
        format="json",
    )
    good = terminal.post(
        f"{FEED}acknowledge/",
        {"instructions": [{"id": first["id"], "sequence": first["sequence"]}]},
        format="json",
    )

    assert [r["container"] for r in page["results"]] == ["COSU6123451", "OOLU6123458"]
    assert empty == {"results": [], "next_cursor": page["next_cursor"]}
    assert stale.status_code == 400
    assert good.json() == {"acknowledged": 1}
    assert DiversionInstruction.objects.filter(acknowledged_sequence__isnull=False).count() == 1
    assert api_for(demo.importer).get(FEED, {"after": 0}).json()["results"] == []


def test_a_partly_stale_acknowledgement_changes_nothing(demo):
    written = diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=["COSU6123451", "OOLU6123458"]
    )

    with pytest.raises(InvalidInput):
        diversion.instructions_acknowledge(
            user=demo.terminal,
            acknowledgements=[
                {"id": written[0].pk, "sequence": written[0].sequence},
                {"id": written[1].pk, "sequence": 1},
            ],
        )

    assert (
        DiversionInstruction.objects.filter(acknowledged_sequence__isnull=False).exists() is False
    )


class _Receiver(http.server.BaseHTTPRequestHandler):
    """A terminal's webhook endpoint that fails its first `failures` calls."""

    failures = 0
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        status = 503 if len(type(self).received) <= type(self).failures else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    # Loopback is refused unless allowed, as for an on-premise terminal (port/outbound.py).
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1/32"]
    _Receiver.received, _Receiver.failures = [], 1
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/portwise", _Receiver
    server.shutdown()


def test_webhooks_are_signed_and_retried_until_delivered(
    demo, receiver, django_capture_on_commit_callbacks
):
    url, handler = receiver
    WebhookEndpoint.objects.create(
        organisation=demo.terminal.memberships.get().organisation, url=url, secret="s3cret"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=["COSU6123451"])
    delivery = WebhookDelivery.objects.get()
    assert len(callbacks) == 1  # the live push; the delivery task is an outbox row
    assert queued() == [("inspection.tasks.webhook_deliver_task", {"delivery_id": delivery.pk})]

    first = diversion.webhook_deliver(delivery_id=delivery.pk)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 503")
    assert diversion.webhook_deliver(delivery_id=delivery.pk).attempts == 1  # not due yet: not sent
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    second = diversion.webhook_deliver(delivery_id=delivery.pk)

    assert (second.status, second.attempts) == ("delivered", 2)
    headers, body = handler.received[-1]
    expected = hmac.new(
        b"s3cret", headers["X-Portwise-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Portwise-Signature"] == f"sha256={expected}"
    assert json.loads(body)["instructions"][0]["container"] == "COSU6123451"
    assert (
        diversion.webhook_deliver(delivery_id=delivery.pk).attempts == 2
    )  # delivered: never again


def test_a_webhook_that_keeps_failing_gives_up(demo, receiver):
    url, handler = receiver
    handler.failures = 100
    WebhookEndpoint.objects.create(
        organisation=demo.terminal.memberships.get().organisation, url=url, secret="s"
    )
    diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=["COSU6123451"])
    delivery = WebhookDelivery.objects.get()

    for _ in range(WebhookDelivery.MAX_ATTEMPTS):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        delivery = diversion.webhook_deliver(delivery_id=delivery.pk)

    assert (delivery.status, delivery.attempts) == ("failed", WebhookDelivery.MAX_ATTEMPTS)
    assert diversion.webhook_deliveries_due() == []


def test_a_selected_container_released_after_inspection_goes_to_the_yard_on_replan(demo, api_for):
    declare(demo, api_for, ["COSU6123451"], meat=True)
    decision = Decision.objects.get()
    from inspection import services

    services.decision_override(
        decision_id=decision.pk, officer=demo.officer, outcome="release", reason="Papers checked"
    )
    written = diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=["COSU6123451"]
    )

    assert written[0].destination == "yard"


def test_the_diversion_page_shows_lifts_saved_to_its_terminal_and_customs_only(
    demo, api_for, client
):
    declare(demo, api_for, ["COSU6123451"], meat=True)
    diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=["COSU6123451", "OOLU6123458"]
    )
    url = f"/inspection/calls/{demo.port_call.pk}/diversion/"

    client.force_login(demo.terminal)
    page = client.get(url).content.decode()
    client.force_login(demo.importer)
    refused = client.get(url)

    assert 'data-container="COSU6123451"' in page
    assert "1 (25.0 %)" in page  # 4 lifts the old way, 3 with diversion
    assert refused.status_code == 404


def test_berthing_plans_every_container_on_the_manifest(demo, api_for):
    from port.models import Berth, User
    from shipping import services as shipping_services
    from shipping.cargo import ManifestLineInput, manifest_add_lines

    declare(demo, api_for, ["COSU6123451"], meat=True)
    lines = [
        ManifestLineInput(bl_number="COSU6401234560", container_number=n)
        for n in ("COSU6123451", "OOLU6123458")
    ]
    manifest_add_lines(
        user=User.objects.get(username="agent"),
        port_call_id=demo.port_call.pk,
        lines=lines,
        source="api",
    )
    berth_id = Berth.objects.filter(terminal=demo.port_call.terminal).first().pk
    shipping_services.port_call_mark_berthed(
        port_call_id=demo.port_call.pk, user=demo.terminal, berth_id=berth_id
    )

    shipping_services.port_call_berthed_hook(
        port_call_id=demo.port_call.pk
    )  # what the berthing task runs
    shipping_services.port_call_berthed_hook(
        port_call_id=demo.port_call.pk
    )  # and again: nothing changes

    planned = dict(DiversionInstruction.objects.values_list("container__number", "destination"))
    assert planned == {"COSU6123451": "inspection_area", "OOLU6123458": "yard"}


def test_a_released_advance_import_declared_for_direct_pickup_goes_ship_side(demo, api_for):
    body = filing(
        demo.port_call.pk, containers=["COSU6123451"], is_advance=True, direct_delivery=True
    )
    created = api_for(demo.importer).post("/api/v1/declarations/", body, format="json")
    assert created.status_code == 201, created.json()
    assessment.assess_declarations(declaration_ids=[created.json()["id"]])

    written = diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=["COSU6123451", "OOLU6123458"]
    )

    assert {i.container_number: i.destination for i in written} == {
        "COSU6123451": "ship_side",
        "OOLU6123458": "yard",
    }


@pytest.mark.parametrize(
    ("items", "direct", "destination"),
    [(None, True, "direct_loading"), ("meat", False, "inspection_area")],
)
def test_an_export_at_gate_in_is_diverted_by_its_declaration(
    demo, api_for, items, direct, destination
):

    goods = (
        [{**MEAT_ITEM, "origin_country": "CN"}] if items == "meat" else [{**filing(0)["items"][0]}]
    )
    body = filing(
        demo.port_call.pk,
        containers=["TGHU6123458"],
        direction="export",
        enterprise=demo.exporter_org.pk,
        is_advance=True,
        direct_delivery=direct,
        items=goods,
    )
    created = api_for(demo.exporter).post("/api/v1/declarations/", body, format="json")
    assert created.status_code == 201, created.json()
    assessment.assess_declarations(declaration_ids=[created.json()["id"]])

    event = port_gate.gate_report(
        user=demo.terminal, container_number="TGHU6123458", direction="in"
    )

    assert event.allowed is True
    assert (
        DiversionInstruction.objects.get(container__number="TGHU6123458").destination == destination
    )


def test_a_terminal_sets_its_webhook_and_gets_a_fresh_secret_each_time(demo, api_for, public_dns):
    terminal = api_for(demo.terminal)

    first = terminal.post(
        "/api/v1/diversion/webhook/", {"url": "https://tos.haitian.example/portwise"}, format="json"
    )
    second = terminal.post(
        "/api/v1/diversion/webhook/", {"url": "https://tos.haitian.example/portwise"}, format="json"
    )
    bad = terminal.post("/api/v1/diversion/webhook/", {"url": "ftp://nope"}, format="json")
    refused = api_for(demo.importer).post(
        "/api/v1/diversion/webhook/", {"url": "https://x.example/"}, format="json"
    )

    assert first.status_code == 200
    assert len(first.json()["secret"]) == 64
    assert second.json()["secret"] != first.json()["secret"]
    assert WebhookEndpoint.objects.get().secret == second.json()["secret"]
    assert (bad.status_code, list(bad.json())) == (400, ["url"])
    assert refused.status_code == 403


@pytest.mark.slow
def test_manifest_lines_added_after_berthing_are_planned_by_the_worker(demo, celery_worker_process):
    import time

    from port.models import User
    from shipping.cargo import ManifestLineInput, manifest_add_lines

    berth(demo.port_call)

    manifest_add_lines(
        user=User.objects.get(username="agent"),
        port_call_id=demo.port_call.pk,
        lines=[ManifestLineInput(bl_number="COSU6401234560", container_number="OOLU6123458")],
        source="api",
    )

    deadline = time.monotonic() + 30
    while not DiversionInstruction.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    planned = dict(DiversionInstruction.objects.values_list("container__number", "destination"))
    assert planned == {"OOLU6123458": "yard"}
