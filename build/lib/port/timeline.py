from collections.abc import Callable
from typing import Any

from django.db import models

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
