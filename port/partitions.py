"""Monthly partitions for the tables that only grow (the timeline), and their archiving.

The timeline is partitioned by month on `created_at` (PostgreSQL declarative
partitioning, migration port/0006). Beat makes sure the current month and the next two
have their partition (`partitions_ensure`); a DEFAULT partition catches anything outside
them, so an insert never fails for want of one. Old months are detached whole into the
`archive` schema (`partitions_archive`): no row is updated or deleted on the way, and the
archived table keeps the append-only trigger, so the audit record holds. An operator dumps
an archived month (`pg_dump -t archive.<name>`) and drops it under the retention policy.
"""

from datetime import date

from django.db import connection, transaction
from django.utils import timezone

PARTITIONED = ("port_timelineevent",)
ARCHIVE_SCHEMA = "archive"


def _month(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_y{month.year}m{month.month:02d}"


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


def partitions_ensure(
    *, table: str = "port_timelineevent", start: date | None = None, months_ahead: int = 2
) -> list[str]:
    """Create the monthly partitions from `start` (default: this month) to `months_ahead`
    months ahead that do not exist yet; return the names created. Idempotent."""
    today = timezone.now().date()
    first = _month(start or today)
    last = _month(today, months_ahead)
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partitions:{table}"])
        month = first
        while month <= last:
            if _create_month(cursor, table, month):
                created.append(partition_name(table, month))
            month = _month(month, 1)
    return created


def partitions_archive(*, before: date, table: str = "port_timelineevent") -> list[str]:
    """Detach every monthly partition that ends on or before `before` into the archive
    schema, append-only still; return the archived names. Idempotent."""
    archived = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {ARCHIVE_SCHEMA}")
        for name in partitions(table):
            if name.endswith("_default"):
                continue
            year, month = int(name[-7:-3]), int(name[-2:])
            if _month(date(year, month, 1), 1) > before:
                continue
            cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
            cursor.execute(f'ALTER TABLE "{name}" SET SCHEMA {ARCHIVE_SCHEMA}')
            cursor.execute(
                f"CREATE TRIGGER port_timeline_append_only BEFORE UPDATE OR DELETE ON "
                f'{ARCHIVE_SCHEMA}."{name}" FOR EACH ROW EXECUTE FUNCTION '
                f"port_timeline_append_only()"
            )
            archived.append(f"{ARCHIVE_SCHEMA}.{name}")
    return archived
