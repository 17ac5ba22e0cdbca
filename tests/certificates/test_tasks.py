from certificates import services, tasks
from certificates.models import Mailing
from tests.certificates.factories import apply


def test_the_courier_task_advances_the_mailing_and_schedules_the_next_report(
    demo, django_capture_on_commit_callbacks
):
    certificate = apply(demo.exporter)
    mailing = services.mailing_request(
        user=demo.exporter, certificate_id=certificate.pk, recipient="A", address="B", phone="1"
    )
    services.mailing_place_in_locker(mailing_id=mailing.pk, officer=demo.officer, locker="L1")

    with django_capture_on_commit_callbacks() as callbacks:
        tasks.mailing_advance_task(mailing.pk)

    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COLLECTED
    assert len(callbacks) == 1  # the next report, after commit


def test_the_courier_task_is_a_no_op_before_the_locker(demo, django_capture_on_commit_callbacks):
    certificate = apply(demo.exporter)
    mailing = services.mailing_request(
        user=demo.exporter, certificate_id=certificate.pk, recipient="A", address="B", phone="1"
    )

    with django_capture_on_commit_callbacks() as callbacks:
        tasks.mailing_advance_task(mailing.pk)

    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.REQUESTED
    assert callbacks == []
