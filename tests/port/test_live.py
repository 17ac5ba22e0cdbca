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
        "stream": f"declaration.{key}",
        "seq": 0,
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


# -- numbered frames: one per group per commit, and what a page learns from a gap ----------


def _publish_in_one_transaction(messages):
    from channels.db import database_sync_to_async

    @database_sync_to_async
    def publish():
        with transaction.atomic():
            for groups, event in messages:
                live.publish_on_commit(groups=groups, event=event)

    return publish()


def test_a_transaction_sends_one_numbered_frame_per_group(transactional_db, demo):
    org = live.organisation_group(demo.importer_org.pk)
    other = live.organisation_group(demo.exporter_org.pk)
    events = [{"type": "x.changed", "id": i} for i in range(3)]

    async def scenario(socket):
        await socket.connect()
        before = socket.joined["streams"][org]
        await _publish_in_one_transaction([([org, other], e) for e in events])
        frame = await socket.receive_frame(timeout=5)
        nothing = await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return before, frame, nothing

    before, frame, nothing = run(scenario, websocket_for(demo.importer))
    assert frame == {"type": "live.events", "stream": org, "seq": before + 1, "events": events}
    assert nothing is True


def test_frames_of_a_group_are_numbered_one_after_another(transactional_db, demo):
    org = live.organisation_group(demo.importer_org.pk)

    async def scenario(socket):
        await socket.connect()
        start = socket.joined["streams"][org]
        for i in range(5):
            await _publish_in_one_transaction([([org], {"type": "x.changed", "id": i})])
        frames = [await socket.receive_frame(timeout=5) for _ in range(5)]
        await socket.disconnect()
        return start, frames

    start, frames = run(scenario, websocket_for(demo.importer))
    assert [f["seq"] for f in frames] == [start + 1 + i for i in range(5)]
    assert [f["events"][0]["id"] for f in frames] == [0, 1, 2, 3, 4]


def test_a_rolled_back_transaction_sends_nothing_and_numbers_nothing(transactional_db, demo):
    org = live.organisation_group(demo.importer_org.pk)

    class Refused(Exception):
        pass

    try:
        with transaction.atomic():
            live.publish_on_commit(groups=[org], event={"type": "x.changed"})
            raise Refused
    except Refused:
        pass
    before = live.sequences([org])[org]
    with transaction.atomic():
        live.publish_on_commit(groups=[org], event={"type": "x.kept"})

    assert live.sequences([org])[org] == before + 1


def test_a_large_batch_asks_the_page_to_refetch(transactional_db, demo):
    org = live.organisation_group(demo.importer_org.pk)
    many = [([org], {"type": "x.changed", "id": i}) for i in range(live.BATCH_EVENTS_MAX + 1)]

    async def scenario(socket):
        await socket.connect()
        await _publish_in_one_transaction(many)
        frame = await socket.receive_frame(timeout=5)
        await socket.disconnect()
        return frame

    frame = run(scenario, websocket_for(demo.importer))
    assert frame["events"] == [{"type": "live.resync", "events": live.BATCH_EVENTS_MAX + 1}]


def test_a_socket_that_was_away_sees_the_numbers_moved_on(transactional_db, demo):
    """A page that lost its socket while frames went out learns it on reconnecting: the
    numbers in `live.joined` are past the last frame it saw (live.js then re-fetches)."""
    org = live.organisation_group(demo.importer_org.pk)

    async def first_visit(socket):
        await socket.connect()
        await _publish_in_one_transaction([([org], {"type": "x.changed", "id": 1})])
        frame = await socket.receive_frame(timeout=5)
        await socket.disconnect()
        return frame["seq"]

    async def away_then_back(socket):
        await _publish_in_one_transaction([([org], {"type": "x.changed", "id": 2})])
        await socket.connect()
        joined = socket.joined["streams"][org]
        await socket.disconnect()
        return joined

    last_seen = run(first_visit, websocket_for(demo.importer))
    assert run(away_then_back, websocket_for(demo.importer)) == last_seen + 1


def test_a_frame_lost_on_the_way_shows_as_a_gap_in_the_numbers(transactional_db, demo):
    """Frames published while Redis had no subscriber for the group (a server process
    cut off from Redis) are lost; the next frame that arrives carries a number past the
    gap, and the page knows to re-fetch."""
    org = live.organisation_group(demo.importer_org.pk)

    async def scenario(socket):
        await socket.connect()
        start = socket.joined["streams"][org]
        await socket.send_json_to({"type": "unsubscribe", "topic": "_test_org", "key": org})
        await socket.receive_frame(timeout=5)  # unsubscribed: the process leaves the group
        await _publish_in_one_transaction([([org], {"type": "x.lost"})])
        await socket.send_json_to({"type": "subscribe", "topic": "_test_org", "key": org})
        await socket.receive_frame(timeout=5)
        await _publish_in_one_transaction([([org], {"type": "x.after"})])
        frame = await socket.receive_frame(timeout=5)
        await socket.disconnect()
        return start, frame

    live.register_topic("_test_org", lambda user, key: key)
    start, frame = run(scenario, websocket_for(demo.importer))
    assert frame["events"] == [{"type": "x.after"}]
    assert frame["seq"] == start + 2  # start + 1 never arrived


def test_events_of_one_transaction_publish_in_one_round_trip(transactional_db, demo):
    org = live.organisation_group(demo.importer_org.pk)
    user = live.user_group(demo.importer.pk)
    before = live.sequences([org, user])

    with transaction.atomic():
        live.publish_many_on_commit(
            [([org, user], {"type": "x.changed", "id": i}) for i in range(50)]
        )

    after = live.sequences([org, user])
    assert after == {org: before[org] + 1, user: before[user] + 1}


def test_a_group_name_that_could_break_the_frame_is_refused(demo):
    import pytest

    with pytest.raises(ValueError, match="group name"):
        live.publish_on_commit(groups=['org.1","x'], event={"type": "x"})


def test_a_push_that_cannot_reach_redis_is_logged_and_the_commit_stands(
    transactional_db, demo, settings, caplog
):
    from port.models import Organisation

    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {
            **layer,
            "CONFIG": {**layer["CONFIG"], "hosts": [{"address": "redis://127.0.0.1:1/0"}]},
        }
    }

    with transaction.atomic():
        Organisation.objects.filter(pk=demo.importer_org.pk).update(name="Renamed")
        live.publish_on_commit(groups=["org.1"], event={"type": "x.changed"})

    assert Organisation.objects.get(pk=demo.importer_org.pk).name == "Renamed"
    assert "live push not sent" in caplog.text
