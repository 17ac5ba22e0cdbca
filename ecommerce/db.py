"""A cursor for the bulk statements: psycopg's server-side binding.

Django's psycopg backend binds parameters on the client (it quotes every value into the
SQL text); for a statement carrying arrays of thousands of ids that quoting was a third of
a decision's time in py-spy. This cursor sends the arrays as parameters instead, on the
same connection and so inside the same transaction.
"""

import psycopg
from django.db import connection


def bulk_cursor() -> psycopg.Cursor:
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)
