"""Monthly partitions for the tables that only grow, and their archiving.

A table that only grows is partitioned by month on its time column (PostgreSQL declarative
partitioning): the timeline (migration port/0006) and the sorting line's scans (the busiest
table of all at a parcel peak; ecommerce/0002). `partition_by_month` turns an existing
table into such a table in a migration. Which tables are partitioned is read from the
database's catalogue, so this module names none of them.

Beat makes sure the current month and the next two have their partition
(`partitions_ensure`); a DEFAULT partition catches anything outside them, so an insert
never fails for want of one. Old months are detached whole into the `archive` schema
(`partitions_archive`): no row is updated or deleted on the way, and the archived table
keeps the parent's row triggers (the timeline's append-only guard), so the audit record
holds. An operator dumps an archived month (`pg_dump -t archive.<name>`) and drops it under
the retention policy.

A table whose uniqueness PostgreSQL must enforce across all time (a gate event's
idempotency key, a gate pass released once) is not partitioned: a unique index on a
partitioned table must contain the partition key, which would make it unique per month.
"""

import re
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

ARCHIVE_SCHEMA = "archive"


def _month(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_y{month.year}m{month.month:02d}"


def partitioned_tables(cursor=None) -> list[str]:
    """The tables of this schema partitioned by range, as this module partitions them."""
    sql = (
        "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE p.partstrat = 'r' AND c.relnamespace = current_schema()::regnamespace "
        "ORDER BY c.relname"
    )
    if cursor is not None:
        cursor.execute(sql)
        return [name for (name,) in cursor.fetchall()]
    with connection.cursor() as own:
        return partitioned_tables(own)


def partitions(table: str = "port_timelineevent") -> list[str]:
    """The table's partitions (monthly and default), oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass ORDER BY c.relname
            """,
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def _create_month(cursor, table: str, month: date) -> bool:
    name = partition_name(table, month)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    cursor.execute(
        f'CREATE TABLE "{name}" PARTITION OF "{table}" '  # noqa: S608 - names built here
        f"FOR VALUES FROM (%s) TO (%s)",
        [month.isoformat(), _month(month, 1).isoformat()],
    )
    return True


def _create_months(cursor, table: str, first: date, last: date) -> list[str]:
    created, month = [], _month(first)
    while month <= last:
        if _create_month(cursor, table, month):
            created.append(partition_name(table, month))
        month = _month(month, 1)
    return created


def partitions_ensure(
    *, table: str | None = None, start: date | None = None, months_ahead: int = 2
) -> list[str]:
    """Create the monthly partitions from `start` (default: this month) to `months_ahead`
    months ahead that do not exist yet, for `table` or every partitioned table; return the
    names created. Idempotent."""
    today = timezone.now().date()
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        for name in [table] if table else partitioned_tables(cursor):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partitions:{name}"])
            created += _create_months(cursor, name, start or today, _month(today, months_ahead))
    return created


# pg_get_triggerdef: "CREATE TRIGGER name BEFORE DELETE OR UPDATE ON public.t FOR EACH ROW …"
TRIGGER_DEF = re.compile(r"^CREATE (?:CONSTRAINT )?TRIGGER (.+?) ON \S+ (.*)$", re.S)


def _row_triggers(cursor, table: str) -> list[str]:
    """The definitions of the table's own (not internal) triggers."""
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY tgname",
        [table],
    )
    return [definition for (definition,) in cursor.fetchall()]


def partitions_archive(*, before: date, table: str = "port_timelineevent") -> list[str]:
    """Detach every monthly partition that ends on or before `before` into the archive
    schema, with the parent's row triggers still on it; return the archived names.
    Idempotent."""
    archived = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {ARCHIVE_SCHEMA}")
        triggers = _row_triggers(cursor, table)
        for name in partitions(table):
            if name.endswith("_default"):
                continue
            year, month = int(name[-7:-3]), int(name[-2:])
            if _month(date(year, month, 1), 1) > before:
                continue
            cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
            cursor.execute(f'ALTER TABLE "{name}" SET SCHEMA {ARCHIVE_SCHEMA}')
            for definition in triggers:
                head, rest = TRIGGER_DEF.match(definition).groups()
                cursor.execute(
                    f'CREATE OR REPLACE TRIGGER {head} ON {ARCHIVE_SCHEMA}."{name}" {rest}'
                )
            archived.append(f"{ARCHIVE_SCHEMA}.{name}")
    return archived


def partition_by_month(cursor, table: str, column: str) -> None:
    """Turn `table` into a table partitioned by month on `column`, in a migration.

    The new table has the old one's columns, defaults and identity, its primary key becomes
    (id, column) as partitioning requires (ids still come from one identity sequence, so
    they stay unique and increasing), and its indexes, foreign keys and triggers are made
    again under their names. The rows are copied: right for a young database; a large live
    one would attach its old table as one partition instead (docs/deploy.md). A unique
    index other than the primary key cannot be carried over (see the module's note).
    """
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks pending on the old table run now
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
        "AND indexname <> %s",
        [table, f"{table}_pkey"],
    )
    indexes = [definition for (definition,) in cursor.fetchall()]
    if any(definition.startswith("CREATE UNIQUE") for definition in indexes):
        raise ValueError(f"{table} has a unique index: it cannot be partitioned by month")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    foreign_keys = cursor.fetchall()
    triggers = _row_triggers(cursor, table)
    old = f"{table}_unpartitioned"
    cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    cursor.execute(f'ALTER TABLE "{old}" RENAME CONSTRAINT "{table}_pkey" TO "{old}_pkey"')
    cursor.execute(
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY '
        f'INCLUDING GENERATED, PRIMARY KEY (id, "{column}")) PARTITION BY RANGE ("{column}")'
    )
    cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
    cursor.execute(f'SELECT min("{column}")::date FROM "{old}"')  # noqa: S608 - our names
    today = timezone.now().date()
    _create_months(cursor, table, cursor.fetchone()[0] or today, _month(today, 2))
    cursor.execute(f'INSERT INTO "{table}" OVERRIDING SYSTEM VALUE SELECT * FROM "{old}"')  # noqa: S608
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608 - our names
        f'coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false)',
        [table],
    )
    cursor.execute(f'DROP TABLE "{old}"')
    for definition in indexes:  # written before the rename: they name the table as it is
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for definition in triggers:
        head, rest = TRIGGER_DEF.match(definition).groups()
        cursor.execute(f'CREATE TRIGGER {head} ON "{table}" {rest}')
