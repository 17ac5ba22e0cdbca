"""A task lost with a dead worker is redone within seconds, whatever the queue.

Tasks are acknowledged late (CELERY_TASK_ACKS_LATE): on Redis, a message a worker took and
has not acknowledged sits in an "unacked" hash until the broker's visibility timeout passes.
One timeout for every queue cannot be right: EDIFACT and ERP imports run up to 900 s, so a
short one would hand a running import to a second worker, and a long one leaves a lost
assessment waiting for an hour. A prefork child killed mid-task is already requeued at once
by its parent (reject_on_worker_lost); this covers a whole worker process killed (SIGKILL,
OOM, a lost node).

So each worker keeps its own unacked hash (`unacked.<nodename>`, set at start-up through
kombu's transport options) and a heartbeat key that it refreshes every HEARTBEAT_SECONDS.
The outbox relay (port/outbox.py) looks every few seconds for unacked hashes whose worker
has no heartbeat, and puts their messages back on their queues. A worker restarted under the
same name (the supervisor of `make run`, a container restart) puts back its predecessor's
messages before it consumes anything. Redelivered tasks run again: every task is idempotent.

A worker whose broker connection drops and comes back (Redis restarted) drops what it held
and had not started (a countdown, a prefetched message): Celery expects the broker to
deliver those again, and on Redis they stay in the worker's unacked hash, which nobody
reclaims while the worker lives. So on every (re)connection the worker puts back the
messages of its hash that no running task holds (`RestoreOnConnect`). kombu's own restore
when the dead connection's channel closes is turned off: it cannot reach Redis then, and in
kombu 5.7 under Celery 5.7 it raised an AttributeError that stopped the worker's consumer.

Node names must be unique among live workers (Celery's `%h`: one per host or container).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import redis
from celery import bootsteps
from django.conf import settings

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TTL = 10  # seconds without a beat before a worker's messages go back
STARTUP_TTL = 120  # the first beat, written before consuming, covers the start-up
PREFIX = "portwise.worker."


def unacked_keys(nodename: str) -> dict[str, str]:
    """kombu's transport options that give the worker `nodename` its own unacked hash."""
    return {
        "unacked_key": f"unacked.{nodename}",
        "unacked_index_key": f"unacked_index.{nodename}",
        "unacked_mutex_key": f"unacked_mutex.{nodename}",
    }


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.BROKER_URL, socket_timeout=5, socket_connect_timeout=5)


def _heartbeat_key(nodename: str) -> str:
    return f"{PREFIX}{nodename}"


def restore(nodename: str | None, keep: set[str] = frozenset()) -> int:
    """Put every message in the unacked hash of `nodename` back on its queue, but those of
    the delivery tags in `keep`; None: the shared default hash (workers from before
    per-worker hashes), only past its timeout."""
    from port.celery import app

    options = dict(app.conf.broker_transport_options or {})
    if nodename is not None:
        options.update(unacked_keys(nodename))
    with app.connection_for_write(transport_options=options) as conn:
        channel = conn.default_channel
        client = channel.client
        if nodename is None:
            before = client.hlen(channel.unacked_key)
            channel.qos.restore_visible(num=None, interval=1)
            return before - client.hlen(channel.unacked_key)
        tags = [tag for tag in client.hkeys(channel.unacked_key) if tag.decode() not in keep]
        for tag in tags:
            channel.qos.restore_by_tag(tag, client)
        return len(tags)


def reclaim_dead() -> dict[str, int]:
    """Restore the messages of every worker whose heartbeat stopped: {nodename: count}."""
    client = _client()
    restored = {}
    for key in client.scan_iter(match="unacked_index.*", count=500):
        nodename = key.decode()[len("unacked_index.") :]
        if client.exists(_heartbeat_key(nodename)):
            continue
        count = restore(nodename)
        if count:
            log.warning("worker %s is gone: %d task(s) put back on their queues", nodename, count)
            restored[nodename] = count
    if client.exists("unacked_index"):
        count = restore(None)
        if count:
            restored[""] = count
    return restored


# --- in the worker -----------------------------------------------------------------------


def on_worker_init(sender: str, conf, **_kwargs) -> None:
    """celeryd_init: before the worker connects, take its own unacked hash, put back what a
    predecessor of the same name left there, and beat once."""
    nodename = str(sender)
    conf.broker_transport_options = {
        **(conf.broker_transport_options or {}),
        **unacked_keys(nodename),
    }
    try:
        _client().set(_heartbeat_key(nodename), "starting", ex=STARTUP_TTL)
        count = restore(nodename)
        if count:
            log.warning("%s: %d task(s) of its previous run put back", nodename, count)
    except redis.RedisError as error:  # the broker is down: the worker waits for it anyway
        log.warning("%s: heartbeat not written (%s)", nodename, error)


# Messages BRPOP handed to this worker that kombu could not record in the unacked hash
# (the connection dropped in between): (payload, exchange, routing key), pushed back on the
# next connection. Only the consumer's thread touches it.
_unrecorded: list[tuple[dict, str, str]] = []


def _record_or_keep(qos) -> None:
    """Wrap `qos.append`, kombu's write of a taken message into the unacked hash: when the
    broker is gone at that instant, keep the message to push back once connected again
    (kombu would drop it: BRPOP had already removed it from its queue)."""
    append = qos.append

    def append_or_keep(message, delivery_tag):
        try:
            append(message, delivery_tag)
        except Exception:
            info = message.delivery_info
            _unrecorded.append((message._raw, info["exchange"], info["routing_key"]))
            raise

    qos.append = append_or_keep


def _push_back_unrecorded(nodename: str) -> int:
    from port.celery import app

    options = {**(app.conf.broker_transport_options or {}), **unacked_keys(nodename)}
    count = 0
    with app.connection_for_write(transport_options=options) as conn:
        channel = conn.default_channel
        while _unrecorded:
            payload, exchange, routing_key = _unrecorded[0]
            channel._do_restore_message(payload, exchange, routing_key, channel.client)
            _unrecorded.pop(0)
            count += 1
    return count


class RestoreOnConnect(bootsteps.StartStopStep):
    """A consumer step: started on every connection to the broker, the first and each after
    a loss, before the worker consumes. Puts back the messages of the worker's own unacked
    hash that no running task holds: what it took and dropped when the connection was lost;
    and the messages taken in the instant the connection dropped, before kombu could record
    them in the hash. A running task keeps its message (acknowledged when it ends; run
    again if it ends while the broker is down and its acknowledgement is lost: tasks are
    idempotent)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c) -> None:
        from celery.worker.state import active_requests

        for channel in getattr(c.connection.transport, "channels", ()):
            channel.do_restore = False  # see the module's docstring; we restore here
            _record_or_keep(channel.qos)
        running = {str(request.message.delivery_tag) for request in tuple(active_requests)}
        # Beat before consuming: the start-up beat's long TTL would otherwise cover a worker
        # killed with a task in hand before it was ready, and its task would wait that long.
        _start_beating(c.hostname)
        try:
            count = _push_back_unrecorded(c.hostname) + restore(c.hostname, keep=running)
        except Exception as error:  # noqa: BLE001 - the broker went again: next connection
            log.warning("%s: held messages not put back (%s)", c.hostname, error)
            return
        if count:
            log.warning(
                "%s: %d message(s) held before the connection dropped put back", c.hostname, count
            )


def on_worker_ready(sender, **_kwargs) -> None:
    """worker_ready: beat every HEARTBEAT_SECONDS (begun already if the consumer started)."""
    _start_beating(sender.hostname)


_beating: set[str] = set()
_beating_lock = threading.Lock()


def _start_beating(nodename: str) -> None:
    """Beat now, and then every HEARTBEAT_SECONDS from a thread of the main process (once)."""
    with _beating_lock:
        if nodename in _beating:
            return
        _beating.add(nodename)
    with contextlib.suppress(redis.RedisError):
        _client().set(_heartbeat_key(nodename), "alive", ex=HEARTBEAT_TTL)
    threading.Thread(target=_beat, args=(nodename,), name="heartbeat", daemon=True).start()


def _beat(nodename: str) -> None:
    client = _client()
    key = _heartbeat_key(nodename)
    while True:
        # The broker is down: nothing is reclaimed meanwhile either.
        with contextlib.suppress(redis.RedisError):
            client.set(key, "alive", ex=HEARTBEAT_TTL)
        time.sleep(HEARTBEAT_SECONDS)
