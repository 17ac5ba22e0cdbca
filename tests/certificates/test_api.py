from certificates.models import Certificate
from port.models import IdempotencyRecord, TimelineEvent
from tests.certificates.factories import application_body, apply, item

URL = "/api/v1/certificates/"


def test_apply_issues_at_once_with_preference(demo, api_for):
    response = api_for(demo.exporter).post(URL, application_body(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "issued"
    assert body["number"].startswith("E26")
    assert len(body["verification_code"]) == 8
    assert [c["passed"] for c in body["review"]] == [True] * 7
    # Demo table: 6907 MFN 30 %, ACFTA 0 %, on FOB 600,000.
    assert body["preference"]["items"][0]["duty_saved"] == "180000.00"
    assert body["preference"]["total_duty_saved"] == "180000.00"


def test_a_failed_check_answers_201_under_review_with_reasons(demo, api_for):
    body = application_body(items=[item(origin_criterion="RVC", rvc_percent="30")])

    response = api_for(demo.exporter).post(URL, body, format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "under_review"
    failed = [c for c in response.json()["review"] if not c["passed"]]
    assert failed == [
        {
            "check": "regional_value_content",
            "passed": False,
            "message": "Item 1: RVC 30% is below the 40% threshold.",
        }
    ]


def test_bad_input_answers_400_field_by_field_and_writes_nothing(demo, api_for):
    body = application_body(importing_country="ZZ", items=[item(hs_code="123", quantity="-1")])

    response = api_for(demo.exporter).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")

    assert response.status_code == 400
    assert response.json() == {
        "importing_country": ["ZZ is not an ISO 3166 country code."],
        "items": {
            "0": {
                "hs_code": ["A commodity code has exactly 10 digits."],
                "quantity": ["The quantity must be a number above zero."],
            }
        },
    }
    assert Certificate.objects.exists() is False
    assert TimelineEvent.objects.exists() is False
    assert IdempotencyRecord.objects.exists() is False


def test_idempotency_key_replays_the_first_response(demo, api_for):
    client = api_for(demo.exporter)

    first = client.post(URL, application_body(), format="json", HTTP_IDEMPOTENCY_KEY="co-1")
    second = client.post(URL, application_body(), format="json", HTTP_IDEMPOTENCY_KEY="co-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Certificate.objects.count() == 1


def test_another_enterprise_gets_404_for_a_certificate_not_its_own(demo, api_for):
    certificate = apply(demo.exporter)

    client = api_for(demo.importer)

    assert client.get(f"{URL}{certificate.pk}/").status_code == 404
    assert client.get(URL).json()["results"] == []
    response = client.post(
        f"{URL}{certificate.pk}/mailing/",
        {"recipient": "a", "address": "b", "phone": "1"},
        format="json",
    )
    assert response.status_code == 404


def test_officer_revokes_through_the_api_and_a_second_revoke_is_409(demo, api_for):
    certificate = apply(demo.exporter)
    client = api_for(demo.officer)

    first = client.post(
        f"{URL}{certificate.pk}/revoke/", {"reason": "Forged invoice"}, format="json"
    )
    second = client.post(f"{URL}{certificate.pk}/revoke/", {"reason": "again"}, format="json")

    assert first.status_code == 200
    assert first.json()["status"] == "revoked"
    assert second.status_code == 409
    assert TimelineEvent.objects.filter(kind="certificate.status_changed").count() == 2


def test_exporter_cannot_approve_through_the_api(demo, api_for):
    certificate = apply(demo.exporter, importing_country="US")

    response = api_for(demo.exporter).post(f"{URL}{certificate.pk}/approve/", {}, format="json")

    assert response.status_code == 403
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.UNDER_REVIEW


def test_officer_approves_and_replaces_through_the_api(demo, api_for):
    certificate = apply(demo.exporter, importing_country="US")
    client = api_for(demo.officer)

    approved = client.post(f"{URL}{certificate.pk}/approve/", {"note": "ok"}, format="json")
    replaced = client.post(
        f"{URL}{certificate.pk}/replace/",
        {"reason": "Wrong invoice number", "corrections": {"invoice_number": "SR-2026-0816"}},
        format="json",
    )

    assert approved.json()["status"] == "issued"
    assert replaced.status_code == 201
    assert replaced.json()["replaces"] == approved.json()["number"]
    assert replaced.json()["invoice_number"] == "SR-2026-0816"
    assert client.get(f"{URL}{certificate.pk}/").json()["replaced_by"] == replaced.json()["number"]


def test_mailing_through_the_api(demo, api_for):
    certificate = apply(demo.exporter)

    requested = api_for(demo.exporter).post(
        f"{URL}{certificate.pk}/mailing/",
        {"recipient": "Nguyen Van A", "address": "12 Nguyen Hue", "phone": "+84 1"},
        format="json",
    )
    placed = api_for(demo.officer).post(
        f"{URL}{certificate.pk}/mailing/locker/", {"locker": "L-07"}, format="json"
    )

    assert requested.status_code == 201
    assert requested.json()["mailing"]["status"] == "requested"
    assert placed.status_code == 200
    assert placed.json()["mailing"]["status"] == "in_locker"
    assert len(placed.json()["mailing"]["pickup_code"]) == 6
