"""Dates, numbers and list sizes out of range are refused field by field, write nothing, and a
bad row already stored does not take any page down."""

import dataclasses
import datetime
import importlib

import pytest
from django.db import connection

from port.models import PortCall
from shipping.models import ManifestEntry
from tests.shipping.factories import filing_body

CALL = {
    "imo_number": "9354351",
    "vessel_name": "Cosco Africa",
    "voyage": "031W",
    "terminal": "XHCT",
    "eta": "2030-02-01T06:00",
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eta", "0001-01-01"),
        ("eta", "0001-01-01T00:00"),
        ("eta", "1999-12-31T23:59"),
        ("eta", "9999-12-31T23:59"),
        ("etd", "9999-12-31T23:59"),
        ("eta", "2030-02-31T06:00"),
    ],
)
def test_a_call_with_a_date_out_of_range_is_refused_on_the_field(ship, api_for, field, value):
    response = api_for(ship.agent).post(
        "/api/v1/port-calls/", {**CALL, field: value}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert PortCall.objects.count() == 2


def test_a_boarding_years_ahead_is_refused(ship, api_for):
    response = api_for(ship.reviewers["maritime_safety"]).post(
        f"/api/v1/port-calls/{ship.call.pk}/boardings/book/",
        {"scheduled_at": "3000-01-01T10:00", "purpose": "Safety inspection"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["scheduled_at"]


@pytest.mark.parametrize("weight", ["1E+30", "1e400", "NaN", "Infinity", "-5", "0.01"])
def test_a_manifest_weight_out_of_range_is_refused_on_the_line(ship, api_for, weight):
    line = {"bl_number": "COSU6401234560", "container_number": "COSU6123451"}
    response = api_for(ship.agent).post(
        f"/api/v1/port-calls/{ship.call.pk}/manifest/",
        {"lines": [{**line, "gross_weight_kg": weight}]},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["lines"]["0"]) == ["gross_weight_kg"]
    assert ManifestEntry.objects.count() == 0


def test_manifest_lines_past_the_limit_are_refused_before_any_is_checked(
    ship, api_for, django_assert_max_num_queries, settings
):
    lines = [{"bl_number": "X", "container_number": "X"}] * 1001

    with django_assert_max_num_queries(12):
        response = api_for(ship.agent).post(
            f"/api/v1/port-calls/{ship.call.pk}/manifest/", {"lines": lines}, format="json"
        )

    assert response.status_code == 400
    assert list(response.json()) == ["lines"]


def test_a_crew_list_past_the_limit_is_refused_before_anyone_on_it_is_checked(ship):
    from shipping import services
    from tests.shipping.factories import filing_input

    filing = filing_input()
    too_many = dataclasses.replace(filing, crew=[filing.crew[0]] * 2001)

    with pytest.raises(services.InvalidInput) as refused:
        services.filing_submit(
            user=ship.agent, port_call_id=ship.call.pk, direction="arrival", filing=too_many
        )

    assert refused.value.errors == {"crew": ["At most 2,000 entries; 2,001 were sent."]}


def test_a_filing_with_a_birth_date_before_1900_is_refused(ship, api_for):
    body = {"port_call": ship.call.pk, "direction": "arrival", **filing_body()}
    body["crew"][0]["date_of_birth"] = "0001-01-01"
    response = api_for(ship.agent).post("/api/v1/vessel-filings/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["crew"]["0"]) == ["date_of_birth"]


def _store_year_one_eta(call: PortCall) -> None:
    """What 2aed4fc let through: an ETA in year 1 (stored by PostgreSQL as 0001 BC)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE port_portcall SET eta = '0001-01-01 00:00:00+00 BC' WHERE id = %s", [call.pk]
        )


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("agent", "/port-calls/"),
        ("agent", "/shipping/calls/"),
        ("agent", "/shipping/calls/{call}/"),
        ("portauth", "/analytics/map/"),
        ("portauth", "/api/v1/analytics/map/"),
        ("agent", "/api/v1/port-calls/"),
        ("importer", "/declarations/new/"),
    ],
)
def test_a_stored_timestamp_out_of_range_does_not_take_pages_down(ship, client, who, path):
    from port.models import User

    _store_year_one_eta(ship.call)
    client.force_login(User.objects.get(username=who))

    response = client.get(path.format(call=ship.call.pk))

    assert response.status_code == 200


def test_the_data_migration_finds_and_repairs_unreadable_timestamps(ship):
    migration = importlib.import_module("port.migrations.0007_unreadable_timestamps_repaired")
    _store_year_one_eta(ship.call)

    with connection.schema_editor() as editor:
        repaired = migration.repair(editor)

    assert repaired == {"port_portcall.eta": 1}
    assert PortCall.objects.get(pk=ship.call.pk).eta == datetime.datetime(
        2000, 1, 1, tzinfo=datetime.UTC
    )
