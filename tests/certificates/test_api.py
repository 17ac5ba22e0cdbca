from certificates.models import Certificate
from port.models import IdempotencyRecord, TimelineEvent, User
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
            "messages": {
                "en": "Item 1: RVC 30% is below the 40% threshold.",
                "zh-hans": "第 1 项：区域价值成分 30% 低于 40% 的门槛。",
            },
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


def returned_application(demo, officer_client):
    """An application under review that the Haicang officer returned through the API."""
    certificate = apply(demo.exporter, importing_country="US")
    response = officer_client.post(
        f"{URL}{certificate.pk}/request-correction/",
        {"note": "Box 4: not a party.", "fields": ["importing_country"]},
        format="json",
    )
    assert response.status_code == 200
    return certificate


def test_officer_returns_an_application_for_correction_through_the_api(demo, api_for):
    certificate = apply(demo.exporter, importing_country="US")

    response = api_for(demo.officer).post(
        f"{URL}{certificate.pk}/request-correction/",
        {"note": "Box 4: not a party.", "fields": ["importing_country", "items"]},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "correction_requested"
    assert body["decision_note"] == "Box 4: not a party."
    assert body["correction_fields"] == ["importing_country", "items"]
    exporter_view = api_for(demo.exporter).get(f"{URL}{certificate.pk}/").json()
    assert exporter_view["correction_fields"] == ["importing_country", "items"]


def test_a_correction_request_needs_a_note_and_known_boxes(demo, api_for):
    certificate = apply(demo.exporter, importing_country="US")
    client = api_for(demo.officer)

    blank = client.post(f"{URL}{certificate.pk}/request-correction/", {"note": ""}, format="json")
    unknown = client.post(
        f"{URL}{certificate.pk}/request-correction/",
        {"note": "x", "fields": ["colour"]},
        format="json",
    )

    assert (blank.status_code, blank.json()) == (
        400,
        {"note": ["Tell the exporter what to correct."]},
    )
    assert unknown.status_code == 400
    assert unknown.json() == {"fields": {"0": ['"colour" is not a valid choice.']}}
    certificate.refresh_from_db()
    assert certificate.status == "under_review"


def test_only_the_issuing_offices_officer_may_return_an_application(demo, api_for):
    certificate = apply(demo.exporter, importing_country="US")
    body = {"note": "Box 4"}
    path = f"{URL}{certificate.pk}/request-correction/"

    other_office = api_for(User.objects.get(username="xiangyu")).post(path, body, format="json")
    exporter = api_for(demo.exporter).post(path, body, format="json")
    other_enterprise = api_for(demo.importer).post(path, body, format="json")

    assert (other_office.status_code, other_enterprise.status_code) == (404, 404)
    assert exporter.status_code == 403  # sees it, but is no officer (as for approve and reject)
    certificate.refresh_from_db()
    assert certificate.status == "under_review"
    assert TimelineEvent.objects.filter(data__to="correction_requested").exists() is False


def test_exporter_resubmits_the_corrected_application_through_the_api(demo, api_for):
    certificate = returned_application(demo, api_for(demo.officer))

    response = api_for(demo.exporter).post(
        f"{URL}{certificate.pk}/resubmit/", application_body(), format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["importing_country"]) == (
        certificate.pk,
        "issued",
        "VN",
    )
    assert body["number"].startswith("E26")
    assert (body["decision_note"], body["correction_fields"]) == ("", [])


def test_resubmit_with_bad_fields_answers_400_and_changes_nothing(demo, api_for):
    certificate = returned_application(demo, api_for(demo.officer))
    body = application_body(invoice_date="tomorrow", items=[item(packages="1.5")])

    response = api_for(demo.exporter).post(
        f"{URL}{certificate.pk}/resubmit/", body, format="json", HTTP_IDEMPOTENCY_KEY="fix-1"
    )

    assert response.status_code == 400
    assert response.json() == {
        "invoice_date": ["Enter the invoice date as YYYY-MM-DD."],
        "items": {"0": {"packages": ["The number of packages is a whole number above zero."]}},
    }
    certificate.refresh_from_db()
    assert (certificate.status, certificate.importing_country) == ("correction_requested", "US")
    assert IdempotencyRecord.objects.exists() is False


def test_resubmit_with_an_idempotency_key_replays_the_first_response(demo, api_for):
    certificate = returned_application(demo, api_for(demo.officer))
    client = api_for(demo.exporter)
    path = f"{URL}{certificate.pk}/resubmit/"

    first = client.post(path, application_body(), format="json", HTTP_IDEMPOTENCY_KEY="fix-1")
    second = client.post(path, application_body(), format="json", HTTP_IDEMPOTENCY_KEY="fix-1")
    without_key = client.post(path, application_body(), format="json")

    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert without_key.status_code == 409  # issued already: a plain retry is refused
    resubmissions = TimelineEvent.objects.filter(
        subject_id=certificate.pk, data__from="correction_requested"
    )
    assert resubmissions.count() == 1


def test_only_the_exporter_may_resubmit(demo, api_for):
    certificate = returned_application(demo, api_for(demo.officer))
    path = f"{URL}{certificate.pk}/resubmit/"

    officer = api_for(demo.officer).post(path, application_body(), format="json")
    other_enterprise = api_for(demo.importer).post(path, application_body(), format="json")

    assert (officer.status_code, other_enterprise.status_code) == (404, 404)
    certificate.refresh_from_db()
    assert certificate.status == "correction_requested"


def test_resubmit_of_an_application_not_returned_is_409(demo, api_for):
    certificate = apply(demo.exporter, importing_country="US")

    response = api_for(demo.exporter).post(
        f"{URL}{certificate.pk}/resubmit/", application_body(), format="json"
    )

    assert response.status_code == 409
    assert response.json()["status"] == "under_review"
    certificate.refresh_from_db()
    assert (certificate.status, certificate.importing_country) == ("under_review", "US")


def test_the_schema_documents_both_correction_actions(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    request_correction = paths["/api/v1/certificates/{id}/request-correction/"]["post"]
    resubmit = paths["/api/v1/certificates/{id}/resubmit/"]["post"]
    assert request_correction["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CorrectionRequest"
    }
    assert any(p["name"] == "Idempotency-Key" for p in resubmit["parameters"])
