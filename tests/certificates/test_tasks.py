from datetime import timedelta

from django.utils import timezone

from certificates import mailings, tasks
from certificates.models import Mailing
from port.models import OutboxMessage
from tests.certificates.factories import apply


def _in_locker(demo) -> Mailing:
    certificate = apply(demo.exporter)
    mailing = mailings.mailing_request(
        user=demo.exporter, certificate_id=certificate.pk, recipient="A", address="B", phone="1"
    )
    return mailings.mailing_place_in_locker(
        mailing_id=mailing.pk, officer=demo.officer, locker="L1"
    )


def test_placing_in_the_locker_queues_the_courier_through_the_outbox(demo):
    mailing = _in_locker(demo)

    queued = OutboxMessage.objects.filter(task_name=tasks.mailing_advance_task.name)
    assert [m.kwargs for m in queued] == [{"mailing_id": mailing.pk}]


def test_the_courier_task_advances_the_mailing(demo):
    mailing = _in_locker(demo)

    tasks.mailing_advance_task(mailing.pk)

    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COLLECTED
    assert mailing.tracking_number.startswith("SIM")


def test_the_courier_task_is_a_no_op_before_the_locker(demo):
    certificate = apply(demo.exporter)
    mailing = mailings.mailing_request(
        user=demo.exporter, certificate_id=certificate.pk, recipient="A", address="B", phone="1"
    )

    tasks.mailing_advance_task(mailing.pk)

    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.REQUESTED


def test_beat_asks_the_courier_about_every_mailing_it_holds_until_delivered(demo):
    """A report lost with a worker is asked for again at the next sweep."""
    mailing = _in_locker(demo)
    waiting = _in_locker(demo)
    later = timezone.now() + timedelta(seconds=10)

    assert sorted(mailings.mailings_advance_due(now=later)) == sorted([mailing.pk, waiting.pk])
    seen = [Mailing.objects.get(pk=mailing.pk).status]
    for step in range(2, 5):
        mailings.mailings_advance_due(now=timezone.now() + timedelta(seconds=10 * step))
        seen.append(Mailing.objects.get(pk=mailing.pk).status)

    assert seen == ["collected", "in_transit", "delivered", "delivered"]
    assert mailings.mailings_advance_due(now=timezone.now() + timedelta(hours=1)) == []
    # asked within the courier's step: not asked again yet
    fresh = _in_locker(demo)
    assert fresh.pk not in mailings.mailings_advance_due()
