"""A dashboard update reaches connected dashboards over /ws/live/ and the real Redis
channel layer, each within its scope. These tests commit (transactional_db): the consumer
reads the database from another thread, and events are sent after commit."""

import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from analytics import services
from analytics.events import dashboard_updated
from analytics.tasks import rollups_consume_task
from declarations import services as declaration_services
from port.models import TimelineEvent
from tests.analytics.test_services import TILES, file
from tests.conftest import container_number, websocket_for


def file_without_deciding(demo):
    """A filing as a user makes it: the assessment is left to the worker."""
    return declaration_services.declaration_file(
        user=demo.importer,
        enterprise_id=None,
        port_call_id=demo.port_call.pk,
        bl_number="COSU77001234",
        container_numbers=[container_number(77001)],
        items=[TILES],
    )


def run(scenario, *args):
    return async_to_sync(scenario)(*args)


async def subscribe(socket, key: str) -> dict:
    await socket.connect()
    await socket.send_json_to({"type": "subscribe", "topic": "dashboard", "key": key})
    return await socket.receive_json_from(timeout=5)


async def next_dashboard_event(socket) -> dict:
    """The next dashboard event; an enterprise also hears its declarations' own events."""
    while True:
        event = await socket.receive_json_from(timeout=5)
        if event["type"].startswith("analytics."):
            return event


def test_who_may_subscribe_to_which_dashboard(transactional_db, demo):
    own = str(demo.importer_org.pk)
    other = str(demo.exporter_org.pk)

    async def scenario(socket, key):
        reply = await subscribe(socket, key)
        await socket.disconnect()
        return reply["type"]

    def reply(user, key):
        return run(scenario, websocket_for(user), key)

    assert reply(demo.officer, "port") == "subscribed"
    assert reply(demo.terminal, "port") == "subscribed"
    assert reply(demo.officer, own) == "error"  # the port view is the port group
    assert reply(demo.importer, own) == "subscribed"
    assert reply(demo.importer, "port") == "error"
    assert reply(demo.importer, other) == "error"
    assert reply(demo.broker, own) == "error"


def test_consuming_new_events_updates_the_port_and_the_owner_dashboards(transactional_db, demo):
    # given: the customs office on the port view, both enterprises on their own
    port, importer, exporter = (
        websocket_for(demo.officer),
        websocket_for(demo.importer),
        websocket_for(demo.exporter),
    )

    async def scenario():
        await subscribe(port, "port")
        await subscribe(importer, str(demo.importer_org.pk))
        await subscribe(exporter, str(demo.exporter_org.pk))
        # when: the importer files, and the beat task's service folds the events in
        await sync_to_async(file)(demo, [TILES])
        consumed = await sync_to_async(services.rollups_consume)()
        received = [await next_dashboard_event(port), await next_dashboard_event(importer)]
        nothing = await exporter.receive_nothing(timeout=1)
        for socket in (port, importer, exporter):
            await socket.disconnect()
        return consumed, received, nothing

    consumed, received, nothing = run(scenario)

    # then
    assert consumed == 4
    assert received == [dashboard_updated(4), dashboard_updated(4)]
    assert received[0] == {"type": "analytics.dashboard_updated", "events": 4}
    assert nothing is True


def test_nothing_new_sends_nothing(transactional_db, demo):
    socket = websocket_for(demo.officer)

    async def scenario():
        await subscribe(socket, "port")
        consumed = await sync_to_async(services.rollups_consume)()
        nothing = await socket.receive_nothing(timeout=1)
        await socket.disconnect()
        return consumed, nothing

    assert run(scenario) == (0, True)


@pytest.mark.slow
def test_the_beat_task_in_a_real_worker_updates_a_connected_dashboard(
    demo, celery_worker_process, api_for
):
    # given: the port view connected, and a filing the worker has decided
    socket = websocket_for(demo.officer)
    file_and_wait = sync_to_async(_file_and_wait_for_decision)

    async def scenario():
        await subscribe(socket, "port")
        await file_and_wait(demo)
        # when: what beat sends every few seconds
        await sync_to_async(rollups_consume_task.delay)()
        event = await next_dashboard_event(socket)
        await socket.disconnect()
        return event

    event = run(scenario)

    # then
    assert event["type"] == "analytics.dashboard_updated"
    tables = api_for(demo.officer).get("/api/v1/analytics/dashboard/").json()["tables"]
    activity = {r["metric"]: r["count"] for r in tables[0]["rows"]}
    assert activity["declaration.filed"] == 1
    assert activity["declaration.status_changed:released"] == 1


def _file_and_wait_for_decision(demo) -> None:
    declaration = file_without_deciding(demo)
    deadline = time.monotonic() + 30
    while not TimelineEvent.objects.filter(
        kind="declaration.status_changed", subject_id=declaration.pk, data__to="released"
    ).exists():
        assert time.monotonic() < deadline, "the worker did not decide the filing"
        time.sleep(0.2)
