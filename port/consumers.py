from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from port import live, observability, queries

CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """The one WebSocket endpoint, /ws/live/.

    On connect it joins the user's organisation groups; a page subscribes to more
    (`{"type": "subscribe", "topic": "declaration", "key": "12"}`), each authorised
    through the owning app's query. It forwards events and never writes business data.
    """

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined: set[str] = set()
        await self.accept()
        observability.WEBSOCKETS.inc()
        for organisation_id in await database_sync_to_async(queries.organisation_ids_for)(
            self.user
        ):
            await self._join(live.organisation_group(organisation_id))
        await self._join(live.user_group(self.user.pk))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "groups_joined"):  # accepted (an anonymous socket never was)
            observability.WEBSOCKETS.dec()
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)

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
        else:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.discard(group)
        await self.send_json({"type": f"{kind}d", "topic": topic, "key": key})

    async def live_event(self, message) -> None:
        await self.send_json(message["event"])

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)
