import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from declarations.models import Declaration
from port.models import Container, TimelineEvent
from tests.conftest import MEAT_ITEM, container_number, filing

URL = "/api/v1/declarations/"


def test_token_from_username_and_password_authenticates_the_api(demo):
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "importer", "password": "portwise-demo"}
    )
    assert token.status_code == 200

    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    response = client.post(URL, filing(demo.port_call.pk), format="json")

    assert response.status_code == 201
    assert Declaration.objects.get().created_by == demo.importer


def test_anonymous_requests_are_refused(demo):
    assert APIClient().get(URL).status_code in (401, 403)
    assert APIClient().post(URL, filing(demo.port_call.pk), format="json").status_code in (401, 403)
    assert Declaration.objects.exists() is False


def test_create_returns_the_submitted_declaration(demo, api_for):
    response = api_for(demo.importer).post(
        URL, filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "submitted"
    assert body["containers"] == ["COSU6123451", "CSNU8011228"]
    assert body["items"][0]["hs_code"] == "0202300090"
    assert body["vessel"] == "CSCL XIAMEN"
    assert body["voyage"] == "062E"
    assert len(body["number"]) == 18


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"containers": ["COSU6123452"]},
            {"containers": ["COSU6123452: the check digit is wrong (ISO 6346)."]},
        ),
        (
            {"items": [{**MEAT_ITEM, "hs_code": "02023A"}]},
            {"items": {"0": {"hs_code": ["A commodity code has exactly 10 digits."]}}},
        ),
        ({"port_call": 424242}, {"port_call": ["There is no open port call with this id."]}),
        ({"bl_number": None}, {"bl_number": ["This field may not be null."]}),
    ],
)
def test_bad_input_is_400_with_field_errors_and_writes_nothing(demo, api_for, overrides, errors):
    response = api_for(demo.importer).post(
        URL, filing(demo.port_call.pk, **overrides), format="json"
    )

    assert response.status_code == 400
    assert response.json() == errors
    assert Declaration.objects.exists() is False
    assert Container.objects.exists() is False
    assert TimelineEvent.objects.exists() is False


def test_a_missing_field_is_named(demo, api_for):
    body = filing(demo.port_call.pk)
    del body["bl_number"]

    response = api_for(demo.importer).post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"bl_number": ["This field is required."]}


def test_same_idempotency_key_twice_gives_one_declaration_and_the_same_response(demo, api_for):
    client = api_for(demo.importer)
    body = filing(demo.port_call.pk)

    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-7781")
    second = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-7781")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Declaration.objects.count() == 1


def test_idempotency_key_reused_for_a_different_request_is_refused(demo, api_for):
    client = api_for(demo.importer)
    client.post(URL, filing(demo.port_call.pk), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = client.post(
        URL,
        filing(demo.port_call.pk, bl_number="OTHERBL001"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert response.status_code == 422
    assert Declaration.objects.count() == 1


def test_a_refused_attempt_does_not_burn_its_idempotency_key(demo, api_for):
    client = api_for(demo.importer)
    bad = client.post(
        URL,
        filing(demo.port_call.pk, containers=["BAD"]),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    good = client.post(URL, filing(demo.port_call.pk), format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    assert bad.status_code == 400
    assert good.status_code == 201


def test_another_enterprise_gets_404_for_a_declaration_and_never_lists_it(demo, api_for):
    created = api_for(demo.importer).post(URL, filing(demo.port_call.pk), format="json").json()
    exporter = api_for(demo.exporter)

    assert exporter.get(f"{URL}{created['id']}/").status_code == 404
    assert exporter.get(URL).json()["count"] == 0


def test_the_broker_sees_what_it_filed_and_the_enterprise_sees_what_was_filed_for_it(demo, api_for):
    created = (
        api_for(demo.broker)
        .post(URL, filing(demo.port_call.pk, enterprise=demo.importer_org.pk), format="json")
        .json()
    )

    assert (
        api_for(demo.importer).get(f"{URL}{created['id']}/").json()["declarant"]
        == demo.broker_org.name
    )
    assert api_for(demo.broker).get(URL).json()["count"] == 1
    assert api_for(demo.exporter).get(URL).json()["count"] == 0


def test_list_filters_by_status_and_container(demo, api_for):
    client = api_for(demo.importer)
    client.post(URL, filing(demo.port_call.pk), format="json")
    client.post(
        URL,
        filing(demo.port_call.pk, containers=["OOLU6123458"], bl_number="BL0002"),
        format="json",
    )

    assert client.get(URL, {"container": "OOLU6123458"}).json()["count"] == 1
    assert client.get(URL, {"status": "submitted"}).json()["count"] == 2
    assert client.get(URL, {"status": "released"}).json()["count"] == 0


def test_list_query_count_does_not_grow_with_rows(demo, api_for):
    client = api_for(demo.importer)

    def file_and_count_list_queries(n: int) -> int:
        body = filing(demo.port_call.pk, bl_number=f"BL{n:06d}", containers=[container_number(n)])
        assert client.post(URL, body, format="json").status_code == 201
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL).json()["count"] == n + 1
        return len(queries)

    counts = [file_and_count_list_queries(n) for n in range(6)]

    assert counts == [counts[0]] * 6
    assert 2 <= counts[0] <= 6  # session, count, page and its prefetches: not one per row


def test_openapi_schema_documents_the_declarations_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    schema = response.json()
    assert schema["openapi"].startswith("3.")
    operation = schema["paths"]["/api/v1/declarations/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert "/api/v1/auth/token/" in schema["paths"]


def test_api_docs_are_served_from_our_own_static_files(client):
    page = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
