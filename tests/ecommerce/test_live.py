from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from tests.conftest import websocket_for
from tests.ecommerce import factories
from tests.ecommerce.conftest import file_parcels
from tests.ecommerce.factories import parcel


def test_a_decided_batch_reaches_its_declarant_and_platform_once_and_nobody_else(transactional_db):
    ec = factories.world()
    alice, platform, bob = (
        websocket_for(ec.alice),
        websocket_for(ec.platform_user),
        websocket_for(ec.bob),
    )

    async def scenario():
        for socket in (alice, platform, bob):
            await socket.connect()
        await database_sync_to_async(file_parcels)(ec, [parcel(1), parcel(2), parcel(3)])
        seen = [
            await alice.receive_json_from(timeout=5),
            await platform.receive_json_from(timeout=5),
        ]
        quiet = [await alice.receive_nothing(timeout=0.5), await bob.receive_nothing(timeout=0.5)]
        for socket in (alice, platform, bob):
            await socket.disconnect()
        return seen, quiet

    seen, quiet = async_to_sync(scenario)()
    assert seen == [{"type": "ecommerce.lists_decided", "counts": {"released": 3}}] * 2
    assert quiet == [True, True]  # one message for the batch; none for another enterprise


def test_only_customs_and_the_site_subscribe_to_the_board(transactional_db):
    ec = factories.world()

    async def reply(socket, topic):
        await socket.connect()
        await socket.send_json_to({"type": "subscribe", "topic": topic, "key": "all"})
        answer = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return answer["type"]

    def run(user, topic):
        return async_to_sync(reply)(websocket_for(user), topic)

    assert run(ec.officer, "ecommerce_board") == "subscribed"
    assert run(ec.operator, "ecommerce_board") == "subscribed"
    assert run(ec.alice, "ecommerce_board") == "error"
    assert run(ec.officer, "ecommerce_queue") == "subscribed"
    assert run(ec.alice, "ecommerce_queue") == "error"
