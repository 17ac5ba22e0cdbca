"""Three health questions, three endpoints (an orchestrator asks each of its own):

- ``/livez``: does the process answer? Never touches a dependency, so a busy database or
  a dead worker never gets a web replica restarted.
- ``/readyz``: can this replica serve? The database answers. A load balancer takes a
  replica out of rotation while it is not ready.
- ``/healthz``: the whole system, for operators and monitors: database, each Redis role,
  Celery workers, beat, queue depths and the oldest unsent outbox row. 200 only when the
  database, Redis and a worker answer, beat is not stale, and no outbox row has waited
  longer than OUTBOX_STALE_SECONDS (the relay is down, or cannot reach the broker).
"""

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

BEAT_STALE_SECONDS = 60
OUTBOX_STALE_SECONDS = 60  # the relay sends within milliseconds; a minute means it cannot


@never_cache
@require_GET
def livez(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    database = _check_database()
    ready = database == "ok"
    return JsonResponse(
        {"status": "ok" if ready else "failing", "database": database},
        status=200 if ready else 503,
        headers=None if ready else {"Retry-After": "5"},
    )


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _check_database(), "redis": _check_redis(), "celery": _check_celery()}
    beat = _check_beat()
    outbox = _outbox_lag()
    healthy = (
        all(state == "ok" for state in checks.values())
        and not beat.startswith("stale")
        and not outbox.get("stale")
    )
    body = {
        "status": "ok" if healthy else "failing",
        **checks,
        "beat": beat,
        "redis_roles": _check_redis_roles(),
        "queues": _queue_depths(),
        "outbox": outbox,
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _error(error: Exception) -> str:
    return f"error: {error.__class__.__name__}"


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:  # noqa: BLE001 - a health check reports, it does not raise
        return _error(error)


def _ping(url: str) -> str:
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
        return "ok"
    except Exception as error:  # noqa: BLE001
        return _error(error)


def _check_redis() -> str:
    states = set(_check_redis_roles().values())
    return "ok" if states == {"ok"} else sorted(states - {"ok"})[0]


def _check_redis_roles() -> dict[str, str]:
    urls = {
        "broker": settings.BROKER_URL,
        "cache": settings.CACHES["default"]["LOCATION"],
        "channels": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"],
    }
    answers: dict[str, str] = {}
    return {role: answers.setdefault(url, _ping(url)) for role, url in urls.items()}


def _check_celery() -> str:
    from port.celery import all_queues, app

    # Only a worker that consumes this deployment's queues counts: another deployment's (or
    # test run's) workers on the same broker answer a ping too.
    try:
        replies = app.control.inspect(timeout=1.0).active_queues() or {}
    except Exception as error:  # noqa: BLE001
        return _error(error)
    ours = set(all_queues())
    serving = [
        worker
        for worker, queues in replies.items()
        if any(queue.get("name") in ours for queue in queues or [])
    ]
    if serving:
        return "ok"
    return (
        "error: no worker serves this deployment's queues"
        if replies
        else "error: no worker answered"
    )


def _check_beat() -> str:
    from port.beat import heartbeat_age
    from port.celery import app

    try:
        age = heartbeat_age(app)
    except Exception as error:  # noqa: BLE001
        return _error(error)
    if age is None:
        return "not seen yet"
    if age > BEAT_STALE_SECONDS:
        return f"stale: last tick {age:.0f} s ago"
    return "ok"


def _queue_depths() -> dict[str, int | str]:
    """Messages waiting per queue (kombu's Redis transport keeps a queue as a list)."""
    from port.celery import all_queues

    try:
        client = redis.Redis.from_url(settings.BROKER_URL, socket_timeout=1)
        pipe = client.pipeline()
        queues = all_queues()
        for queue in queues:
            pipe.llen(queue)
        return dict(zip(queues, pipe.execute(), strict=True))
    except Exception as error:  # noqa: BLE001
        return {"error": _error(error)}


def _outbox_lag() -> dict[str, float | int | str | None]:
    """How many outbox rows wait to be sent, and the age of the oldest, in seconds."""
    try:
        from port import outbox
    except ImportError:
        return {"pending": None}
    try:
        pending, oldest = outbox.backlog()
    except Exception as error:  # noqa: BLE001
        return {"error": _error(error)}
    age = None if oldest is None else round(time.time() - oldest.timestamp(), 1)
    return {"pending": pending, "oldest_seconds": age, "stale": (age or 0) > OUTBOX_STALE_SECONDS}
