"""The one WebSocket endpoint, over the real Redis channel layer.

The consumer reaches the database from another thread, so these tests commit
(transactional_db) instead of running inside one rolled-back transaction."""

import threading

from asgiref.sync import async_to_sync
from django.db import transaction

from declarations import events as declaration_events
from port import live
from tests.conftest import filing, websocket_for


def run(scenario, *args):
    return async_to_sync(scenario)(*args)


def test_an_anonymous_socket_is_closed(transactional_db):
    async def scenario(socket):
        return await socket.connect()

    assert run(scenario, websocket_for(None)) == (False, 4401)


def test_a_socket_closed_at_any_moment_leaves_no_consumer_behind(transactional_db):
    """Closing a socket cancels its consumer wherever it is in its wait on the channel layer.
    A cancellation swallowed on the way (redis-py's asyncio.wait_for on Python 3.11) once left
    consumers polling Redis forever, and hung the test run."""
    connections = 300

    async def scenario(socket):
        return await socket.connect()

    outcomes = []

    def connect_many():
        for _ in range(connections):
            outcomes.append(run(scenario, websocket_for(None)))

    client = threading.Thread(target=connect_many, daemon=True)
    client.start()
    client.join(timeout=60)

    assert not client.is_alive(), f"a consumer outlived its socket after {len(outcomes)} sockets"
    assert outcomes == [(False, 4401)] * connections


def test_subscribing_to_a_declaration_needs_it_to_be_yours(transactional_db, demo, api_for):
    created = api_for(demo.importer).post(
        "/api/v1/declarations/", filing(demo.port_call.pk), format="json"
    )
    key = str(created.json()["id"])

    async def scenario(socket):
        await socket.connect()
        await socket.send_json_to({"type": "subscribe", "topic": "declaration", "key": key})
        reply = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return reply

    assert run(scenario, websocket_for(demo.importer)) == {
        "type": "subscribed",
        "topic": "declaration",
        "key": key,
    }
    assert run(scenario, websocket_for(demo.exporter)) == {
        "type": "error",
        "reason": "not_found",
        "topic": "declaration",
        "key": key,
    }


def test_an_unknown_topic_or_message_is_refused(transactional_db, demo):
    async def scenario(socket):
        await socket.connect()
        await socket.send_json_to({"type": "subscribe", "topic": "everything", "key": "1"})
        unknown_topic = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "shout"})
        unknown_message = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return unknown_topic["reason"], unknown_message["reason"]

    assert run(scenario, websocket_for(demo.importer)) == ("not_found", "unknown_message")


def test_an_event_reaches_its_organisation_and_no_other(transactional_db, demo):
    event = {
        "type": "declaration.status_changed",
        "id": 1,
        "number": None,
        "status": "released",
        "status_label": "Released",
    }

    async def scenario(mine, theirs):
        await mine.connect()
        await theirs.connect()
        await publish()
        received = await mine.receive_json_from(timeout=5)
        nothing = await theirs.receive_nothing(timeout=1)
        await mine.disconnect()
        await theirs.disconnect()
        return received, nothing

    from channels.db import database_sync_to_async

    @database_sync_to_async
    def publish():
        with transaction.atomic():
            live.publish_on_commit(
                groups=[live.organisation_group(demo.importer_org.pk)], event=event
            )

    received, nothing = run(scenario, websocket_for(demo.importer), websocket_for(demo.exporter))
    assert received == event
    assert nothing is True


def test_a_live_event_must_be_json_and_typed(demo):
    import pytest

    with pytest.raises(ValueError, match="type"):
        live.publish_on_commit(groups=["org.1"], event={"id": 1})
    with pytest.raises(TypeError):
        live.publish_on_commit(groups=["org.1"], event={"type": "x", "bad": object()})


def test_declaration_event_schema(demo, api_for):
    from declarations.models import Declaration

    api_for(demo.importer).post("/api/v1/declarations/", filing(demo.port_call.pk), format="json")
    declaration = Declaration.objects.get()

    event = declaration_events.declaration_status_changed(declaration)

    assert set(event) == set(declaration_events.DeclarationStatusChanged.__annotations__)
    assert event["type"] == "declaration.status_changed"
    assert declaration_events.declaration_groups(declaration) == [
        f"declaration.{declaration.pk}",
        f"org.{demo.importer_org.pk}",
    ]
