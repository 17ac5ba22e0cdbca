"""Live events: published to WebSocket groups after the transaction that caused them commits.

The timeline row is the truth; a push is best effort, and a page that missed one catches up
by re-fetching its partial. A push that fails (Redis down) is logged and dropped: it never
turns the committed change into an error, nor keeps the callbacks after it from running.
A page knows it missed a push by the numbers:

- **One message per group per transaction.** Every event published inside a transaction
  is held until it commits; then each group gets one frame listing its events (a batch
  larger than `BATCH_EVENTS_MAX` becomes one `live.resync`: re-fetch, rather than a
  megabyte of events).
- **A sequence per group.** One Lua script per commit increments each group's counter in
  Redis and publishes the frame, numbered, on the group's channel of channels-redis's
  PubSub layer, atomically: frames of one group leave Redis in the order of their numbers.
  The browser (port/static/js/live.js) compares each frame's number with the last it saw:
  anything but the next one means frames were lost (a socket cut off, a subscriber Redis
  dropped), and the page re-fetches. On connecting, the consumer sends each group's current
  number (`live.joined`), so a reconnect that missed frames re-fetches too.
- **Fan-out inside each server process.** port/fanout.py subscribes a server process once
  per group and writes each frame to every socket of that group in the process: one
  PUBLISH per group, however many sockets listen, and one unpacking per process.

Apps register the topics a browser may subscribe to (`register_topic`), each with a
function that returns the group for a user, or None when the thing is not theirs.

The browser frame: `{"type": "live.events", "stream": "org.3", "seq": 17, "events": [...]}`.
"""

import json
import logging
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

log = logging.getLogger(__name__)

Authorise = Callable[[Any, str], str | None]
_topics: dict[str, Authorise] = {}

# A group's frame lists at most this many events; a larger batch asks the page to re-fetch.
BATCH_EVENTS_MAX = 100
# A group's counter lives this long after its last frame (declaration groups come and go).
SEQUENCE_TTL_S = 7 * 24 * 3600
# channels' own rule for group names; the script writes the name into JSON unescaped.
GROUP_NAME = re.compile(r"^[a-zA-Z\d\-_.]{1,99}$")

# KEYS: per group, its counter and its PubSub channel. ARGV: the counters' time to live,
# then per group its name and its events as JSON. The message is what channels-redis's
# msgpack serializer would write for {"type": "live.frame", "frame": ...}.
PUBLISH_SCRIPT = """
local ttl = tonumber(ARGV[1])
local numbers = {}
for i = 1, #KEYS / 2 do
    local seq = redis.call('INCR', KEYS[2 * i - 1])
    redis.call('EXPIRE', KEYS[2 * i - 1], ttl)
    local frame = '{"type":"live.events","stream":"' .. ARGV[2 * i] .. '","seq":' .. seq
        .. ',"events":' .. ARGV[2 * i + 1] .. '}'
    redis.call('PUBLISH', KEYS[2 * i], cmsgpack.pack({type = 'live.frame', frame = frame}))
    numbers[i] = seq
end
return numbers
"""


def organisation_group(organisation_id: int) -> str:
    return f"org.{organisation_id}"


def user_group(user_id: int) -> str:
    """One person's own events (their notifications); every socket of theirs joins it."""
    return f"user.{user_id}"


def register_topic(name: str, authorise: Authorise) -> None:
    _topics[name] = authorise


def group_for_subscription(user, topic: str, key: str) -> str | None:
    """The group a user may join for (topic, key), or None when refused."""
    authorise = _topics.get(topic)
    if authorise is None:
        return None
    return authorise(user, key)


def publish_on_commit(*, groups: list[str], event: dict[str, Any]) -> None:
    """Push `event` to `groups` once the current transaction commits, in the one frame per
    group that carries every event of the transaction."""
    payload = _checked(event)
    for group in groups:
        if not GROUP_NAME.match(group):
            raise ValueError(f"Not a group name: {group!r}")
    pending = _pending_frames()
    for group in groups:
        pending.setdefault(group, []).append(payload)
    if _transaction_key() is None:  # autocommit: nothing to wait for
        transaction.on_commit(_pusher(pending), robust=True)


def publish_many_on_commit(messages: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Push a batch's events, each `(groups, event)`, after commit."""
    for groups, event in messages:
        publish_on_commit(groups=groups, event=event)


def _checked(event: dict[str, Any]) -> dict[str, Any]:
    if "type" not in event:
        raise ValueError("A live event needs a type")
    # Round-trip now so a payload that cannot be sent fails where it was built.
    return json.loads(json.dumps(event, cls=DjangoJSONEncoder))


def _pending_frames() -> dict[str, list[dict[str, Any]]]:
    """The events waiting for this transaction's commit, by group.

    The first event of a transaction registers one on-commit callback that sends them all;
    the connection remembers it while the callback is still registered (a rollback drops
    the callback, and the next transaction starts afresh)."""
    key = _transaction_key()
    if key is None:
        return {}
    current = getattr(connection, "_live_pending", None)
    if current is not None and current[0] == key:
        _key, frames, callback = current
        if any(entry[1] is callback for entry in connection.run_on_commit):
            return frames
    frames: dict[str, list[dict[str, Any]]] = {}
    callback = _pusher(frames)
    connection._live_pending = (key, frames, callback)
    transaction.on_commit(callback, robust=True)
    return frames


def _transaction_key() -> tuple | None:
    """The outermost atomic block that is the code's own, with its savepoint: under a
    test case's transaction, each service's block counts as the transaction it is in
    production. None outside a transaction."""
    for level, block in enumerate(connection.atomic_blocks):
        if not block._from_testcase:
            return (id(block), connection.savepoint_ids[level - 1] if level else None)
    return None


def _pusher(frames: dict[str, list[dict[str, Any]]]) -> Callable[[], None]:
    """The after-commit callback sending `frames`; it catches and logs its own failure
    (Django's `robust=True` logs `func.__qualname__`, which a functools.partial lacks, so
    the logging raised and the request answered 500 for a committed change)."""

    def push() -> None:
        connection._live_pending = None
        try:
            publish_frames(frames)
        except Exception as error:  # noqa: BLE001 - best effort: the timeline is the truth
            log.warning("live push not sent (%s: %s)", type(error).__name__, error)

    return push


def publish_frames(frames: dict[str, list[dict[str, Any]]]) -> list[int]:
    """Number and publish one frame per group, in one round trip; return the numbers."""
    if not frames:
        return []
    config = _layer_config()
    prefix = config.get("prefix", "asgi")
    keys: list[str] = []
    args: list[Any] = [SEQUENCE_TTL_S]
    for group, events in frames.items():
        keys += [sequence_key(prefix, group), f"{prefix}__group__{group}"]
        if len(events) > BATCH_EVENTS_MAX:
            events = [{"type": "live.resync", "events": len(events)}]
        args += [group, json.dumps(events, separators=(",", ":"))]
    return _script(config["hosts"][0]["address"])(keys=keys, args=args)


def sequences(groups: list[str]) -> dict[str, int]:
    """Each group's current number (0 before its first frame)."""
    if not groups:
        return {}
    config = _layer_config()
    prefix = config.get("prefix", "asgi")
    values = _redis(config["hosts"][0]["address"]).mget([sequence_key(prefix, g) for g in groups])
    return {g: int(v or 0) for g, v in zip(groups, values, strict=True)}


def sequence_key(prefix: str, group: str) -> str:
    return f"{prefix}:live-seq:{group}"


def _layer_config() -> dict[str, Any]:
    layer = settings.CHANNEL_LAYERS["default"]
    config = layer.get("CONFIG", {})
    if not layer["BACKEND"].endswith("RedisPubSubChannelLayer") or set(config) - {
        "hosts",
        "prefix",
    }:
        raise ImproperlyConfigured(
            "port.live publishes to channels-redis's RedisPubSubChannelLayer with its default "
            "msgpack serializer, configured by hosts and prefix only"
        )
    return config


@cache
def _redis(address: str) -> redis.Redis:
    return redis.Redis.from_url(address)


@cache
def _script(address: str):
    return _redis(address).register_script(PUBLISH_SCRIPT)
