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
