"""The server of `python -m bench live`: the project's application, and beside it the peer,
`/ws/peer/`: channels' own path for a group message (a consumer with a channel of its own on
channels-redis's `RedisPubSubChannelLayer`, joined to the group, that forwards each
`live.frame` as it is). It is the path `port.consumers.LiveConsumer` took before the
process-local fan-out (port/fanout.py), with its one shortcut (no thread hop per message)."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer

from port.asgi import application as port_application

PEER_GROUP = "bench-peer"


class PeerConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        await self.channel_layer.group_add(PEER_GROUP, self.channel_name)
        await self.send(text_data=json.dumps({"type": "live.joined", "streams": {}}))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(PEER_GROUP, self.channel_name)

    async def dispatch(self, message) -> None:
        if message["type"] == "live.frame":
            await self.send(text_data=message["frame"])
            return
        await super().dispatch(message)


peer = PeerConsumer.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope["path"] == "/ws/peer/":
        return await peer(scope, receive, send)
    return await port_application(scope, receive, send)
