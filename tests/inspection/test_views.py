import pytest

from declarations.models import Declaration
from inspection import assessment
from inspection.models import Decision, Inspection, RiskRule, RuleSetVersion
from tests.conftest import MEAT_ITEM, filing


@pytest.fixture
def selected(demo, api_for):
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json")
        .json()
    )
    assessment.assess_declarations(declaration_ids=[created["id"]])
    return Declaration.objects.get(pk=created["id"])


def test_terminal_reports_arrivals_and_the_officer_calls_and_releases_them(demo, client, selected):
    client.force_login(demo.terminal)
    for number in ("COSU6123451", "CSNU8011228"):
        client.post("/inspection/hoisting/", {"container": number})
    assert 'data-container="CSNU8011228"' in client.get("/inspection/hoisting/").content.decode()

    client.force_login(demo.officer)
    board = client.get("/inspection/queue/").content.decode()
    assert 'data-ticket="001"' in board
    assert 'data-ticket="002"' in board
    area_id = Inspection.objects.first().area_id
    for _ in range(2):
        ticket_url = client.post(f"/inspection/areas/{area_id}/call-next/")["Location"]
        client.post(ticket_url, {"action": "start"})
        client.post(
            ticket_url, {"action": "record", "result": "conforming", "findings": "As declared"}
        )
        client.post(ticket_url, {"action": "released"})

    selected.refresh_from_db()
    assert selected.status == Declaration.Status.RELEASED
    assert set(Inspection.objects.values_list("status", flat=True)) == {"released"}


def test_release_without_a_result_shows_the_error_and_keeps_the_ticket(demo, client, selected):
    client.force_login(demo.terminal)
    client.post("/inspection/hoisting/", {"container": "COSU6123451"})
    client.force_login(demo.officer)
    ticket_url = client.post(f"/inspection/areas/{Inspection.objects.get().area_id}/call-next/")[
        "Location"
    ]
    client.post(ticket_url, {"action": "start"})

    page = client.post(ticket_url, {"action": "released"}).content.decode()

    assert "Record the inspection result before releasing." in page
    assert Inspection.objects.get().status == "in_progress"


def test_an_officer_overrides_a_decision_with_a_reason(demo, client, selected):
    client.force_login(demo.officer)
    decision = Decision.objects.first()

    refused = client.post(
        f"/inspection/decisions/{decision.pk}/", {"outcome": "release", "reason": ""}
    )
    done = client.post(
        f"/inspection/decisions/{decision.pk}/",
        {"outcome": "release", "reason": "Vet certificate seen"},
    )

    assert "This field is required." in refused.content.decode()
    assert done.status_code == 302
    decision.refresh_from_db()
    assert (decision.outcome, decision.override_reason) == ("release", "Vet certificate seen")


def test_rules_are_drafted_dry_run_then_activated(demo, client, selected):
    client.force_login(demo.officer)
    rule = {
        "name": "Australian beef",
        "public_reason": "Origin checks",
        "action": "scan",
        "priority": "5",
        "sampling_rate": "1",
        "hs_prefix": "02",
        "origin_countries": "au, nz",
        "is_active": "on",
    }

    dry_run = client.post("/inspection/rules/new/", {**rule, "do": "dry-run", "days": "7"})
    assert "would have selected 2 of 2 containers, in 1 declarations" in dry_run.content.decode()
    assert RiskRule.objects.filter(name="Australian beef").exists() is False

    client.post("/inspection/rules/new/", {**rule, "do": "save"})
    saved = RiskRule.objects.get(name="Australian beef")
    assert saved.origin_countries == ["AU", "NZ"]
    assert "Not yet activated" in client.get("/inspection/rules/").content.decode()
    client.post("/inspection/rules/")
    assert RuleSetVersion.objects.count() == 2


def test_a_rule_that_ends_before_it_starts_is_refused(demo, client):
    client.force_login(demo.officer)
    response = client.post(
        "/inspection/rules/new/",
        {
            "name": "x",
            "public_reason": "y",
            "action": "scan",
            "priority": "1",
            "sampling_rate": "1",
            "valid_from": "2026-12-01",
            "valid_until": "2026-11-01",
        },
    )

    assert "The rule must end after it starts." in response.content.decode()
    assert RiskRule.objects.filter(name="x").exists() is False


def test_the_gate_page_refuses_an_unreleased_container(demo, client, selected):
    client.force_login(demo.terminal)

    page = client.post(
        "/inspection/gate/", {"container": "COSU6123451", "direction": "out"}, follow=True
    ).content.decode()

    assert "COSU6123451 refused: Customs has not released this container." in page


def test_enterprises_cannot_reach_inspection_pages(demo, client, selected):
    client.force_login(demo.terminal)
    client.post("/inspection/hoisting/", {"container": "COSU6123451"})
    ticket = Inspection.objects.get()
    client.force_login(demo.importer)

    assert client.get(f"/inspection/tickets/{ticket.pk}/").status_code == 404
    assert client.get(f"/inspection/decisions/{ticket.decision_id}/").status_code == 404
    assert client.get("/inspection/rules/").status_code == 403
    assert client.post(f"/inspection/areas/{ticket.area_id}/call-next/").status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == "queued"


def _png(name: str):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "teal").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_photos_and_the_scan_image_are_kept_and_shown_only_to_who_sees_the_ticket(
    demo, client, selected, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(demo.terminal)
    client.post("/inspection/hoisting/", {"container": "COSU6123451"})
    client.force_login(demo.officer)
    ticket_url = client.post(f"/inspection/areas/{Inspection.objects.get().area_id}/call-next/")[
        "Location"
    ]
    client.post(ticket_url, {"action": "start"})

    client.post(
        ticket_url,
        {
            "action": "record",
            "result": "conforming",
            "image_verdict": "clear",
            "scan_image": _png("h986.png"),
            "photos": [_png("a.png"), _png("b.png")],
        },
    )

    ticket = Inspection.objects.get()
    photo = ticket.photos.first()
    assert (ticket.photos.count(), ticket.image_verdict) == (2, "clear")
    assert client.get(f"{ticket_url}photos/{photo.pk}/").getvalue().startswith(b"\x89PNG")
    assert client.get(f"{ticket_url}scan/").status_code == 200
    client.force_login(demo.importer)
    assert client.get(f"{ticket_url}photos/{photo.pk}/").status_code == 404
    assert client.get(f"{ticket_url}scan/").status_code == 404


def test_a_file_that_is_not_an_image_is_refused(demo, client, selected, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    client.force_login(demo.terminal)
    client.post("/inspection/hoisting/", {"container": "COSU6123451"})
    client.force_login(demo.officer)
    ticket_url = client.post(f"/inspection/areas/{Inspection.objects.get().area_id}/call-next/")[
        "Location"
    ]
    client.post(ticket_url, {"action": "start"})

    page = client.post(
        ticket_url, {"action": "record", "photos": [SimpleUploadedFile("x.png", b"not an image")]}
    )

    assert "Upload a valid image" in page.content.decode()
    assert Inspection.objects.get().photos.count() == 0
