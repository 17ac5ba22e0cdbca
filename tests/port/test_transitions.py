"""`transition_many`: a batch of status changes in set-based statements, never `bulk_update`."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from port.errors import TransitionNotAllowed
from port.models import PortCall
from port.transitions import transition_many


def _calls(demo, count):
    template = demo.port_call
    return [
        PortCall.objects.create(
            vessel=template.vessel,
            port=template.port,
            terminal=template.terminal,
            voyage=f"T{n:03d}",
            eta=template.eta,
        )
        for n in range(count)
    ]


def test_one_update_when_the_extra_fields_are_the_same(demo):
    calls = _calls(demo, 3)
    arrived = timezone.now() - timedelta(hours=1)
    for call in calls:
        call.ata = arrived

    with CaptureQueriesContext(connection) as queries:
        old = transition_many(calls, PortCall.Status.BERTHED, extra_fields=["ata"])

    assert old == {call.pk: PortCall.Status.EXPECTED for call in calls}
    assert len(queries) == 1
    assert "CASE" not in queries[0]["sql"]
    assert "= ANY" in queries[0]["sql"]
    for call in PortCall.objects.filter(pk__in=[c.pk for c in calls]):
        assert (call.status, call.ata) == (PortCall.Status.BERTHED, arrived)


def test_values_that_differ_per_row_go_in_one_update_from_values(demo):
    calls = _calls(demo, 4)
    now = timezone.now()
    for n, call in enumerate(calls):
        call.ata = now - timedelta(minutes=n)
        call.berth_id = None

    with CaptureQueriesContext(connection) as queries:
        transition_many(calls, PortCall.Status.BERTHED, extra_fields=["ata", "berth"])

    assert len(queries) == 1
    assert "VALUES" in queries[0]["sql"]
    assert "CASE" not in queries[0]["sql"]
    stored = dict(PortCall.objects.filter(pk__in=[c.pk for c in calls]).values_list("pk", "ata"))
    assert stored == {call.pk: call.ata for call in calls}
    assert set(
        PortCall.objects.filter(pk__in=[c.pk for c in calls]).values_list("status", flat=True)
    ) == {PortCall.Status.BERTHED}


def test_a_refused_move_changes_nothing(demo):
    calls = _calls(demo, 2)
    PortCall.objects.filter(pk=calls[1].pk).update(status=PortCall.Status.DEPARTED)
    calls[1].status = PortCall.Status.DEPARTED

    with pytest.raises(TransitionNotAllowed):
        transition_many(calls, PortCall.Status.BERTHED)

    assert PortCall.objects.get(pk=calls[0].pk).status == PortCall.Status.EXPECTED
