"""Inspection times booked by the enterprise (预约查验): a slot within the area's hours,
confirmed or moved by an officer of the area's office; a booked ticket is called at its time
ahead of the walk-in queue (`inspection_call_next`).

Capacity is kept under concurrency by locking the area's row while a slot is counted and
taken: two enterprises booking the last place of a slot at once get one place and one
field error.
"""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import events as declaration_events
from inspection import events, queries
from inspection.models import Inspection, InspectionBooking
from port import live
from port.errors import InvalidInput, NotYours
from port.models import InspectionArea, TimelineEvent, User
from port.queries import customs_office_ids_for
from port.timeline import timeline_record

OPEN = {Inspection.Status.QUEUED}


def _slot(area: InspectionArea, raw, errors: dict, *, keep: InspectionBooking | None = None):
    """The slot asked for, if it is one of the area's open slots with a place left."""
    try:
        moment = (
            raw
            if isinstance(raw, datetime.datetime)
            else datetime.datetime.fromisoformat(str(raw or "").strip())
        )
    except ValueError:
        errors["slot_start"] = [_("Choose one of the times offered.")]
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    slot = next((s for s in queries.slots_open(area=area) if s["start"] == moment), None)
    if slot is None:
        errors["slot_start"] = [_("Choose one of the times offered.")]
        return None
    already_here = keep is not None and keep.slot_start == moment
    if slot["left"] <= 0 and not already_here:
        errors["slot_start"] = [_("That time is fully booked; choose another.")]
        return None
    return moment


@transaction.atomic
def booking_make(*, inspection_id: int, user: User, slot_start) -> InspectionBooking:
    """The enterprise (or its broker) books, or books again, a time for a queued ticket.
    Raises NotYours (not the user's ticket), InvalidInput (no such slot, full, too late)."""
    ticket = queries.ticket_get_for_trader(user=user, inspection_id=inspection_id)
    area = InspectionArea.objects.select_for_update().get(pk=ticket.area_id)  # the slots' lock
    ticket = (
        Inspection.objects.select_for_update()
        .select_related("decision__container", "decision__declaration__enterprise")
        .get(pk=ticket.pk)
    )
    booking = InspectionBooking.objects.filter(inspection=ticket).first()
    errors: dict = {}
    if ticket.status not in OPEN:
        errors["inspection"] = [_("The container has been called; it is too late to book.")]
    moment = _slot(area, slot_start, errors, keep=booking)
    if errors:
        raise InvalidInput(errors)
    if booking is None:
        booking = InspectionBooking.objects.create(
            inspection=ticket, area=area, slot_start=moment, booked_by=user
        )
    else:
        booking.slot_start, booking.booked_by = moment, user
        booking.status = InspectionBooking.Status.BOOKED
        booking.save(update_fields=["slot_start", "booked_by", "status", "updated_at"])
    _record(booking, ticket, actor=user)
    return booking


@transaction.atomic
def booking_confirm(*, booking_id: int, officer: User, slot_start=None) -> InspectionBooking:
    """An officer of the area's office confirms a booking, at its time or moved to another
    open slot. Raises NotYours, InvalidInput."""
    booking = InspectionBooking.objects.select_related("area").filter(pk=booking_id).first()
    if booking is None or booking.area.customs_office_id not in customs_office_ids_for(officer):
        raise NotYours()
    area = InspectionArea.objects.select_for_update().get(pk=booking.area_id)
    booking = InspectionBooking.objects.select_for_update().get(pk=booking.pk)
    ticket = Inspection.objects.select_related(
        "decision__container", "decision__declaration__enterprise"
    ).get(pk=booking.inspection_id)
    errors: dict = {}
    moment = booking.slot_start
    if slot_start:
        moment = _slot(area, slot_start, errors, keep=booking)
    if ticket.status not in OPEN:
        errors["inspection"] = [_("The container has been called already.")]
    if errors:
        raise InvalidInput(errors)
    booking.slot_start, booking.status, booking.confirmed_by = (
        moment,
        InspectionBooking.Status.CONFIRMED,
        officer,
    )
    booking.save(update_fields=["slot_start", "status", "confirmed_by", "updated_at"])
    _record(booking, ticket, actor=officer)
    return booking


def _record(booking: InspectionBooking, ticket: Inspection, *, actor: User) -> None:
    declaration = ticket.decision.declaration
    timeline_record(
        subject=ticket,
        kind=TimelineEvent.Kind.INSPECTION_BOOKED,
        actor=actor,
        organisation=declaration.enterprise,
        data={
            "declaration_id": declaration.pk,
            "number": declaration.number or "",
            "container": ticket.decision.container.number,
            "ticket": ticket.ticket,
            "to": booking.status,
            "at": timezone.localtime(booking.slot_start).strftime("%Y-%m-%d %H:%M"),
        },
    )
    live.publish_on_commit(
        groups=[
            events.queue_group(booking.area.customs_office_id),
            *declaration_events.declaration_groups(declaration),
        ],
        event={
            "type": "inspection.booking_changed",
            "id": booking.pk,
            "ticket": ticket.pk,
            "declaration_id": declaration.pk,
        },
    )
