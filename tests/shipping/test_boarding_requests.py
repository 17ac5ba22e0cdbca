"""Boardings (登临) requested by the shipping agent for its calls, confirmed by the agency,
then boarded and released; booking → boarding → release measured by who booked."""

from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from analytics.dashboard import Filters, dashboard_tables
from analytics.queries import Scope
from notifications import services as notification_services
from notifications.models import Notification
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Organisation, TimelineEvent, User
from shipping import boardings, queries
from shipping.models import BoardingAppointment


def _when(hours=2) -> str:
    return (timezone.localtime() + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def border(ship):
    return Organisation.objects.get(kind=Organisation.Kind.BORDER_CONTROL)


@pytest.fixture
def requested(ship, border):
    return boardings.boarding_request(
        user=ship.agent,
        port_call_id=ship.call.pk,
        agency_id=border.pk,
        scheduled_at=_when(),
        purpose="Crew inspection",
    )


def test_the_agent_requests_and_the_agency_confirms_boards_and_releases(
    ship, requested, django_capture_on_commit_callbacks
):
    assert (requested.status, requested.requested_by) == ("requested", ship.agent_org)
    border_user = ship.reviewers["border_control"]
    boardings.boarding_confirm(boarding_id=requested.pk, user=border_user)
    boardings.boarding_complete(boarding_id=requested.pk, user=border_user)
    with django_capture_on_commit_callbacks() as callbacks:
        released = boardings.boarding_release(boarding_id=requested.pk, user=border_user)
    assert released.status == "released"
    assert released.confirmed_at <= released.completed_at <= released.released_at
    assert released.booking_to_release_seconds >= 0
    moves = [
        (e.data["from"], e.data["to"])
        for e in TimelineEvent.objects.filter(kind="shipping.boarding_changed").order_by("pk")
    ]
    assert moves == [
        ("", "requested"),
        ("requested", "booked"),
        ("booked", "completed"),
        ("completed", "released"),
    ]
    assert len(callbacks) == 1  # the live push to the call, the agency and the agent


def test_only_the_call_agent_requests_and_only_the_agency_confirms(ship, requested, border):
    with pytest.raises(NotYours):
        boardings.boarding_request(
            user=ship.demo.importer,
            port_call_id=ship.call.pk,
            agency_id=border.pk,
            scheduled_at=_when(),
            purpose="x",
        )
    with pytest.raises(PermissionDenied):
        boardings.boarding_confirm(boarding_id=requested.pk, user=ship.agent)
    with pytest.raises(PermissionDenied):
        boardings.boarding_confirm(boarding_id=requested.pk, user=ship.reviewers["maritime_safety"])
    with pytest.raises(TransitionNotAllowed):
        boardings.boarding_release(boarding_id=requested.pk, user=ship.reviewers["border_control"])
    requested.refresh_from_db()
    assert (requested.status, requested.confirmed_at) == ("requested", None)


def test_a_bad_request_names_its_fields_and_makes_nothing(ship):
    with pytest.raises(InvalidInput) as refused:
        boardings.boarding_request(
            user=ship.agent,
            port_call_id=ship.call.pk,
            agency_id="nope",
            scheduled_at="tomorrow",
            purpose=" ",
        )
    assert set(refused.value.errors) == {"agency", "scheduled_at", "purpose"}
    assert BoardingAppointment.objects.exists() is False


def test_the_agent_cancels_its_request(ship, requested):
    boardings.boarding_cancel(boarding_id=requested.pk, user=ship.agent)
    requested.refresh_from_db()
    assert requested.status == "cancelled"


def _released_with_one_of_the_agencys_own(ship, requested) -> BoardingAppointment:
    """Border control books one boarding itself; it and the requested one are boarded and
    released. Returns the agency's own."""
    border_user = ship.reviewers["border_control"]
    own = boardings.boarding_book(
        user=border_user, port_call_id=ship.call.pk, scheduled_at=_when(), purpose="Own"
    )
    for boarding in (requested, own):
        if boarding.status == "requested":
            boardings.boarding_confirm(boarding_id=boarding.pk, user=border_user)
        boardings.boarding_complete(boarding_id=boarding.pk, user=border_user)
        boardings.boarding_release(boarding_id=boarding.pk, user=border_user)
    return own


def test_booking_to_release_is_measured_by_who_booked(ship, requested):
    own = _released_with_one_of_the_agencys_own(ship, requested)
    base = timezone.now() - timedelta(hours=5)
    # Booked 5 h ago; requested boarded after 60 min, released after 90; own 100 and 100.
    BoardingAppointment.objects.filter(pk=requested.pk).update(
        created_at=base,
        completed_at=base + timedelta(minutes=60),
        released_at=base + timedelta(minutes=90),
    )
    BoardingAppointment.objects.filter(pk=own.pk).update(
        created_at=base,
        completed_at=base + timedelta(minutes=100),
        released_at=base + timedelta(minutes=100),
    )
    times = queries.boarding_times(user=ship.agent)
    assert times["agent"] == {
        "count": 1,
        "booking_to_boarding_minutes": 60.0,
        "booking_to_release_minutes": 90.0,
    }
    assert times["agency"]["booking_to_release_minutes"] == 100.0
    # The border agency sees its own boardings' times; another agency sees none.
    assert queries.boarding_times(user=ship.reviewers["maritime_safety"])["agent"]["count"] == 0


def test_boardings_through_the_api_and_pages_are_scoped(ship, border, api_for):
    url = f"/api/v1/port-calls/{ship.call.pk}/boardings/request/"
    body = {"agency": border.pk, "scheduled_at": _when(), "purpose": "Crew list check"}
    made = api_for(ship.agent).post(url, body, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["requested_by"] == "shipping_agent"
    assert api_for(ship.demo.importer).post(url, body, format="json").status_code == 404
    bad = api_for(ship.agent).post(url, {**body, "scheduled_at": "x"}, format="json")
    assert bad.status_code == 400
    assert "scheduled_at" in bad.json()
    boarding = made.json()["id"]
    maritime = api_for(ship.reviewers["maritime_safety"])
    assert maritime.post(f"/api/v1/boardings/{boarding}/confirm/").status_code == 404
    assert maritime.get("/api/v1/boardings/").json()["results"] == []
    border_api = api_for(ship.reviewers["border_control"])
    assert border_api.post(f"/api/v1/boardings/{boarding}/confirm/").json()["status"] == "booked"
    assert api_for(ship.agent).get("/api/v1/boardings/times/").json()["agent"]["count"] == 0
    client = Client()
    client.force_login(ship.agent)
    page = client.get("/shipping/boardings/").content.decode()
    assert "Crew list check" in page
    call_page = client.get(f"/shipping/calls/{ship.call.pk}/").content.decode()
    assert "Request a boarding" in call_page
    stranger = User.objects.create_user("stranger-agent")
    Organisation.objects.create(
        name="Other Agency Co", kind=Organisation.Kind.SHIPPING_AGENT
    ).memberships.create(user=stranger, role="declarant")
    client.force_login(stranger)
    assert "Crew list check" not in client.get("/shipping/boardings/").content.decode()
    assert client.post(f"/shipping/boardings/{boarding}/cancel/").status_code == 404


def test_the_agent_hears_of_the_confirmation(ship, requested):
    boardings.boarding_confirm(boarding_id=requested.pk, user=ship.reviewers["border_control"])
    notification_services.notifications_make(now=timezone.now() + timedelta(seconds=30))
    note = Notification.objects.get(kind="shipping.boarding", recipient=ship.agent)
    assert note.data["to"] == "booked"
    assert (
        Notification.objects.filter(kind="shipping.boarding")
        .exclude(recipient__memberships__organisation=ship.agent_org)
        .exists()
        is False
    )


def test_the_dashboard_shows_booking_to_release_by_who_booked_and_how_much_faster(ship, requested):
    own = _released_with_one_of_the_agencys_own(ship, requested)
    today = timezone.localdate()
    base = timezone.make_aware(datetime.combine(today, time(0, 1)))
    # The agent's request: boarded after 60 min, released after 90; the agency's own: 100, 100.
    for pk, boarded, released in ((requested.pk, 60, 90), (own.pk, 100, 100)):
        BoardingAppointment.objects.filter(pk=pk).update(
            created_at=base,
            completed_at=base + timedelta(minutes=boarded),
            released_at=base + timedelta(minutes=released),
        )

    tables = {t.key: t for t in dashboard_tables(Scope(port_wide=True), Filters(on=today))}
    rows = tables["boardings"].rows
    assert [(r["count"], r["to_boarding"], r["to_release"], r["faster"]) for r in rows] == [
        (1, 1.0, 1.5, 10.0),  # released 10 % sooner than the agency's own booking
        (0, None, None, None),  # no enterprise asked in this period
        (1, 1.67, 1.67, None),
    ]
    yesterday = {
        t.key: t
        for t in dashboard_tables(Scope(port_wide=True), Filters(on=today - timedelta(days=1)))
    }
    assert [r["count"] for r in yesterday["boardings"].rows] == [0, 0, 0]
    enterprise = Scope(port_wide=False, organisation_ids=(ship.demo.importer_org.pk,))
    assert "boardings" not in {t.key for t in dashboard_tables(enterprise, Filters(on=today))}


def test_an_enterprise_with_goods_on_the_call_requests_a_boarding_itself(ship, border, api_for):
    """The seeds: the enterprise books the boarding (登临) and the booking → release time is
    measured; an enterprise with nothing on the call may not."""
    from tests.conftest import container_number, filing

    importer = ship.demo.importer
    filed = api_for(importer).post(
        "/api/v1/declarations/",
        filing(ship.call.pk, bl_number="BOARD0001", containers=[container_number(77)]),
        format="json",
    )
    assert filed.status_code == 201, filed.json()
    url = f"/api/v1/port-calls/{ship.call.pk}/boardings/request/"
    body = {"agency": border.pk, "scheduled_at": _when(), "purpose": "Check the reefer plugs"}

    made = api_for(importer).post(url, body, format="json")

    assert made.status_code == 201, made.json()
    assert (made.json()["requested_by"], made.json()["status"]) == ("enterprise", "requested")
    assert api_for(ship.demo.exporter).post(url, body, format="json").status_code == 404
    boarding = BoardingAppointment.objects.get(pk=made.json()["id"])
    assert boarding.requested_by == ship.demo.importer_org
    # the importer sees its own request, the agent sees it on its call, another agency not
    assert [b["id"] for b in api_for(importer).get("/api/v1/boardings/").json()["results"]] == [
        boarding.pk
    ]
    assert boarding in queries.boardings_for(user=ship.agent, port_call=ship.call)
    maritime = api_for(ship.reviewers["maritime_safety"])
    assert maritime.get("/api/v1/boardings/").json()["results"] == []
    border_user = ship.reviewers["border_control"]
    boardings.boarding_confirm(boarding_id=boarding.pk, user=border_user)
    boardings.boarding_complete(boarding_id=boarding.pk, user=border_user)
    boardings.boarding_release(boarding_id=boarding.pk, user=border_user)
    # the requester hears of each step: the timeline events are the importer's
    events = TimelineEvent.objects.filter(kind="shipping.boarding_changed").order_by("pk")
    assert {e.organisation_id for e in events} == {ship.demo.importer_org.pk}
    assert [e.data["requested_by"] for e in events][-1] == "enterprise"
    assert queries.boarding_times(user=importer)["enterprise"]["count"] == 1
    client = Client()
    client.force_login(importer)
    page = client.get(f"/shipping/calls/{ship.call.pk}/").content.decode()
    assert "Request a boarding" in page
    assert "Check the reefer plugs" in page
    exporter = Client()
    exporter.force_login(ship.demo.exporter)
    other = exporter.get(f"/shipping/calls/{ship.call.pk}/").content.decode()
    assert "Request a boarding" not in other
    assert "Check the reefer plugs" not in other
