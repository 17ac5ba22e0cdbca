"""What schemathesis found on 2aed4fc, one test each: ids that are not numbers, an id in the
body that names nothing, and responses that contradicted the OpenAPI schema."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from port.models import InspectionArea


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/dangerous-goods-flags/null,null/resolve/",
        "/api/v1/dangerous-goods-flags/abc/resolve/",
        "/api/v1/alarms/null,null/close/",
        "/api/v1/declarations/1e5/submit/",
    ],
)
def test_an_id_that_is_not_a_number_is_a_json_404(demo, api_for, path):
    response = api_for(demo.officer).post(path, {"note": ""}, format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_calling_the_next_ticket_of_an_area_that_does_not_exist_is_a_404(demo, api_for):
    response = api_for(demo.importer).post(
        "/api/v1/inspection/tickets/call-next/", {"area": 0}, format="json"
    )

    assert response.status_code == 404


def test_calling_the_next_ticket_as_a_non_officer_is_refused_as_not_theirs(demo, api_for):
    area = InspectionArea.objects.first()

    response = api_for(demo.importer).post(
        "/api/v1/inspection/tickets/call-next/", {"area": area.pk}, format="json"
    )

    assert response.status_code == 404


def test_the_diversion_feed_is_documented_as_the_object_it_returns(demo, api_for, schema):
    documented = schema["paths"]["/api/v1/diversion/instructions/"]["get"]["responses"]["200"]
    body = api_for(demo.terminal).get("/api/v1/diversion/instructions/").json()

    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Feed"
    }
    assert set(body) == {"results", "next_cursor"}


def test_a_port_call_without_a_berth_is_documented(schema):
    berth = schema["components"]["schemas"]["PortCall"]["properties"]["berth"]

    assert berth["nullable"] is True


def test_a_calls_boardings_are_documented_as_the_list_they_are(schema):
    documented = schema["paths"]["/api/v1/port-calls/{id}/boardings/"]["get"]["responses"]["200"]

    assert documented["content"]["application/json"]["schema"]["type"] == "array"


def test_every_object_id_in_a_path_is_digits(schema):
    ids = [
        (path, parameter["schema"])
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["name"] in ("id", "pk")
    ]

    assert ids
    assert [
        (path, s)
        for path, s in ids
        if s.get("type") != "integer" and s.get("pattern") != "^[0-9]+$"
    ] == []
