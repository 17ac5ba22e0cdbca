"""Find dates and times that PostgreSQL stored but Python cannot read (before year 1, after
9999, infinity), written before input was bounded (port.limits), and move them into range.

Every date and timestamptz column of this schema is searched, so a column added later is
covered when this runs on an old database. A nullable column is cleared; a required one
gets the earliest accepted moment (2000-01-01), visibly a placeholder. Each repair is
printed with its table, column and count.
"""

from django.db import migrations

EARLIEST = "2000-01-01 00:00:00+00"
UNREADABLE = "({c} < '0001-01-02' OR {c} > '9999-12-30' OR NOT isfinite({c}))"


def repair(schema_editor) -> dict[str, int]:
    """{"table.column": rows repaired} for every column that had unreadable values."""
    connection = schema_editor.connection
    repaired = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND is_generated = 'NEVER' "
            "AND data_type IN ('date', 'timestamp with time zone') ORDER BY 1, 2"
        )
        for table, column, nullable in cursor.fetchall():
            quoted_table = schema_editor.quote_name(table)
            quoted = schema_editor.quote_name(column)
            value = "NULL" if nullable == "YES" else f"'{EARLIEST}'"
            cursor.execute(
                f"UPDATE {quoted_table} SET {quoted} = {value} "  # noqa: S608 names from the catalogue
                f"WHERE {UNREADABLE.format(c=quoted)}"
            )
            if cursor.rowcount:
                repaired[f"{table}.{column}"] = cursor.rowcount
    return repaired


def forwards(apps, schema_editor):
    for column, count in repair(schema_editor).items():
        print(f"\n  {column}: {count} unreadable date(s) moved into range")  # noqa: T201


class Migration(migrations.Migration):
    dependencies = [("port", "0006_timeline_partitioned_by_month")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
