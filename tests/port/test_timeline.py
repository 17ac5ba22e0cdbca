import pytest
from django.db import IntegrityError, transaction

from port.models import TimelineEvent


def test_the_timeline_is_append_only_even_for_raw_queries(demo):
    event = TimelineEvent.objects.create(
        kind=TimelineEvent.Kind.DECLARATION_FILED,
        subject_type="declarations.declaration",
        subject_id=1,
    )

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        TimelineEvent.objects.filter(pk=event.pk).update(data={"forged": True})
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        TimelineEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(ValueError, match="append-only"):
        event.save()

    assert TimelineEvent.objects.get(pk=event.pk).data == {}


def test_only_kinds_of_the_closed_enum_are_recorded(demo):
    from port.timeline import timeline_record

    with pytest.raises(ValueError, match="not a valid"):
        timeline_record(
            subject=demo.importer_org, kind="declaration.teleported", actor=None, organisation=None
        )

    assert TimelineEvent.objects.exists() is False
