import pytest

from declarations.models import Declaration
from inspection import assessment
from inspection.models import Alert, GateEvent, Inspection
from tests.conftest import MEAT_ITEM, filing

TICKETS = "/api/v1/inspection/tickets/"
GATE = "/api/v1/gate-events/"


@pytest.fixture
def selected(demo, api_for):
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json")
        .json()
    )
    assessment.assess_declarations(declaration_ids=[created["id"]])
    return Declaration.objects.get(pk=created["id"])


def test_the_terminal_reports_an_arrival_and_the_officer_works_the_ticket(demo, api_for, selected):
    terminal, officer = api_for(demo.terminal), api_for(demo.officer)

    arrival = terminal.post(TICKETS, {"container": "cosu6123451"}, format="json")
    assert arrival.status_code == 201
    assert (arrival.json()["ticket"], arrival.json()["status"]) == ("001", "queued")
    assert [t["container"] for t in terminal.get(TICKETS).json()["results"]] == ["COSU6123451"]

    area_id = Inspection.objects.get().area_id
    called = officer.post(f"{TICKETS}call-next/", {"area": area_id}, format="json")
    ticket_id = called.json()["id"]
    officer.post(f"{TICKETS}{ticket_id}/start/")
    officer.post(
        f"{TICKETS}{ticket_id}/record/", {"result": "conforming", "findings": "ok"}, format="json"
    )
    finished = officer.post(f"{TICKETS}{ticket_id}/finish/", {"status": "released"}, format="json")

    assert called.json()["officer"] == "officer"
    assert finished.json()["status"] == "released"
    assert officer.post(f"{TICKETS}call-next/", {"area": area_id}, format="json").status_code == 204


def test_a_refused_transition_is_409_and_changes_nothing(demo, api_for, selected):
    api_for(demo.terminal).post(TICKETS, {"container": "COSU6123451"}, format="json")
    ticket = Inspection.objects.get()

    response = api_for(demo.officer).post(
        f"{TICKETS}{ticket.pk}/finish/", {"status": "held"}, format="json"
    )

    assert response.status_code == 409
    ticket.refresh_from_db()
    assert ticket.status == "queued"


def test_an_arrival_of_an_unselected_container_is_400(demo, api_for, selected):
    response = api_for(demo.terminal).post(TICKETS, {"container": "OOLU6123458"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["container"]
    assert Inspection.objects.exists() is False


def test_enterprises_see_no_tickets_and_cannot_call(demo, api_for, selected):
    api_for(demo.terminal).post(TICKETS, {"container": "COSU6123451"}, format="json")
    ticket = Inspection.objects.get()
    importer = api_for(demo.importer)

    assert importer.get(TICKETS).json()["count"] == 0
    assert importer.get(f"{TICKETS}{ticket.pk}/").status_code == 404
    assert (
        importer.post(f"{TICKETS}call-next/", {"area": ticket.area_id}, format="json").status_code
        == 404
    )
    ticket.refresh_from_db()
    assert ticket.status == "queued"


def test_a_gate_out_before_release_is_refused_and_alerts_customs(demo, api_for, selected):
    response = api_for(demo.terminal).post(
        GATE,
        {"container": "COSU6123451", "direction": "out", "truck_plate": "MIN-D12345"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="gate-1",
    )
    retry = api_for(demo.terminal).post(
        GATE,
        {"container": "COSU6123451", "direction": "out", "truck_plate": "MIN-D12345"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="gate-1",
    )

    assert response.status_code == 201
    assert response.json()["allowed"] is False
    assert response.json()["reason"] == "Customs has not released this container."
    assert retry.json() == response.json()
    assert GateEvent.objects.count() == 1
    assert Alert.objects.count() == 1


def test_gate_events_come_only_from_terminals(demo, api_for, selected):
    response = api_for(demo.importer).post(
        GATE, {"container": "COSU6123451", "direction": "out"}, format="json"
    )

    assert response.status_code == 403
    assert GateEvent.objects.exists() is False


def test_a_gate_event_for_an_unknown_container_names_the_field(demo, api_for):
    response = api_for(demo.terminal).post(
        GATE, {"container": "ZZZU0000000", "direction": "sideways"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"container", "direction"}
