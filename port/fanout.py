"""Live frames to the sockets of this server process: one Redis subscription per group, and
each frame written to every local socket of its group as it arrives.

`port.live` publishes one numbered frame per group on the group's PubSub channel (the one
channels-redis's `RedisPubSubChannelLayer` would use). Each event loop of a server process
holds one `Fanout`: one Redis PubSub connection, subscribed to a group's channel while a
socket of the loop is in the group, and a registry of the sockets by group. A frame is
unpacked once and its ASGI message built once, then handed to each socket's send directly:
no channel per socket, no queue, task or wake-up per socket per frame (the channel layer's
path cost all three for every socket, py-spy).

A socket's send that cannot finish at once (its transport's buffer is full: a slow reader)
finishes in a task of its own, and that socket's later frames queue behind it, in order;
the other sockets are not held up. A frame that never reaches a process (its subscription
cut, Redis restarted) is lost, and the socket learns it from the next frame's number
(`port/static/js/live.js` re-fetches). After its last socket leaves, a loop's connection
closes.
"""

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgpack
import redis.asyncio as aioredis

from port import live

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

# Frames a socket that does not read may have queued before only each group's newest is kept.
BACKLOG_MAX = 200

_fanouts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout]" = (
    weakref.WeakKeyDictionary()
)


# uvicorn's options for the live sockets (`make run`, the Dockerfile, the benches): no
# per-message deflate. Each socket compressed each frame on its own (a zlib context per
# socket), about a third of the fan-out's time (py-spy), for frames of a few hundred bytes.
UVICORN_WEBSOCKET_OPTIONS = ["--ws-per-message-deflate", "false"]

# The scope key under which `with_server_send` keeps the server's own send.
SERVER_SEND = "port.server_send"


def with_server_send(application):
    """Keep the server's `send` in the scope, for the fan-out to write frames with.

    channels' session middleware wraps `send` to save a modified session on an HTTP
    response, which a WebSocket never sends; the wrapper (reading the lazy session twice per
    message) cost about a sixth of the fan-out's time, per socket per frame (py-spy). No
    middleware of the WebSocket stack changes a `websocket.send`."""

    async def keeping_send(scope, receive, send):
        return await application({**scope, SERVER_SEND: send}, receive, send)

    return keeping_send


def fanout() -> "Fanout":
    """The running event loop's fan-out."""
    loop = asyncio.get_running_loop()
    current = _fanouts.get(loop)
    if current is None:
        config = live._layer_config()
        current = _fanouts[loop] = Fanout(
            config["hosts"][0]["address"], config.get("prefix", "asgi")
        )
    return current


class Socket:
    """One WebSocket's outbound side: frames are written now, or queued behind a send of
    this socket that is still waiting for its buffer to drain.

    A socket that stops reading keeps at most `BACKLOG_MAX` frames queued: beyond it the
    queue keeps only the newest frame of each group, whose number then skips the dropped
    ones, so the page re-fetches rather than the process holding frames without end."""

    __slots__ = ("send", "_backlog", "_drainer")

    def __init__(self, send: Send):
        self.send = send
        self._backlog: deque[tuple[str, dict[str, Any]]] | None = None  # while a send waits
        self._drainer: asyncio.Future | None = None

    def push(self, group: str, message: dict[str, Any]) -> None:
        if self._backlog is not None:
            self._backlog.append((group, message))
            if len(self._backlog) > BACKLOG_MAX:
                self._backlog = _newest_per_group(self._backlog)
            return
        rest = _start(self.send(message))
        if rest is not None:
            self._backlog = deque()
            self._drainer = asyncio.ensure_future(self._drain(rest))

    async def _drain(self, rest: Awaitable[None]) -> None:
        try:
            await rest
            while self._backlog:
                await self.send(self._backlog.popleft()[1])
        except Exception as error:  # noqa: BLE001 - a closed socket: its consumer leaves
            log.debug("live frame not written (%s)", error)
        finally:
            self._backlog = None
            self._drainer = None


def _newest_per_group(backlog: deque) -> deque:
    newest: dict[str, dict[str, Any]] = {}
    for group, message in backlog:
        newest.pop(group, None)  # keep the order of the newest frames
        newest[group] = message
    return deque(newest.items())


class Fanout:
    def __init__(self, address: str, prefix: str):
        self.address = address
        self.prefix = prefix
        self.members: dict[str, set[Socket]] = {}  # PubSub channel -> this loop's sockets
        self._subscribed: dict[str, asyncio.Future] = {}  # channel -> its SUBSCRIBE confirmed
        self._redis: aioredis.Redis | None = None
        self._pubsub = None
        self._reader: asyncio.Task | None = None

    def channel(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"

    async def join(self, group: str, socket: Socket) -> None:
        """Add `socket` to `group`; returns once Redis has confirmed the subscription, so
        every frame published after this returns reaches the socket."""
        channel = self.channel(group)
        members = self.members.get(channel)
        if members is None:
            members = self.members[channel] = set()
            self._subscribed[channel] = asyncio.get_running_loop().create_future()
            if self._pubsub is None:
                self._redis = aioredis.Redis.from_url(self.address)
                self._pubsub = self._redis.pubsub()
            try:
                await self._pubsub.subscribe(channel)
            except BaseException:
                del self.members[channel]
                self._subscribed.pop(channel).cancel()  # the sockets waiting on it fail too
                raise
            if self._reader is None:
                self._reader = asyncio.ensure_future(self._read())
        members.add(socket)
        confirmed = self._subscribed.get(channel)
        if confirmed is not None:
            await asyncio.shield(confirmed)

    async def leave(self, group: str, socket: Socket) -> None:
        channel = self.channel(group)
        members = self.members.get(channel)
        if members is None or socket not in members:
            return
        members.discard(socket)
        if members:
            return
        del self.members[channel]
        self._subscribed.pop(channel, None)
        if self.members:
            await self._pubsub.unsubscribe(channel)
        else:
            await self._close()

    async def _close(self) -> None:
        reader, pubsub, client = self._reader, self._pubsub, self._redis
        self._reader = self._pubsub = self._redis = None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if pubsub is not None:
            await pubsub.aclose()
        if client is not None:
            await client.aclose()

    async def _read(self) -> None:
        pubsub = self._pubsub
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - Redis away: frames lost, numbers tell
                log.warning("live subscription interrupted (%s: %s)", type(error).__name__, error)
                await asyncio.sleep(1)
                continue
            if message is not None:
                self._receive(message)

    def _receive(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        if message["type"] == "subscribe":
            confirmed = self._subscribed.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
            return
        if message["type"] != "message" or channel not in self.members:
            return
        body = msgpack.unpackb(message["data"])
        if body.get("type") != "live.frame":
            log.warning("not a live frame on %s: %r", channel, body.get("type"))
            return
        outgoing = {"type": "websocket.send", "text": body["frame"]}
        group = channel.removeprefix(f"{self.prefix}__group__")
        for socket in tuple(self.members[channel]):
            try:
                socket.push(group, outgoing)
            except Exception as error:  # noqa: BLE001 - a closed socket: its consumer leaves
                log.debug("live frame not written (%s)", error)


def _start(coroutine: Coroutine) -> Awaitable[None] | None:
    """Run `coroutine` up to its first suspension, now. None when it finished (a send to a
    socket whose buffer has room does not suspend); otherwise an awaitable of the rest."""
    try:
        waiting_for = coroutine.send(None)
    except StopIteration:
        return None
    return _Rest(coroutine, waiting_for)


class _Rest:
    """The rest of a coroutine that suspended on `waiting_for`, awaitable from a task: the
    task waits on what the coroutine waited on, then resumes the coroutine."""

    def __init__(self, coroutine: Coroutine, waiting_for: Any):
        self.coroutine = coroutine
        self.waiting_for = waiting_for

    def __await__(self):
        coroutine, waiting_for = self.coroutine, self.waiting_for
        while True:
            try:
                yield waiting_for
            except BaseException as error:  # noqa: BLE001 - handed to the coroutine
                resume = coroutine.throw
                argument: Any = error
            else:
                resume = coroutine.send
                argument = None
            try:
                waiting_for = resume(argument)
            except StopIteration as stop:
                return stop.value
