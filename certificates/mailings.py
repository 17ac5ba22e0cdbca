"""Paper certificates mailed by courier: the exporter asks, an officer puts the signed paper
in a locker with a pickup code, and the courier's reports move the mailing on to delivery."""

import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from certificates import queries
from certificates.couriers import get_courier
from certificates.models import Certificate, Mailing
from certificates.tasks import mailing_advance_task
from port import outbox
from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent, User
from port.queries import customs_office_ids_for
from port.timeline import timeline_record
from port.transitions import transition

S = Certificate.Status
IN_HANDS_OF_COURIER = [
    Mailing.Status.IN_LOCKER,
    Mailing.Status.COLLECTED,
    Mailing.Status.IN_TRANSIT,
]
MAX_PER_SWEEP = 500


@transaction.atomic
def mailing_request(
    *, user: User, certificate_id: int, recipient: str, address: str, phone: str
) -> Mailing:
    """The exporter asks for the hand-signed paper certificate to be mailed by courier."""
    certificate = (
        Certificate.objects.select_for_update(of=("self",))
        .select_related("exporter")
        .get(pk=certificate_id)
    )
    if not queries.is_exporter_member(user, certificate):
        raise PermissionDenied
    errors = {
        name: [_("This field is required.")]
        for name, value in (("recipient", recipient), ("address", address), ("phone", phone))
        if not value.strip()
    }
    if certificate.status != S.ISSUED:
        errors["certificate"] = [_("Only an issued certificate can be mailed.")]
    elif Mailing.objects.filter(certificate=certificate).exists():
        errors["certificate"] = [_("Mailing was already requested for this certificate.")]
    if errors:
        raise InvalidInput(errors)
    mailing = Mailing.objects.create(
        certificate=certificate,
        recipient=recipient.strip(),
        address=address.strip(),
        phone=phone.strip(),
    )
    _mailing_event(mailing, old="", actor=user)
    return mailing


@transaction.atomic
def mailing_place_in_locker(*, mailing_id: int, officer: User, locker: str) -> Mailing:
    """An officer has signed the paper certificate and put it in a locker.

    Writes a 6-digit pickup code for the exporter; the courier is booked by a task queued
    through the outbox. Raises NotYours when the certificate is another office's.
    """
    if not customs_office_ids_for(officer):
        raise PermissionDenied(_("Only customs officers may do this."))
    mailing = Mailing.objects.select_for_update().select_related("certificate").get(pk=mailing_id)
    if not queries.is_officer_for(officer, mailing.certificate):
        raise NotYours("No such mailing")
    if mailing.certificate.status != S.ISSUED:
        raise InvalidInput({"certificate": [_("Only an issued certificate can be mailed.")]})
    mailing.locker = locker.strip()
    mailing.pickup_code = f"{secrets.randbelow(10**6):06d}"
    _set_mailing_status(
        mailing, Mailing.Status.IN_LOCKER, actor=officer, extra_fields=["locker", "pickup_code"]
    )
    outbox.enqueue(mailing_advance_task.name, mailing_id=mailing.pk)
    return mailing


@transaction.atomic
def mailing_advance(*, mailing_id: int) -> Mailing:
    """Record what the courier reports for a mailing (beat asks again until delivered:
    `mailings_advance_due`). Books the courier on first run. Running it when nothing changed
    writes nothing."""
    mailing = Mailing.objects.select_for_update().select_related("certificate").get(pk=mailing_id)
    if mailing.status in {Mailing.Status.REQUESTED, Mailing.Status.DELIVERED}:
        return mailing  # not yet handed over, or done: a stray task is a no-op
    courier = get_courier()
    if not mailing.tracking_number:
        mailing.tracking_number = courier.book(mailing)
        mailing.save(update_fields=["tracking_number", "updated_at"])
    reported = courier.current_status(mailing)
    if reported != mailing.status:
        _set_mailing_status(mailing, reported, actor=None)
    return mailing


def mailings_advance_due(*, now: datetime | None = None) -> list[int]:
    """Ask the courier about every mailing handed over, not yet delivered, and not asked
    within the courier's step (beat, every few seconds); returns the ids asked about.

    Polling from beat rather than a chain of delayed tasks: a report lost with a worker or
    a Redis restart is simply asked for again at the next sweep.
    """
    step = getattr(get_courier(), "step_seconds", 60)
    cutoff = (now or timezone.now()) - timedelta(seconds=step)
    due = list(
        Mailing.objects.filter(status__in=IN_HANDS_OF_COURIER, updated_at__lte=cutoff)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:MAX_PER_SWEEP]
    )
    for mailing_id in due:
        mailing_advance(mailing_id=mailing_id)
    return due


def _set_mailing_status(
    mailing: Mailing, new: str, *, actor: User | None, extra_fields: list[str] | tuple = ()
) -> None:
    old = transition(mailing, new, extra_fields=extra_fields)
    _mailing_event(mailing, old=old, actor=actor)


def _mailing_event(mailing: Mailing, *, old: str, actor: User | None) -> None:
    timeline_record(
        subject=mailing.certificate,
        kind=TimelineEvent.Kind.CERTIFICATE_MAILING_CHANGED,
        actor=actor,
        organisation=mailing.certificate.exporter,
        data={"from": old, "to": mailing.status, "tracking_number": mailing.tracking_number},
    )
