"""What the trader sees of its inspection and its access stage: tickets with their queue
place live, requests not to attend decided by an officer, and two-stage access holding a
container customs released, at the gate and in the diversion. One enterprise never sees
another's, through pages, the API or the WebSocket."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.test import Client

from declarations.models import Declaration
from inspection import access, assessment, attendance, diversion, queries, services
from inspection import gate as port_gate
from inspection.models import AccessCheck, AttendanceRequest, DiversionInstruction
from notifications import services as notification_services
from notifications.models import Contact, Notification
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Membership, Organisation, TimelineEvent, User
from tests.conftest import MEAT_ITEM, container_number, filing, websocket_for


def _file(demo, api_for, *, serial, items=None, **flags) -> Declaration:
    body = filing(
        demo.port_call.pk,
        bl_number=f"COSU7{serial:09d}",
        containers=[container_number(720000 + serial)],
        **({"items": items} if items else {}),
        **flags,
    )
    response = api_for(demo.importer).post("/api/v1/declarations/", body, format="json")
    assert response.status_code == 201, response.json()
    assessment.assess_declarations(declaration_ids=[response.json()["id"]])
    return Declaration.objects.get(pk=response.json()["id"])


@pytest.fixture
def quarantine_officer(demo):
    return User.objects.get(username="quarantine")


@pytest.fixture
def held(demo, api_for):
    """Tiles (released by the rules) declared with quarantine involved: customs released."""
    return _file(demo, api_for, serial=1, quarantine_involved=True)


@pytest.fixture
def queued(demo, api_for):
    """Two meat declarations of the importer, each container with its ticket at the area."""
    made = [_file(demo, api_for, serial=n, items=[MEAT_ITEM]) for n in (11, 12)]
    tickets = [
        services.inspection_report_arrival(
            user=demo.terminal, container_number=d.containers.get().number
        )
        for d in made
    ]
    return made, tickets


def _gate_out(demo, declaration):
    return port_gate.gate_report(
        user=demo.terminal,
        container_number=declaration.containers.get().number,
        direction="out",
    )


# ---------------------------------------------------------------- two-stage access


def test_quarantine_holds_a_released_declaration_at_the_gate_until_it_releases(
    demo, held, quarantine_officer
):
    assert held.status == Declaration.Status.RELEASED
    check = AccessCheck.objects.get()
    assert (check.kind, check.status, check.customs_office) == ("quarantine", "held", demo.customs)
    assert TimelineEvent.objects.filter(kind="inspection.access_held").count() == 1

    refused = _gate_out(demo, held)
    assert refused.allowed is False
    assert refused.reason == ("Held at the access stage: Quarantine has not released these goods.")

    access.access_check_decide(check_id=check.pk, officer=quarantine_officer, status="released")
    check.refresh_from_db()
    assert (check.status, check.decided_by) == ("released", quarantine_officer)
    decided = TimelineEvent.objects.get(kind="inspection.access_decided")
    assert (decided.data["from"], decided.data["to"]) == ("held", "released")
    assert _gate_out(demo, held).allowed is True


def test_assessing_again_opens_no_second_check(demo, held):
    assessment.assess_declarations(declaration_ids=[held.pk])
    assert AccessCheck.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="inspection.access_held").count() == 1


def test_the_diversion_sends_a_held_container_to_the_yard_not_to_ship_side(
    demo, api_for, quarantine_officer
):
    declaration = _file(
        demo, api_for, serial=2, quarantine_involved=True, direct_delivery=True, is_advance=True
    )
    number = declaration.containers.get().number
    (planned,) = diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=[number], direct_pickup={number}
    )
    assert planned.destination == "yard"
    assert planned.reason.startswith("Held at the access stage")

    access.access_check_decide(
        check_id=AccessCheck.objects.get().pk, officer=quarantine_officer, status="released"
    )
    (replanned,) = diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=[number], direct_pickup={number}
    )
    assert replanned.destination == "ship_side"
    assert DiversionInstruction.objects.get(container__number=number).destination == "ship_side"


def test_only_quarantine_officers_decide_quarantine_and_a_refusal_needs_a_reason(
    demo, held, quarantine_officer
):
    check = AccessCheck.objects.get()
    with pytest.raises(PermissionDenied):
        access.access_check_decide(check_id=check.pk, officer=demo.officer, status="released")
    with pytest.raises(NotYours):
        access.access_check_decide(check_id=check.pk, officer=demo.importer, status="released")
    with pytest.raises(InvalidInput) as refused:
        access.access_check_decide(check_id=check.pk, officer=quarantine_officer, status="refused")
    assert list(refused.value.errors) == ["note"]
    check.refresh_from_db()
    assert (check.status, check.decided_by) == ("held", None)
    assert TimelineEvent.objects.filter(kind="inspection.access_decided").exists() is False


def test_customs_officers_decide_permits_and_a_release_is_final(demo, api_for):
    declaration = _file(demo, api_for, serial=3, permits_involved=True)
    check = AccessCheck.objects.get(declaration=declaration)
    access.access_check_decide(
        check_id=check.pk, officer=demo.officer, status="refused", note="No import licence"
    )
    access.access_check_decide(check_id=check.pk, officer=demo.officer, status="released")
    with pytest.raises(TransitionNotAllowed):
        access.access_check_decide(
            check_id=check.pk, officer=demo.officer, status="refused", note="again"
        )
    check.refresh_from_db()
    assert check.status == "released"


def test_the_access_stage_through_the_api_is_scoped(demo, held, api_for, quarantine_officer):
    check = AccessCheck.objects.get()
    mine = api_for(demo.importer).get("/api/v1/inspection/access-checks/").json()
    theirs = api_for(demo.exporter).get("/api/v1/inspection/access-checks/").json()
    assert [row["id"] for row in mine["results"]] == [check.pk]
    assert theirs["results"] == []
    url = f"/api/v1/inspection/access-checks/{check.pk}/decide/"
    assert api_for(demo.exporter).post(url, {"status": "released"}).status_code == 404
    assert api_for(demo.importer).post(url, {"status": "released"}).status_code == 404
    bad = api_for(quarantine_officer).post(url, {"status": "maybe"}, format="json")
    assert bad.status_code == 400
    assert "status" in bad.json()
    assert api_for(demo.officer).post(url, {"status": "released"}).status_code == 403
    check.refresh_from_db()
    assert check.status == "held"
    done = api_for(quarantine_officer).post(url, {"status": "released"}, format="json")
    assert done.status_code == 200
    assert done.json()["status"] == "released"


def test_the_access_pages_show_the_stage_to_its_enterprise_only(demo, held, quarantine_officer):
    page = _client(demo.importer).get(f"/declarations/{held.pk}/")
    assert page.status_code == 200
    assert "Access stage (quarantine and permits)" in page.content.decode()
    assert _client(demo.exporter).get(f"/declarations/{held.pk}/").status_code == 404
    board = _client(quarantine_officer).get("/inspection/access/")
    assert held.number in board.content.decode()
    refused = _client(quarantine_officer).post(
        "/inspection/access/", {"id": AccessCheck.objects.get().pk, "status": "refused"}
    )
    assert refused.status_code == 400
    assert "Say why the goods are refused." in refused.content.decode()
    stranger = _client(demo.exporter).post(
        "/inspection/access/", {"id": AccessCheck.objects.get().pk, "status": "released"}
    )
    assert stranger.status_code == 404
    assert AccessCheck.objects.get().status == "held"


def test_the_enterprise_is_notified_of_the_hold_and_the_release_in_its_language(
    demo, held, quarantine_officer
):
    Contact.objects.create(user=demo.importer, language="zh-hans")
    access.access_check_decide(
        check_id=AccessCheck.objects.get().pk, officer=quarantine_officer, status="released"
    )
    notification_services.notifications_make(now=_later())
    notification_services.notifications_make(now=_later())
    notes = Notification.objects.filter(kind="inspection.access")
    assert sorted(n.data["to"] for n in notes.filter(recipient=demo.importer)) == [
        "held",
        "released",
    ]
    assert notes.filter(recipient=demo.exporter).exists() is False
    from django.utils import translation

    from notifications import rules

    with translation.override("zh-hans"):
        text, _link = rules.render("inspection.access", notes.get(data__to="held").data)
    assert held.number in text
    assert "Declaration" not in text  # in Chinese


# ---------------------------------------------------------------- the enterprise's inspection


def test_the_enterprise_sees_its_call_number_and_place_as_the_queue_moves(demo, queued):
    declarations, (first, second) = queued
    (mine,) = queries.trader_tickets(user=demo.importer, declaration_id=declarations[1].pk)
    assert (mine.ticket, queries.queue_place(mine)) == (second.ticket, 2)

    services.inspection_call_next(area_id=first.area_id, officer=demo.officer)

    (mine,) = queries.trader_tickets(user=demo.importer, declaration_id=declarations[1].pk)
    assert queries.queue_place(mine) == 1
    assert list(queries.trader_tickets(user=demo.exporter)) == []


def test_tickets_through_the_api_are_the_enterprise_own(demo, queued, api_for):
    declarations, tickets = queued
    mine = api_for(demo.importer).get(
        "/api/v1/inspection/enterprise-tickets/", {"declaration": declarations[0].pk}
    )
    assert mine.status_code == 200
    (row,) = mine.json()["results"]
    assert (row["ticket"], row["queue_place"], row["area_opens_at"]) == (
        tickets[0].ticket,
        1,
        "08:30:00",
    )
    assert (
        api_for(demo.exporter).get("/api/v1/inspection/enterprise-tickets/").json()["results"] == []
    )
    url = f"/api/v1/inspection/enterprise-tickets/{tickets[0].pk}/"
    assert api_for(demo.exporter).get(url).status_code == 404


def test_a_request_not_to_attend_is_made_once_and_decided_by_an_officer(demo, queued, api_for):
    _declarations, tickets = queued
    url = f"/api/v1/inspection/enterprise-tickets/{tickets[0].pk}/attendance/"
    assert api_for(demo.exporter).post(url, {"reason": "x"}).status_code == 404
    blank = api_for(demo.importer).post(url, {"reason": " "}, format="json")
    assert blank.status_code == 400
    assert "reason" in blank.json()
    made = api_for(demo.importer).post(url, {"reason": "Sealed cold chain"}, format="json")
    assert made.status_code == 201
    again = api_for(demo.importer).post(url, {"reason": "again"}, format="json")
    assert again.status_code == 400
    assert AttendanceRequest.objects.count() == 1

    request_id = made.json()["id"]
    decide = f"/api/v1/inspection/attendance-requests/{request_id}/decide/"
    assert api_for(demo.importer).post(decide, {"approve": True}).status_code == 404
    no_reason = api_for(demo.officer).post(decide, {"approve": False}, format="json")
    assert no_reason.status_code == 400
    assert AttendanceRequest.objects.get().status == "requested"
    approved = api_for(demo.officer).post(decide, {"approve": True}, format="json")
    assert approved.json()["status"] == "approved"
    assert api_for(demo.officer).post(decide, {"approve": False, "note": "n"}).status_code == 409
    kinds = list(
        TimelineEvent.objects.filter(kind__startswith="inspection.attendance").values_list(
            "kind", flat=True
        )
    )
    assert kinds == ["inspection.attendance_requested", "inspection.attendance_decided"]


def test_too_late_to_ask_once_the_inspection_began(demo, queued):
    _declarations, tickets = queued
    called = services.inspection_call_next(area_id=tickets[0].area_id, officer=demo.officer)
    services.inspection_start(inspection_id=called.pk, officer=demo.officer)
    with pytest.raises(InvalidInput) as late:
        attendance.attendance_request(inspection_id=called.pk, user=demo.importer, reason="r")
    assert list(late.value.errors) == ["inspection"]
    assert AttendanceRequest.objects.exists() is False


def test_the_declaration_page_shows_the_ticket_and_takes_the_request(demo, queued):
    declarations, tickets = queued
    client = _client(demo.importer)
    page = client.get(f"/declarations/{declarations[0].pk}/").content.decode()
    assert "Your inspection" in page
    assert "Next to be called" in page
    url = f"/inspection/tickets/{tickets[0].pk}/attendance/"
    assert f'action="{url}"' in page
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400
    assert "Say why nobody needs to attend." in refused.content.decode()
    assert client.post(url, {"reason": "Cold chain"}).status_code == 302
    assert _client(demo.exporter).post(url, {"reason": "x"}).status_code == 404
    assert _client(demo.exporter).get(url).status_code == 404
    assert AttendanceRequest.objects.count() == 1
    board = _client(demo.officer).get("/inspection/attendance/").content.decode()
    assert "Cold chain" in board


def test_the_officer_decision_reaches_the_enterprise_as_a_notification(demo, queued):
    _declarations, tickets = queued
    made = attendance.attendance_request(
        inspection_id=tickets[0].pk, user=demo.importer, reason="Cold chain"
    )
    attendance.attendance_decide(
        request_id=made.pk, officer=demo.officer, approve=False, note="Sampling needs you"
    )
    notification_services.notifications_make(now=_later())
    note = Notification.objects.get(kind="inspection.attendance", recipient=demo.importer)
    assert note.data["to"] == "refused"
    assert Notification.objects.filter(recipient=demo.exporter).exists() is False


@pytest.mark.django_db(transaction=True)
def test_the_queue_moves_live_for_its_enterprise_and_no_other(demo, queued):
    _declarations, tickets = queued

    @database_sync_to_async
    def call_next():
        services.inspection_call_next(area_id=tickets[0].area_id, officer=demo.officer)

    async def scenario(mine, theirs):
        await mine.connect()
        await theirs.connect()
        await call_next()
        received = [await mine.receive_json_from(timeout=5) for _ in range(2)]
        nothing = await theirs.receive_nothing(timeout=1)
        await mine.disconnect()
        await theirs.disconnect()
        return received, nothing

    received, nothing = async_to_sync(scenario)(
        websocket_for(demo.importer), websocket_for(demo.exporter)
    )
    types = sorted(event["type"] for event in received)
    assert types == ["inspection.changed", "inspection.queue_moved"]
    assert nothing is True


def test_live_event_schemas(demo, held, queued):
    check = AccessCheck.objects.get()
    from inspection import events

    assert set(events.access_changed(check)) == {"type", "declaration_id", "stage", "status"}
    assert events.queue_moved(7) == {"type": "inspection.queue_moved", "area_id": 7}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _later():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(seconds=30)


def test_quarantine_officer_is_a_member_of_the_office(demo, quarantine_officer):
    assert Membership.objects.get(user=quarantine_officer).organisation == demo.customs
    assert Organisation.objects.filter(pk=demo.customs.pk).exists()
