"""Statements that carry whole columns as arrays, bound server-side in binary.

A vessel's assessment or diversion writes 14,000 rows with one `INSERT … SELECT FROM
unnest(%b, …)`. Django's psycopg cursor binds parameters client-side: it quotes each
14,000-element array into the statement text (0.2 s of CPU on our machine) and PostgreSQL
parses it back as long again. Bound server-side in binary, the same statement took a
tenth of the time. Use `%b` placeholders, with a cast on each array (`%b::bigint[]`).
"""

import time
from collections.abc import Sequence

import psycopg
from django.db import connection


def execute_binary(sql: str, params: Sequence, *, prepare: bool = False) -> list[tuple] | None:
    """Run one statement on Django's connection, inside the caller's transaction, with its
    parameters bound server-side in binary; returns its rows, if it returns any. Logged
    with Django's queries (so query-count tests see it) and its errors translated as
    Django's are. With `prepare`, the statement is prepared once per connection (a hot
    path's: PostgreSQL then skips its parsing and planning)."""
    raw = prepared_connection() if prepare else _raw()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=prepare or None)
        rows = cursor.fetchall() if cursor.description else None
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


# Hot paths' statements (the filing's, the token's) are sent with server-side parameters
# and prepared once per connection (the pool keeps connections): Django's cursors bind
# parameters in Python, as literals, so PostgreSQL parsed and planned each statement on
# every request, and quoting the values cost the web process more than PostgreSQL's binary
# parameters. Django's ORM keeps its client-side cursors (which never prepare), whatever
# the threshold.
PREPARE_THRESHOLD = 0


def prepared_connection():
    """The raw psycopg connection of Django's, with prepared statements on (for cursors
    that bind on the server: ours, with `prepare=True`)."""
    raw = _raw()
    if raw.prepare_threshold is None:
        raw.prepare_threshold = PREPARE_THRESHOLD
    return raw


def _raw():
    connection.ensure_connection()
    return connection.connection
