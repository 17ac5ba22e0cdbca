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
    connection.ensure_connection()
    started = time.monotonic()
    raw = connection.connection
    if prepare and raw.prepare_threshold is None:
        raw.prepare_threshold = 0  # ours prepare; Django's cursors bind client-side, never
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=prepare or None)
        rows = cursor.fetchall() if cursor.description else None
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows
