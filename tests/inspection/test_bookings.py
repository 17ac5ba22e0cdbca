"""Inspection times booked by the enterprise (预约查验): slots within the area's hours, a
capacity never exceeded under concurrency, the officer confirming or moving, and the call
order honouring the booked time."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from inspection import bookings, queries, services
from inspection.models import Inspection, InspectionBooking
from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent
from tests.inspection.test_trader_services import MEAT_ITEM, _file


def _tickets(demo, api_for, serials):
    made = [_file(demo, api_for, serial=n, items=[MEAT_ITEM]) for n in serials]
    return [
        services.inspection_report_arrival(
            user=demo.terminal, container_number=d.containers.get().number
        )
        for d in made
    ]


@pytest.fixture
def tickets(demo, api_for):
    """Two meat containers of the importer with their tickets at the inspection area."""
    return _tickets(demo, api_for, (31, 32))


def _next_slot(area, index=0):
    return queries.slots_open(area=area)[index]["start"]


def test_the_enterprise_books_a_slot_within_the_areas_hours(demo, tickets):
    ticket = tickets[0]
    slots = queries.slots_open(area=ticket.area)
    assert slots, "the next days have open slots"
    for slot in slots:
        local = timezone.localtime(slot["start"])
        assert ticket.area.opens_at <= local.time() < ticket.area.closes_at
        assert slot["left"] == InspectionBooking.SLOT_CAPACITY

    booking = bookings.booking_make(
        inspection_id=ticket.pk, user=demo.importer, slot_start=slots[0]["start"].isoformat()
    )

    assert (booking.status, booking.slot_start) == ("booked", slots[0]["start"])
    assert queries.slots_open(area=ticket.area)[0]["left"] == InspectionBooking.SLOT_CAPACITY - 1
    event = TimelineEvent.objects.get(kind="inspection.booked")
    assert (event.organisation, event.data["to"]) == (demo.importer_org, "booked")


def test_bad_times_and_other_enterprises_are_refused_and_change_nothing(demo, tickets):
    ticket = tickets[0]
    for bad in ("", "tomorrow", "2020-01-01T10:00:00+08:00"):
        with pytest.raises(InvalidInput) as refused:
            bookings.booking_make(inspection_id=ticket.pk, user=demo.importer, slot_start=bad)
        assert "slot_start" in refused.value.errors
    with pytest.raises(Exception):  # noqa: B017, PT011 - 404 for a ticket that is not theirs
        bookings.booking_make(
            inspection_id=ticket.pk, user=demo.exporter, slot_start=_next_slot(ticket.area)
        )
    assert not InspectionBooking.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_slot_is_never_overbooked_however_many_book_at_once(demo, api_for):
    many = _tickets(demo, api_for, range(41, 41 + InspectionBooking.SLOT_CAPACITY + 2))
    slot = _next_slot(many[0].area)
    barrier = threading.Barrier(len(many))
    outcomes = []

    def book(inspection_id):
        try:
            barrier.wait(timeout=10)
            bookings.booking_make(inspection_id=inspection_id, user=demo.importer, slot_start=slot)
            outcomes.append("booked")
        except InvalidInput:
            outcomes.append("full")
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=book, args=(t.pk,)) for t in many]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    booked = InspectionBooking.objects.filter(area=many[0].area, slot_start=slot).count()
    assert booked == InspectionBooking.SLOT_CAPACITY
    assert sorted(outcomes) == ["booked"] * booked + ["full"] * 2
    connection.close()


def test_the_officer_confirms_or_moves_and_another_office_cannot(demo, tickets):
    ticket = tickets[0]
    booking = bookings.booking_make(
        inspection_id=ticket.pk, user=demo.importer, slot_start=_next_slot(ticket.area)
    )
    later = _next_slot(ticket.area, 2)

    moved = bookings.booking_confirm(booking_id=booking.pk, officer=demo.officer, slot_start=later)

    assert (moved.status, moved.slot_start, moved.confirmed_by) == (
        "confirmed",
        later,
        demo.officer,
    )
    with pytest.raises(NotYours):
        bookings.booking_confirm(booking_id=booking.pk, officer=demo.importer)
    assert list(queries.bookings_for_officer(user=demo.officer)) == [moved]
    assert list(queries.bookings_for_officer(user=demo.importer)) == []


def test_a_booked_ticket_is_called_at_its_time_ahead_of_the_walk_in_queue(demo, tickets):
    first, second = tickets[0], tickets[1]
    booking = bookings.booking_make(
        inspection_id=second.pk, user=demo.importer, slot_start=_next_slot(second.area)
    )
    area_id = first.area_id
    # before its time the booked ticket waits: the walk-in ticket is called
    assert services.inspection_call_next(area_id=area_id, officer=demo.officer) == first
    Inspection.objects.filter(pk=first.pk).update(status=Inspection.Status.QUEUED)
    # its time has come: it goes ahead
    InspectionBooking.objects.filter(pk=booking.pk).update(
        slot_start=timezone.now() - datetime.timedelta(minutes=5)
    )
    assert services.inspection_call_next(area_id=area_id, officer=demo.officer) == second


def test_through_the_api_the_page_and_a_notification(demo, tickets, api_for):
    from django.test import Client

    from notifications.models import Notification
    from notifications.services import notifications_make

    ticket = tickets[0]
    trader = api_for(demo.importer)
    slots = trader.get(f"/api/v1/inspection/enterprise-tickets/{ticket.pk}/slots/").json()
    assert slots[0]["left"] == InspectionBooking.SLOT_CAPACITY
    url = f"/api/v1/inspection/enterprise-tickets/{ticket.pk}/booking/"
    bad = trader.post(url, {"slot_start": "2020-01-01T10:00:00+08:00"}, format="json")
    assert bad.status_code == 400
    assert "slot_start" in bad.json()
    assert api_for(demo.exporter).post(url, {"slot_start": slots[0]["start"]}).status_code == 404
    made = trader.post(url, {"slot_start": slots[0]["start"]}, format="json")
    assert made.status_code == 201, made.json()
    listed = trader.get(f"/api/v1/inspection/enterprise-tickets/{ticket.pk}/").json()
    assert listed["booking"]["status"] == "booked"

    officer = api_for(demo.officer)
    assert [b["id"] for b in officer.get("/api/v1/inspection/bookings/").json()["results"]] == [
        made.json()["id"]
    ]
    assert trader.get("/api/v1/inspection/bookings/").json()["results"] == []
    confirmed = officer.post(f"/api/v1/inspection/bookings/{made.json()['id']}/confirm/", {})
    assert confirmed.json()["status"] == "confirmed"

    notifications_make()
    told = Notification.objects.filter(recipient=demo.importer, kind="inspection.booking")
    assert told.count() == 1
    page = Client()
    page.force_login(demo.importer)
    html = page.get(ticket.decision.declaration.get_absolute_url()).content.decode()
    assert "Inspection time" in html
    assert "Change the time" in html
    board = Client()
    board.force_login(demo.officer)
    assert ticket.decision.container.number in board.get("/inspection/attendance/").content.decode()


def test_a_moved_time_reaches_the_enterprise_once_in_its_language_and_nobody_else(demo, tickets):
    from django.utils import translation

    from notifications import rules
    from notifications.models import Contact, Notification
    from notifications.services import notifications_make

    Contact.objects.create(user=demo.importer, language="zh-hans")
    ticket = tickets[0]
    booking = bookings.booking_make(
        inspection_id=ticket.pk, user=demo.importer, slot_start=_next_slot(ticket.area)
    )
    later = _next_slot(ticket.area, 2)
    bookings.booking_confirm(booking_id=booking.pk, officer=demo.officer, slot_start=later)

    notifications_make()
    notifications_make()  # a second run makes nothing more

    told = Notification.objects.filter(kind="inspection.booking")
    assert [n.recipient for n in told] == [demo.importer]  # not the exporter, not customs
    at = timezone.localtime(later).strftime("%Y-%m-%d %H:%M")
    assert told.get().data["at"] == at
    with translation.override("zh-hans"):
        text, _link = rules.render("inspection.booking", told.get().data)
    assert ticket.decision.container.number in text
    assert at in text
    assert "Container" not in text  # read in Chinese
