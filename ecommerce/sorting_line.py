"""The sorting line's answer, served beside Django rather than through it.

At the supervision site every scanned parcel asks `GET|POST /api/v1/ecommerce/sorting/<waybill>/`
and must be answered within milliseconds, 200 times a second. The answer is already
decided: the list's status, written when its batch was decided (or by an officer). So the
request path does only this:

- the token (`Authorization: Token <key>`) is checked once through Django's own
  authentication and `queries.may_scan`, and remembered in this process until the earlier
  of AUTH_TTL_S and the token's expiry; every scan still checks in SQL that the key exists,
  so a revoked token stops at once (a removed membership after at most AUTH_TTL_S);
- one SQL statement, on a small async psycopg pool of this process, reads the list's status
  by the waybill's unique index, turns it into the instruction (`queries.INSTRUCTION`) and,
  for a POST, records the scan in the same statement (`synchronous_commit = off`: a crash may
  lose the last fraction of a second of scan records, never a list's status).

Anything else (no token, a session, an unknown or refused token, a user who may not scan, a
waybill number too long, another method) goes to Django's view (`api.sorting`) unchanged,
with its JSON errors: this path only ever answers the requests that view would answer 200.
Django's middleware (request ids, metrics, security headers) does not run here; the answer
sets `nosniff` and `no-store` itself.
"""

import asyncio
import json
import re
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from psycopg.conninfo import make_conninfo

from ecommerce import queries
from ecommerce.models import InventoryList, SortingScan

PATH = re.compile(r"^/api/v1/ecommerce/sorting/([^/]{1,40})/$")
AUTH_TTL_S = 30.0
POOL_MAX_SIZE = 4


def _instruction_sql() -> str:
    cases = " ".join(
        f"WHEN '{status}' THEN '{answer}'" for status, answer in queries.INSTRUCTION.items()
    )
    return (
        f"COALESCE((SELECT CASE status {cases} END FROM {InventoryList._meta.db_table} "  # noqa: S608
        f"WHERE waybill_no = %(waybill)s), '{queries.NOT_DECLARED}')"
    )


_TOKEN_EXISTS = "EXISTS (SELECT 1 FROM authtoken_token WHERE key = %(key)s)"
ASK = f"SELECT {_instruction_sql()} WHERE {_TOKEN_EXISTS}"
# Our table names in the text; the values are parameters.
SCAN = (
    f"WITH answer AS (SELECT {_instruction_sql()} AS instruction WHERE {_TOKEN_EXISTS}), "  # noqa: S608
    f"scan AS (INSERT INTO {SortingScan._meta.db_table} (waybill_no, instruction, scanned_at) "
    "SELECT %(waybill)s, instruction, now() FROM answer) SELECT instruction FROM answer"
)
HEADERS = [
    (b"content-type", b"application/json"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


class SortingLine:
    """ASGI middleware: answers the sorting line's scans, passes everything else to `app`."""

    def __init__(self, app):
        self.app = app
        self.allowed: dict[str, float] = {}  # token key -> monotonic time the permission lapses
        self._pool = None
        self._pool_loop = None

    async def __call__(self, scope, receive, send):
        match = PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        key = _token_key(scope) if match and scope["method"] in ("GET", "POST") else None
        if key is None or not await self._may_scan(key):
            return await self.app(scope, receive, send)
        await _drain(receive)
        waybill = match.group(1)
        pool = await self._the_pool()
        async with pool.connection() as conn:
            cursor = await conn.execute(
                SCAN if scope["method"] == "POST" else ASK, {"waybill": waybill, "key": key}
            )
            row = await cursor.fetchone()
        if row is None:  # the token was revoked since it was remembered
            self.allowed.pop(key, None)
            return await self.app(scope, _replay_empty(), send)
        body = json.dumps({"waybill_no": waybill, "instruction": row[0]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _may_scan(self, key: str) -> bool:
        lapses = self.allowed.get(key)
        now = time.monotonic()
        if lapses is not None and lapses > now:
            return True
        seconds = await sync_to_async(_scanner_seconds_left, thread_sensitive=False)(key)
        if seconds <= 0:
            self.allowed.pop(key, None)
            return False
        if len(self.allowed) > 10_000:  # bounded: tokens of the site's scanners, not the world's
            self.allowed.clear()
        self.allowed[key] = now + min(AUTH_TTL_S, seconds)
        return True

    async def _the_pool(self):
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:
            from psycopg_pool import AsyncConnectionPool

            self._pool = AsyncConnectionPool(
                _conninfo(),
                min_size=1,
                max_size=POOL_MAX_SIZE,
                kwargs={"autocommit": True},
                configure=_configure,
                open=False,
            )
            await self._pool.open()
            self._pool_loop = loop
        return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _scanner_seconds_left(key: str) -> float:
    """Seconds this token may be trusted to scan without asking again; 0 if it may not."""
    from django.db import close_old_connections
    from django.utils import timezone
    from rest_framework.exceptions import AuthenticationFailed

    from port.auth import ExpiringTokenAuthentication, token_expires

    close_old_connections()
    try:
        user, token = ExpiringTokenAuthentication().authenticate_credentials(key)
        if not queries.may_scan(user):
            return 0.0
        return (token_expires(token) - timezone.now()).total_seconds()
    except AuthenticationFailed:
        return 0.0
    finally:
        close_old_connections()


async def _configure(conn) -> None:
    await conn.execute("SET synchronous_commit = off")


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST"),
        "port": str(db["PORT"]) if db.get("PORT") else None,
        "application_name": "portwise-sorting-line",
    }
    options = db.get("OPTIONS", {})
    params.update({k: v for k, v in options.items() if isinstance(v, str | int) and k != "pool"})
    return make_conninfo(**{k: v for k, v in params.items() if v})


def _token_key(scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _sep, key = value.decode("latin-1").partition(" ")
            key = key.strip()
            if scheme.lower() == "token" and key and len(key) <= 64:
                return key
            return None
    return None


async def _drain(receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def _replay_empty():
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive
