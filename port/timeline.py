from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

from port.models import Organisation, TimelineEvent, User


def subject_type_of(subject: models.Model) -> str:
    return subject._meta.label_lower


def timeline_record(
    *,
    subject: models.Model,
    kind: TimelineEvent.Kind,
    actor: User | None,
    organisation: Organisation | None,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append one event to the timeline, inside the caller's transaction."""
    return TimelineEvent.objects.create(
        kind=TimelineEvent.Kind(kind),
        actor=actor,
        organisation=organisation,
        subject_type=subject_type_of(subject),
        subject_id=subject.pk,
        data=data or {},
    )


def timeline_for(subject: models.Model):
    return TimelineEvent.objects.filter(
        subject_type=subject_type_of(subject), subject_id=subject.pk
    ).select_related("actor")


def timeline_record_many(
    *,
    subjects: list[models.Model],
    kind: TimelineEvent.Kind,
    organisation_id: int | None = None,
    data_for: Callable[[Any], dict[str, Any]],
    actor: User | None = None,
    organisation_id_for: Callable[[Any], int | None] | None = None,
) -> list[TimelineEvent]:
    """Append one event per subject in a single insert (a vessel's worth at a time).

    The events belong to `organisation_id`, or, when the subjects are several
    organisations' (a vessel's declarations), to `organisation_id_for(subject)`.
    """
    kind = TimelineEvent.Kind(kind)
    return TimelineEvent.objects.bulk_create(
        TimelineEvent(
            kind=kind,
            actor=actor,
            organisation_id=organisation_id_for(subject)
            if organisation_id_for
            else organisation_id,
            subject_type=subject_type_of(subject),
            subject_id=subject.pk,
            data=data_for(subject),
        )
        for subject in subjects
    )


_encoder = DjangoJSONEncoder()


def _dumps(data: dict[str, Any]) -> str:
    """`data` as json.dumps(cls=DjangoJSONEncoder) gives it (dates, decimals and the like
    through that encoder), six times faster: tens of thousands of rows per COPY."""
    return orjson.dumps(
        data,
        default=_encoder.default,
        option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS,
    ).decode()


def timeline_copy(
    *,
    kind: TimelineEvent.Kind,
    subject_type: str,
    rows: list[tuple[int, int | None, dict[str, Any]]],
    actor_id: int | None = None,
) -> int:
    """Append one event per `(subject_id, organisation_id, data)` with COPY: the form for
    tens of thousands of rows (a vessel's containers), where `timeline_record_many` would
    build a model per row. Inside the caller's transaction; returns the rows written."""
    if not rows:
        return 0
    kind = TimelineEvent.Kind(kind)
    now = timezone.now()
    table = TimelineEvent._meta.db_table
    columns = "kind, actor_id, organisation_id, subject_type, subject_id, data, created_at"
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for subject_id, organisation_id, data in rows:
            copy.write_row(
                (
                    kind.value,
                    actor_id,
                    organisation_id,
                    subject_type,
                    subject_id,
                    _dumps(data),
                    now,
                )
            )
    return len(rows)


# A gap in the ids is an insert not yet committed, or one rolled back. A consumer waits this
# long for it to appear before passing it by, so a slow commit is not skipped.
GAP_WAIT = timedelta(seconds=10)
CONSUMED_FIELDS = (
    "id",
    "kind",
    "organisation_id",
    "subject_type",
    "subject_id",
    "data",
    "created_at",
)


def timeline_after(last_event_id: int, *, limit: int, now: datetime) -> list[dict]:
    """The events past `last_event_id`, in id order, up to the first recent gap in the ids:
    what a consumer reading the timeline past its watermark may take now (analytics'
    rollups, notifications)."""
    batch = list(
        TimelineEvent.objects.filter(id__gt=last_event_id)
        .order_by("id")
        .values(*CONSUMED_FIELDS)[:limit]
    )
    # A fresh watermark (0) has nothing to wait for before the first event there is.
    expected = last_event_id + 1 if last_event_id else (batch[0]["id"] if batch else 0)
    for index, event in enumerate(batch):
        if event["id"] != expected and event["created_at"] > now - GAP_WAIT:
            return batch[:index]
        expected = event["id"] + 1
    return batch
