from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from port import fanout, live, observability, queries

CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """The one WebSocket endpoint, /ws/live/.

    On connect it joins the user's organisation groups; a page subscribes to more
    (`{"type": "subscribe", "topic": "declaration", "key": "12"}`), each authorised
    through the owning app's query. It forwards events and never writes business data.

    Events arrive as frames already written (port/live.py numbers them per group), and go
    to the browser as they are, written by the process's fan-out (port/fanout.py) straight
    to the socket: the consumer has no channel of its own. On connect the browser learns each
    group's current number (`live.joined`), on subscribe the subscribed group's, so it can
    tell a gap.
    """

    # No channel layer: no channel, Redis subscription and receive task per socket.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined: set[str] = set()
        self.outbound = fanout.Socket(self.scope.get(fanout.SERVER_SEND, self.base_send))
        await self.accept()
        observability.WEBSOCKETS.inc()
        groups = [
            live.organisation_group(organisation_id)
            for organisation_id in await database_sync_to_async(queries.organisation_ids_for)(
                self.user
            )
        ]
        groups.append(live.user_group(self.user.pk))
        for group in groups:
            await self._join(group)
        # Read after joining: a frame numbered later than this reaches the socket.
        await self.send_json({"type": "live.joined", "streams": await _sequences(groups)})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "groups_joined"):  # accepted (an anonymous socket never was)
            observability.WEBSOCKETS.dec()
        for group in getattr(self, "groups_joined", set()):
            await fanout.fanout().leave(group, self.outbound)

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind not in {"subscribe", "unsubscribe"}:
            await self.send_json({"type": "error", "reason": "unknown_message"})
            return
        topic, key = str(content.get("topic", "")), str(content.get("key", ""))
        group = await database_sync_to_async(live.group_for_subscription)(self.user, topic, key)
        if group is None:
            await self.send_json(
                {"type": "error", "reason": "not_found", "topic": topic, "key": key}
            )
            return
        if kind == "subscribe":
            await self._join(group)
            sequence = (await _sequences([group]))[group]
            await self.send_json(
                {"type": "subscribed", "topic": topic, "key": key, "stream": group, "seq": sequence}
            )
            return
        await fanout.fanout().leave(group, self.outbound)
        self.groups_joined.discard(group)
        await self.send_json({"type": "unsubscribed", "topic": topic, "key": key})

    async def _join(self, group: str) -> None:
        self.groups_joined.add(group)
        await fanout.fanout().join(group, self.outbound)


# A Redis read off the event loop, and off the one thread database calls share.
_sequences = sync_to_async(live.sequences, thread_sensitive=False)
