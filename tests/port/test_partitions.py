"""The timeline, partitioned by month: partitions made ahead, old months archived whole,
append-only throughout."""

from datetime import date, timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from port import partitions, retention
from port.models import IdempotencyRecord, TimelineEvent


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM port_timelineevent WHERE id = %s", [event_id]
        )
        return cursor.fetchone()[0]


def test_an_event_lands_in_its_months_partition_and_the_next_months_exist(db):
    event = TimelineEvent.objects.create(kind="gate.passed", subject_type="test", subject_id=1)
    this_month = partitions._month(timezone.now().date())
    assert _partition_of(event.pk) == partitions.partition_name("port_timelineevent", this_month)
    names = partitions.partitions()
    for ahead in (1, 2):
        assert (
            partitions.partition_name("port_timelineevent", partitions._month(this_month, ahead))
            in names
        )
    assert "port_timelineevent_default" in names


def test_partitions_ensure_creates_what_is_missing_once(db):
    start = date(2024, 1, 15)
    created = partitions.partitions_ensure(start=start)
    assert created[0] == "port_timelineevent_y2024m01"
    assert partitions.partitions_ensure(start=start) == []


def test_the_timeline_stays_append_only_on_every_partition(db):
    event = TimelineEvent.objects.create(kind="gate.passed", subject_type="test", subject_id=1)
    for sql in (
        "UPDATE port_timelineevent SET kind = 'x' WHERE id = %s",
        "DELETE FROM port_timelineevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])


def test_old_months_are_archived_whole_and_stay_append_only(db):
    partitions.partitions_ensure(start=date(2025, 1, 1))
    old = TimelineEvent.objects.create(kind="gate.passed", subject_type="test", subject_id=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO port_timelineevent (kind, subject_type, subject_id, data, created_at) "
            "VALUES ('gate.passed', 'test', 2, '{}', '2025-01-10T12:00:00Z') RETURNING id"
        )
        january_id = cursor.fetchone()[0]
    assert _partition_of(january_id) == "port_timelineevent_y2025m01"

    archived = partitions.partitions_archive(before=date(2025, 2, 1))

    assert archived == ["archive.port_timelineevent_y2025m01"]
    assert not TimelineEvent.objects.filter(pk=january_id).exists()  # out of the live table
    assert TimelineEvent.objects.filter(pk=old.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM archive.port_timelineevent_y2025m01")
        assert cursor.fetchone()[0] == 1  # nothing deleted: the month moved whole
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM archive.port_timelineevent_y2025m01")
    assert partitions.partitions_archive(before=date(2025, 2, 1)) == []


def test_idempotency_records_are_purged_after_their_retention(demo, settings):
    settings.IDEMPOTENCY_RETENTION_DAYS = 7
    fresh = IdempotencyRecord.objects.create(user=demo.importer, key="fresh", fingerprint="x")
    stale = IdempotencyRecord.objects.create(user=demo.importer, key="stale", fingerprint="x")
    IdempotencyRecord.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(days=8)
    )

    assert retention.idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == [fresh.key]
