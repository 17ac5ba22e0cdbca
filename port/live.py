"""Live events: published to WebSocket groups after the transaction that caused them commits.

The timeline row is the truth; a push is best effort, and a page that missed one catches up
by re-fetching its partial. A push that fails (Redis down) is logged and dropped: it never
turns the committed change into an error, nor keeps the callbacks after it from running.

Apps register the topics a browser may subscribe to (`register_topic`), each with a
function that returns the group for a user, or None when the thing is not theirs.
"""

import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

log = logging.getLogger(__name__)

Authorise = Callable[[Any, str], str | None]
_topics: dict[str, Authorise] = {}


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
    """Push `event` to `groups` once the current transaction commits."""
    if "type" not in event:
        raise ValueError("A live event needs a type")
    # Round-trip now so a payload that cannot be sent fails where it was built.
    payload = json.loads(json.dumps(event, cls=DjangoJSONEncoder))
    _after_commit(_publish, tuple(groups), payload)


def _publish(groups: tuple[str, ...], payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    for group in groups:
        async_to_sync(layer.group_send)(group, {"type": "live.event", "event": payload})


def publish_many_on_commit(messages: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Push a batch's events, each `(groups, event)`, after commit: one callback and one
    event loop for the whole batch, not one per event."""
    if not messages:
        return
    payloads = []
    for groups, event in messages:
        if "type" not in event:
            raise ValueError("A live event needs a type")
        payloads.append((tuple(groups), json.loads(json.dumps(event, cls=DjangoJSONEncoder))))
    _after_commit(_publish_many, payloads)


def _after_commit(send: Callable[..., None], *args: Any) -> None:
    """Run `send(*args)` after commit, catching and logging its failure itself: Django's
    own `robust=True` logs `func.__qualname__`, which a functools.partial lacks, so the
    logging raised and the request answered 500 for a committed change."""

    def push() -> None:
        try:
            send(*args)
        except Exception as error:  # noqa: BLE001 - best effort: the timeline is the truth
            log.warning("live push not sent (%s: %s)", type(error).__name__, error)

    transaction.on_commit(push, robust=True)


def _publish_many(payloads: list[tuple[tuple[str, ...], dict[str, Any]]]) -> None:
    layer = get_channel_layer()

    async def send_all() -> None:
        for groups, payload in payloads:
            for group in groups:
                await layer.group_send(group, {"type": "live.event", "event": payload})

    async_to_sync(send_all)()
