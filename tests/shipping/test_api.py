from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from port.models import Organisation, PortCall, User
from shipping import cargo, edifact_imports
from shipping.models import (
    BoardingAppointment,
    DangerousGoodsFlag,
    EdifactImport,
    ManifestEntry,
    VesselFiling,
)
from tests.conftest import queued
from tests.shipping.factories import DANGEROUS_GOOD, filing_body

SAMPLES = Path(__file__).resolve().parent / "edifact"


def body(ship, **overrides):
    return {"port_call": ship.call.pk, "direction": "arrival", **filing_body(**overrides)}


def test_agent_files_through_the_api_once_per_idempotency_key(ship, api_for):
    client = api_for(ship.agent)
    headers = {"Idempotency-Key": "fal-062E-arrival"}
    first = client.post("/api/v1/vessel-filings/", body(ship), format="json", headers=headers)
    again = client.post("/api/v1/vessel-filings/", body(ship), format="json", headers=headers)

    assert first.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    data = first.json()
    assert data["status"] == "under_review"
    assert sorted(r["agency_kind"] for r in data["reviews"]) == [
        "border_control",
        "customs_office",
        "maritime_safety",
        "port_authority",
        "terminal_operator",
    ]
    assert VesselFiling.objects.count() == 1


def test_bad_filing_gets_field_errors_and_nothing_is_written(ship, api_for):
    bad = body(
        ship,
        master_name="",
        next_port="XX",
        crew_count="x",
        dangerous_goods=[{**DANGEROUS_GOOD, "un_number": "UNX"}],
    )

    response = api_for(ship.agent).post("/api/v1/vessel-filings/", bad, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) >= {"master_name", "next_port", "crew_count", "dangerous_goods"}
    assert errors["dangerous_goods"]["0"]["un_number"] == ["A UN number has 4 digits, e.g. 1203."]
    assert VesselFiling.objects.exists() is False


def test_agencies_review_through_the_api_and_see_only_their_own(ship, filed, api_for):
    maritime = api_for(ship.reviewers["maritime_safety"])
    listed = maritime.get("/api/v1/vessel-filings/").json()["results"]
    assert [[r["agency_kind"] for r in f["reviews"]] for f in listed] == [["maritime_safety"]]

    refused = maritime.post(f"/api/v1/vessel-filings/{filed.pk}/request-correction/", {})
    assert refused.status_code == 400
    assert "comment" in refused.json()

    for kind, user in ship.reviewers.items():
        response = api_for(user).post(f"/api/v1/vessel-filings/{filed.pk}/approve/", {})
        assert response.status_code == 200, kind
    assert api_for(ship.agent).get(f"/api/v1/vessel-filings/{filed.pk}/").json()["status"] == (
        "cleared"
    )
    again = maritime.post(f"/api/v1/vessel-filings/{filed.pk}/approve/", {})
    assert again.status_code == 409


def test_an_agency_not_addressed_gets_404(ship, filed, api_for):
    other = Organisation.objects.create(
        name="Other Port Authority", kind=Organisation.Kind.PORT_AUTHORITY, port=ship.call.port
    )
    stranger = User.objects.create(username="stranger")
    other.memberships.create(user=stranger, role="reviewer")
    client = api_for(stranger)

    assert client.get(f"/api/v1/vessel-filings/{filed.pk}/").status_code == 404
    assert client.post(f"/api/v1/vessel-filings/{filed.pk}/approve/", {}).status_code == 404
    assert client.get("/api/v1/vessel-filings/").json()["results"] == []
    # An importer sees no filing at all and cannot review.
    assert api_for(ship.demo.importer).get("/api/v1/vessel-filings/").json()["results"] == []


def test_correction_round_trip_through_the_api(ship, filed, api_for):
    border = api_for(ship.reviewers["border_control"])
    border.post(
        f"/api/v1/vessel-filings/{filed.pk}/request-correction/",
        {"comment": "Add the passenger list"},
        format="json",
    )
    passenger = {
        "family_name": "WANG",
        "given_names": "Fang",
        "nationality": "CN",
        "date_of_birth": "1990-05-05",
        "document_number": "E99887766",
    }
    corrected = {
        k: v
        for k, v in body(ship, passenger_count=1, passengers=[passenger]).items()
        if k not in {"port_call", "direction"}
    }

    response = api_for(ship.agent).post(
        f"/api/v1/vessel-filings/{filed.pk}/resubmit/", corrected, format="json"
    )

    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["version"], data["passenger_count"]) == ("under_review", 2, 1)
    border_review = next(r for r in data["reviews"] if r["agency_kind"] == "border_control")
    assert border_review["status"] == "pending"
    assert (
        border.post(
            f"/api/v1/vessel-filings/{filed.pk}/resubmit/", corrected, format="json"
        ).status_code
        == 403
    )


def test_port_calls_berth_and_depart_through_the_api(ship, api_for):
    berth = ship.call.terminal.berths.first()
    url = f"/api/v1/port-calls/{ship.call.pk}/"
    assert api_for(ship.agent).post(url + "berthed/", {"berth": berth.pk}).status_code == 403

    response = api_for(ship.reviewers["terminal_operator"]).post(
        url + "berthed/", {"berth": berth.pk}
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["berth"]) == ("berthed", berth.code)
    assert response.json()["vessel"]["mmsi"] == "413452000"
    departed = api_for(ship.reviewers["port_authority"]).post(url + "departed/")
    assert departed.json()["status"] == "departed"
    assert api_for(ship.reviewers["port_authority"]).post(url + "departed/").status_code == 409


def test_manifest_through_the_api(ship, api_for):
    url = f"/api/v1/port-calls/{ship.call.pk}/manifest/"
    lines = [
        {
            "bl_number": "COSU6401234560",
            "container_number": "CBHU6411248",
            "gross_weight_kg": "25000",
            "un_number": "2735",
            "imdg_class": "8",
            "hs_code": "2921190090",
        },
        {
            "bl_number": "COSU6401234560",
            "container_number": "COSU6123451",
            "gross_weight_kg": "18000",
        },
    ]
    response = api_for(ship.agent).post(url, {"lines": lines}, format="json")
    assert response.status_code == 200
    assert response.json()["count"] == 2

    bad = api_for(ship.agent).post(
        url, {"lines": [{**lines[0], "container_number": "X"}]}, format="json"
    )
    assert bad.status_code == 400
    assert "container_number" in bad.json()["lines"]["0"]
    refused = api_for(ship.demo.importer).post(url, {"lines": lines}, format="json")
    assert refused.status_code == 403
    assert ManifestEntry.objects.count() == 2


def test_edifact_upload_is_queued_then_processed_with_progress(
    ship, api_for, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("bay.edi", (SAMPLES / "baplie_d95b_longbeach.edi").read_bytes())
    with django_capture_on_commit_callbacks():
        response = api_for(ship.agent).post(
            "/api/v1/edifact-imports/",
            {"file": upload, "port_call": ship.call.pk},
            format="multipart",
        )
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["progress"]) == ("queued", 0)
    assert queued() == [
        ("shipping.tasks.edifact_import_run_task", {"import_id": response.json()["id"]})
    ]

    edifact_imports.edifact_import_run(import_id=response.json()["id"])
    # a second run changes nothing
    edifact_imports.edifact_import_run(import_id=response.json()["id"])

    done = api_for(ship.agent).get(f"/api/v1/edifact-imports/{response.json()['id']}/").json()
    assert (done["status"], done["progress"]) == ("done", 100)
    assert done["summary"]["containers_read"] == 3
    assert done["summary"]["imported"] == {"port_call": ship.call.pk, "created": 3, "updated": 0}
    assert ManifestEntry.objects.count() == 3
    other = api_for(ship.reviewers["customs_office"]).get(
        f"/api/v1/edifact-imports/{response.json()['id']}/"
    )
    assert other.status_code == 404


def test_unreadable_upload_fails_with_its_reason(ship, api_for):
    upload = SimpleUploadedFile("bad.edi", b"UNB+UNOA:2+X+Y+160414:0307+1'UNH+1+BAPLIE'EQD+CN+OO")
    response = api_for(ship.agent).post(
        "/api/v1/edifact-imports/", {"file": upload}, format="multipart"
    )
    edifact_imports.edifact_import_run(import_id=response.json()["id"])
    done = api_for(ship.agent).get(f"/api/v1/edifact-imports/{response.json()['id']}/").json()
    assert done["status"] == "failed"
    assert done["summary"]["error"].startswith("Not readable as UN/EDIFACT")

    binary = SimpleUploadedFile("x.edi", b"\x00\x01")
    refused = api_for(ship.agent).post(
        "/api/v1/edifact-imports/", {"file": binary}, format="multipart"
    )
    assert refused.status_code == 400
    assert refused.json() == {"file": ["This is a binary file, not UN/EDIFACT text."]}


def test_flags_api_is_the_maritime_queue(ship, api_for):
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
    maritime = api_for(ship.reviewers["maritime_safety"])

    listed = maritime.get("/api/v1/dangerous-goods-flags/").json()["results"]
    assert sorted(f["kind"] for f in listed) == ["class_mismatch", "no_approval"]
    assert api_for(ship.agent).get("/api/v1/dangerous-goods-flags/").json()["results"] == []
    flag = listed[0]["id"]
    assert (
        api_for(ship.agent)
        .post(f"/api/v1/dangerous-goods-flags/{flag}/resolve/", {"note": "x"})
        .status_code
        == 404
    )
    resolved = maritime.post(
        f"/api/v1/dangerous-goods-flags/{flag}/resolve/", {"note": "Relabelled"}
    )
    assert resolved.json()["status"] == "resolved"
    assert DangerousGoodsFlag.objects.filter(status="open").count() == 1


def test_boarding_appointments(ship, api_for):
    url = f"/api/v1/port-calls/{ship.call.pk}/boardings/"
    border = api_for(ship.reviewers["border_control"])
    refused = border.post(url + "book/", {"scheduled_at": "yesterday", "purpose": ""})
    assert refused.status_code == 400
    assert set(refused.json()) == {"scheduled_at", "purpose"}
    assert (
        api_for(ship.agent)
        .post(url + "book/", {"scheduled_at": "2030-01-01T10:00", "purpose": "x"})
        .status_code
        == 403
    )

    booked = border.post(
        url + "book/", {"scheduled_at": "2030-01-01T10:00", "purpose": "Crew immigration check"}
    )
    assert booked.status_code == 201
    customs = api_for(ship.reviewers["customs_office"])
    customs.post(url + "book/", {"scheduled_at": "2030-01-01T11:00", "purpose": "Stores check"})

    assert len(api_for(ship.agent).get(url).json()) == 2  # the agent sees every boarding
    assert [b["purpose"] for b in border.get(url).json()] == ["Crew immigration check"]
    boarding = booked.json()["id"]
    assert customs.post(f"/api/v1/boardings/{boarding}/complete/").status_code == 404
    done = border.post(f"/api/v1/boardings/{boarding}/complete/")
    assert done.json()["status"] == "completed"
    assert done.json()["completed_at"] is not None
    assert BoardingAppointment.objects.get(pk=boarding).status == "completed"
    assert border.post(f"/api/v1/boardings/{boarding}/cancel/").status_code == 409
    PortCall.objects.filter(pk=ship.call.pk).update(status="departed")
    late = border.post(url + "book/", {"scheduled_at": "2030-01-02T10:00", "purpose": "x"})
    assert late.json() == {"port_call": ["The vessel has departed."]}


def test_lists_keep_a_fixed_number_of_queries(ship, api_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from shipping import services
    from tests.conftest import container_number
    from tests.shipping.factories import filing_input

    agent = api_for(ship.agent)
    calls = list(PortCall.objects.order_by("pk"))
    manifest_url = f"/api/v1/port-calls/{ship.call.pk}/manifest/"

    def add_lines(first: int, count: int):
        cargo.manifest_add_lines(
            user=ship.agent,
            port_call_id=ship.call.pk,
            source="api",
            lines=[
                cargo.ManifestLineInput(bl_number="COSU1", container_number=container_number(n))
                for n in range(first, first + count)
            ],
        )

    def counts():
        with CaptureQueriesContext(connection) as filings:
            agent.get("/api/v1/vessel-filings/")
        with CaptureQueriesContext(connection) as manifest:
            agent.get(manifest_url)
        with CaptureQueriesContext(connection) as page:
            agent.get(f"/shipping/calls/{ship.call.pk}/")
        return len(filings), len(manifest), len(page)

    agent.force_login(ship.agent)  # the HTML page needs a session
    services.filing_submit(
        user=ship.agent, port_call_id=calls[0].pk, direction="arrival", filing=filing_input()
    )
    add_lines(1, 1)
    one = counts()
    for call, direction in (
        (calls[0], "departure"),
        (calls[1], "arrival"),
        (calls[1], "departure"),
    ):
        services.filing_submit(
            user=ship.agent, port_call_id=call.pk, direction=direction, filing=filing_input()
        )
    add_lines(2, 30)
    many = counts()

    assert agent.get("/api/v1/vessel-filings/").json()["count"] == 4
    assert agent.get(manifest_url).json()["count"] == 31
    assert many == one


def test_agent_announces_a_call_registering_the_vessel(ship, api_for):
    call = {
        "imo_number": "9354351",
        "vessel_name": "Cosco Africa",
        "call_sign": "3ERX3",
        "mmsi": "352001234",
        "flag": "PA",
        "gross_tonnage": "50000",
        "voyage": "031W",
        "terminal": "XHCT",
        "eta": "2030-02-01T06:00",
        "etd": "2030-02-02T18:00",
    }
    bad = api_for(ship.agent).post(
        "/api/v1/port-calls/",
        {
            **call,
            "imo_number": "9354352",
            "mmsi": "12",
            "flag": "XX",
            "terminal": "NOPE",
            "eta": "soon",
            "gross_tonnage": "-1",
        },
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"imo_number", "mmsi", "flag", "terminal", "eta", "gross_tonnage"}
    assert PortCall.objects.count() == 2

    response = api_for(ship.agent).post("/api/v1/port-calls/", call, format="json")

    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["voyage"], data["agent"]) == (
        "expected",
        "031W",
        "Xiamen Ocean Shipping Agency",
    )
    assert data["vessel"]["name"] == "COSCO AFRICA"
    assert data["vessel"]["gross_tonnage"] == 50000
    again = api_for(ship.agent).post("/api/v1/port-calls/", call, format="json")
    assert again.json() == {"voyage": ["This vessel's voyage 031W is already announced."]}
    refused = api_for(ship.reviewers["port_authority"]).post(
        "/api/v1/port-calls/", call, format="json"
    )
    assert refused.status_code == 400
    assert "agent" in refused.json()


def test_an_html_page_named_edi_is_refused_on_its_field(ship, api_for, client):
    from tests.port.test_uploads import SCRIPT_HTML

    refused = api_for(ship.agent).post(
        "/api/v1/edifact-imports/",
        {"file": SimpleUploadedFile("bay.edi", SCRIPT_HTML)},
        format="multipart",
    )
    client.force_login(ship.agent)
    client.post(
        f"/shipping/calls/{ship.call.pk}/edifact/",
        {"file": SimpleUploadedFile("bay.edi", SCRIPT_HTML)},
    )

    assert refused.status_code == 400
    assert refused.json() == {"file": ["A UN/EDIFACT file starts with a UNA, UNB or UNH segment."]}
    assert EdifactImport.objects.exists() is False
