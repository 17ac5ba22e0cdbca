import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from port.models import Organisation, PortCall, User
from shipping import services
from shipping.models import VesselFiling
from tests.shipping.conftest import submit
from tests.shipping.factories import CREW, filing_input


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_agent_sees_every_agencys_review_and_an_agency_only_its_own(ship, filed):
    agent_page = client_for(ship.agent).get(f"/shipping/filings/{filed.pk}/")
    maritime_page = client_for(ship.reviewers["maritime_safety"]).get(
        f"/shipping/filings/{filed.pk}/"
    )

    assert agent_page.content.decode().count('data-agency="') == 5
    html = maritime_page.content.decode()
    assert html.count('data-agency="') == 1
    assert 'data-agency="maritime_safety"' in html
    assert "Record decision" in html  # the pending review's form
    assert "Record decision" not in agent_page.content.decode()


def test_agency_not_addressed_gets_404_and_an_empty_list(ship, filed):
    other = Organisation.objects.create(
        name="Other Border Post", kind=Organisation.Kind.BORDER_CONTROL, port=ship.call.port
    )
    stranger = User.objects.create(username="stranger")
    other.memberships.create(user=stranger, role="reviewer")
    client = client_for(stranger)

    assert client.get(f"/shipping/filings/{filed.pk}/").status_code == 404
    assert "No vessel filings yet" in client.get("/shipping/filings/").content.decode()
    response = client.post(f"/shipping/filings/{filed.pk}/review/", {"decision": "approved"})
    assert response.status_code == 404
    assert set(filed.reviews.values_list("status", flat=True)) == {"pending"}


def test_agency_decides_through_the_page(ship, filed):
    client = client_for(ship.reviewers["border_control"])
    refused = client.post(
        f"/shipping/filings/{filed.pk}/review/", {"decision": "correction_requested"}, follow=True
    )
    assert "Tell the agent what is wrong." in refused.content.decode()
    assert filed.reviews.get(agency_kind="border_control").status == "pending"

    client.post(
        f"/shipping/filings/{filed.pk}/review/",
        {"decision": "correction_requested", "comment": "Crew list incomplete"},
    )

    filed.refresh_from_db()
    assert filed.status == VesselFiling.Status.CORRECTION_REQUESTED
    page = client_for(ship.agent).get(f"/shipping/filings/{filed.pk}/").content.decode()
    assert "Crew list incomplete" in page
    assert "Correct and resubmit" in page


def _form_data(**overrides) -> dict:
    data = {
        "direction": "arrival",
        "idempotency_key": "browser-1",
        "master_name": "Li Guoqiang",
        "last_port": "HKHKG",
        "next_port": "",
        "crew_count": "2",
        "passenger_count": "0",
        "cargo_description": "Containers",
        "remarks": "",
        "health_notes": "",
        "crew-TOTAL_FORMS": "2",
        "crew-INITIAL_FORMS": "0",
        "passengers-TOTAL_FORMS": "1",
        "passengers-INITIAL_FORMS": "0",
        "goods-TOTAL_FORMS": "1",
        "goods-INITIAL_FORMS": "0",
    }
    for index, person in enumerate(CREW):
        data.update({f"crew-{index}-{k}": v for k, v in person.items()})
    data.update(overrides)
    return data


def test_agent_files_in_the_browser(ship):
    response = client_for(ship.agent).post(
        f"/shipping/calls/{ship.call.pk}/file/?direction=arrival", _form_data()
    )

    filing = VesselFiling.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/shipping/filings/{filing.pk}/"
    assert filing.people.count() == 2
    assert filing.reviews.count() == 5
    assert filing.health["deaths"] is False


def test_browser_filing_shows_field_errors_and_writes_nothing(ship):
    response = client_for(ship.agent).post(
        f"/shipping/calls/{ship.call.pk}/file/",
        _form_data(**{"crew_count": "3", "crew-1-nationality": "QQ", "last_port": "ZZ1"}),
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "The crew list has 2 people, not 3." in html
    assert "QQ is not an ISO 3166 country code." in html
    assert "ZZ1 is not a UN/LOCODE" in html
    assert VesselFiling.objects.exists() is False


def test_port_authority_marks_berthed_from_the_call_page(ship):
    berth = ship.call.terminal.berths.first()
    client = client_for(ship.reviewers["port_authority"])
    client.post(f"/shipping/calls/{ship.call.pk}/berthed/", {"berth": berth.pk})
    ship.call.refresh_from_db()
    assert ship.call.status == PortCall.Status.BERTHED

    agent = client_for(ship.agent)
    agent.post(f"/shipping/calls/{ship.call.pk}/departed/")
    ship.call.refresh_from_db()
    assert ship.call.status == PortCall.Status.BERTHED  # an agent does not record departure


@pytest.mark.parametrize("kind", ["agent", "maritime_safety"])
def test_filings_list_keeps_a_fixed_number_of_queries(ship, kind):
    submit(ship)
    user = ship.agent if kind == "agent" else ship.reviewers[kind]
    client = client_for(user)
    client.get("/shipping/filings/")  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get("/shipping/filings/")
    submit(ship, direction="departure")
    other_call = PortCall.objects.exclude(pk=ship.call.pk).get()
    for direction in ("arrival", "departure"):
        services.filing_submit(
            user=ship.agent,
            port_call_id=other_call.pk,
            direction=direction,
            filing=filing_input(),
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get("/shipping/filings/")

    assert response.content.decode().count("<tr>") == 1 + 4
    assert len(many) == len(one)


def test_manifest_line_and_edifact_upload_from_the_call_page(
    ship, django_capture_on_commit_callbacks
):
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    from shipping import edifact_imports
    from shipping.models import EdifactImport, ManifestEntry

    client = client_for(ship.agent)
    url = f"/shipping/calls/{ship.call.pk}/"
    refused = client.post(
        url + "manifest/", {"bl_number": "COSU1", "container_number": "CBHU6411240"}, follow=True
    )
    assert "the check digit is wrong" in refused.content.decode()
    client.post(
        url + "manifest/",
        {
            "bl_number": "COSU1",
            "container_number": "CBHU6411248",
            "un_number": "2735",
            "imdg_class": "8",
        },
    )
    sample = Path(__file__).resolve().parent / "edifact" / "coprar_d95b_no_unb.edi"
    client.post(url + "edifact/", {"file": SimpleUploadedFile("coprar.edi", sample.read_bytes())})
    edifact_imports.edifact_import_run(import_id=EdifactImport.objects.get().pk)

    page = client.get(url).content.decode()
    assert ManifestEntry.objects.get().container_number == "CBHU6411248"
    assert "UN2735 · 8" in page
    assert "COPRAR: 0 containers read, 2 rejected" in page
    assert "UNT at segment 29 counts 56 segments; the message has 29." in page
    # Another agent's company sees none of these lines.
    other = Organisation.objects.create(
        name="Rival Agency", kind="shipping_agent", port=ship.call.port
    )
    rival = User.objects.create(username="rival")
    other.memberships.create(user=rival, role="declarant")
    assert "CBHU6411248" not in client_for(rival).get(url).content.decode()
    # The maritime agency sees the merged manifest.
    assert "CBHU6411248" in client_for(ship.reviewers["maritime_safety"]).get(url).content.decode()


def test_maritime_resolves_a_finding_from_the_queue_page(ship):
    from shipping import cargo
    from shipping.models import DangerousGoodsFlag

    cargo.manifest_add_lines(
        user=ship.agent,
        port_call_id=ship.call.pk,
        source="api",
        lines=[
            cargo.ManifestLineInput(
                bl_number="COSU1", container_number="CBHU6411248", un_number="1203", imdg_class="8"
            ),
        ],
    )
    cargo.dangerous_goods_check(port_call_id=ship.call.pk)
    maritime = client_for(ship.reviewers["maritime_safety"])
    page = maritime.get("/shipping/dangerous-goods/").content.decode()
    assert "UN1203 (Motor spirit (gasoline)) is class 3; the manifest says class 8." in page
    assert client_for(ship.agent).get("/shipping/dangerous-goods/").status_code == 403

    flag = DangerousGoodsFlag.objects.get(kind="class_mismatch")
    assert (
        client_for(ship.agent)
        .post(f"/shipping/dangerous-goods/{flag.pk}/resolve/", {"note": "x"})
        .status_code
        == 404
    )
    maritime.post(f"/shipping/dangerous-goods/{flag.pk}/resolve/", {"note": "Class corrected to 3"})
    flag.refresh_from_db()
    assert (flag.status, flag.resolution_note) == ("resolved", "Class corrected to 3")


def test_agency_books_and_completes_a_boarding_on_the_call_page(ship):
    from shipping.models import BoardingAppointment

    border = client_for(ship.reviewers["border_control"])
    url = f"/shipping/calls/{ship.call.pk}/"
    border.post(url + "boardings/", {"scheduled_at": "2030-05-01T09:30", "purpose": "Crew check"})
    boarding = BoardingAppointment.objects.get()
    assert "Crew check" in client_for(ship.agent).get(url).content.decode()
    assert (
        client_for(ship.reviewers["customs_office"])
        .post(f"/shipping/boardings/{boarding.pk}/complete/")
        .status_code
        == 404
    )
    border.post(f"/shipping/boardings/{boarding.pk}/complete/")
    boarding.refresh_from_db()
    assert boarding.status == "completed"


def test_departure_form_starts_from_the_arrival_filing(ship, filed):
    page = (
        client_for(ship.agent)
        .get(f"/shipping/calls/{ship.call.pk}/file/?direction=departure")
        .content.decode()
    )

    assert 'value="Li Guoqiang"' in page
    assert 'value="P7788123"' in page  # the chief officer from the arrival crew list
    assert "Departure filing" in page


def test_agent_announces_a_vessel_in_the_browser(ship):
    client = client_for(ship.agent)
    form = {
        "imo_number": "9118018",
        "vessel_name": "Test Trader",
        "voyage": "7N",
        "terminal": "SYCT",
        "eta": "2030-03-01T08:00",
        "etd": "2030-03-01T07:00",
    }
    refused = client.post("/shipping/calls/new/", form)
    assert "The ETD comes after the ETA." in refused.content.decode()
    assert PortCall.objects.count() == 2

    response = client.post("/shipping/calls/new/", {**form, "etd": ""})

    call = PortCall.objects.get(voyage="7N")
    assert response["Location"] == f"/shipping/calls/{call.pk}/"
    assert (call.vessel.imo_number, call.terminal.code, call.agent) == (
        "9118018",
        "SYCT",
        ship.agent_org,
    )
    assert (
        client_for(ship.reviewers["border_control"]).get("/shipping/calls/new/").status_code == 403
    )


def test_navigation_per_kind(ship):
    agent = client_for(ship.agent).get("/shipping/filings/").content.decode()
    maritime = client_for(ship.reviewers["maritime_safety"]).get("/shipping/filings/").content
    assert '<a href="/shipping/calls/">Port calls</a>' in agent
    assert "/shipping/dangerous-goods/" not in agent
    assert b'href="/shipping/dangerous-goods/"' in maritime
    assert b'<a href="/port-calls/">Port calls</a>' in maritime
    assert client_for(ship.agent).get("/")["Location"] == "/shipping/filings/"


def test_crew_document_numbers_are_never_shown_whole(ship, filed, client):
    """The crew list shows each document number by its last two characters, on the page and in
    the API, to the agent and to every agency; the stored number stays whole."""
    whole = CREW[0]["document_number"]
    assert filed.people.filter(document_number=whole).exists()
    for user in (ship.agent, ship.reviewers["border_control"]):
        page = client_for(user).get(f"/shipping/filings/{filed.pk}/").content.decode()
        assert whole not in page
        assert "•" * (len(whole) - 2) + whole[-2:] in page
        client.force_login(user)
        api = client.get(f"/api/v1/vessel-filings/{filed.pk}/").content.decode()
        assert whole not in api
