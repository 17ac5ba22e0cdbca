"""Celery beat that is safe to run on two hosts: only the holder of a lock in Redis sends.

Each beat tries, at every tick, to take or keep the leader key (``SET NX PX`` with a short
lifetime, refreshed while held). The other beat sleeps and takes over within
``LEASE_SECONDS`` after the leader dies. The leader also writes a heartbeat, which the
system status (`/healthz`) reads.
"""

import logging
import os
import socket
import time

import redis
from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

LEASE_SECONDS = 15
IDLE_TICK = 2.0  # how often a standby beat asks for the lock


def _keys(app) -> tuple[str, str]:
    base = f"{app.conf.task_default_queue}:beat"
    return f"{base}:leader", f"{base}:heartbeat"


def heartbeat_age(app) -> float | None:
    """Seconds since the leading beat last ticked, or None if no beat ever did."""
    _, heartbeat = _keys(app)
    value = redis.Redis.from_url(settings.BROKER_URL, socket_timeout=1).get(heartbeat)
    return None if value is None else max(0.0, time.time() - float(value))


class LeaderScheduler(PersistentScheduler):
    def __init__(self, *args, **kwargs):
        self._me = f"{socket.gethostname()}:{os.getpid()}"
        self._redis = redis.Redis.from_url(settings.BROKER_URL, socket_timeout=2)
        self._leading = False
        super().__init__(*args, **kwargs)

    def _lead(self) -> bool:
        leader, heartbeat = _keys(self.app)
        ttl = int(LEASE_SECONDS * 1000)
        try:
            if self._redis.set(leader, self._me, nx=True, px=ttl):
                leading = True
            elif self._redis.get(leader) == self._me.encode():
                self._redis.pexpire(leader, ttl)
                leading = True
            else:
                leading = False
            if leading:
                self._redis.set(heartbeat, str(time.time()), ex=24 * 3600)
        except redis.RedisError as error:
            logger.warning("beat: Redis unreachable (%s); not sending this tick", error)
            leading = False
        if leading != self._leading:
            logger.info("beat %s %s", self._me, "leads" if leading else "stands by")
            self._leading = leading
        return leading

    def tick(self, *args, **kwargs):
        if not self._lead():
            return IDLE_TICK
        return min(super().tick(*args, **kwargs), LEASE_SECONDS / 3)
