"""Who sees which dashboard and map, through HTML, CSV and the API; fixed query counts."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import services
from declarations.models import DeclarationContainer
from declarations.services import ItemInput
from inspection import diversion
from port.models import Berth, PortCall, User
from tests.analytics.test_services import TILES, file
from tests.conftest import MEAT_ITEM

IMPORTER_NAME = "Xiamen Harbour Foods Import Co., Ltd."
EXPORTER_NAME = "Fujian Sunrise Ceramics Export Co., Ltd."


@pytest.fixture
def traffic(demo):
    """The importer files two declarations (one selected), the exporter one; all rolled up."""
    file(demo, [TILES])
    file(demo, [ItemInput(**MEAT_ITEM)], containers=2)
    file(demo, [TILES], user=demo.exporter, direction="export")
    services.rollups_consume()
    return demo


def user(name: str) -> User:
    return User.objects.get(username=name)


def tables_of(response) -> dict:
    return {t["key"]: t for t in response.json()["tables"]}


def activity(tables) -> dict:
    return {row["metric"]: row["count"] for row in tables["activity"]["rows"]}


@pytest.mark.parametrize("username", ["officer", "terminal", "portauth"])
def test_port_wide_roles_see_every_consignment(traffic, api_for, username):
    response = api_for(user(username)).get("/api/v1/analytics/dashboard/")

    assert response.status_code == 200
    assert response.json()["scope"] == {"port_wide": True, "organisations": []}
    tables = tables_of(response)
    assert activity(tables)["declaration.filed"] == 3
    assert activity(tables)["declaration.status_changed:inspection_required"] == 1
    enterprises = {row["key"] for row in tables["trade_enterprise"]["rows"]}
    assert enterprises == {IMPORTER_NAME, EXPORTER_NAME}
    modes = [(row["key"], row["declarations"]) for row in tables["trade_trade_mode"]["rows"]]
    assert modes == [("0110 General trade", 3)]


def test_an_enterprise_sees_the_same_statistics_for_its_own_consignments_only(traffic, api_for):
    mine = tables_of(api_for(traffic.importer).get("/api/v1/analytics/dashboard/"))
    theirs = tables_of(api_for(traffic.exporter).get("/api/v1/analytics/dashboard/"))

    assert activity(mine)["declaration.filed"] == 2
    assert activity(theirs)["declaration.filed"] == 1
    assert [r["key"] for r in mine["trade_enterprise"]["rows"]] == [IMPORTER_NAME]
    assert [r["key"] for r in theirs["trade_enterprise"]["rows"]] == [EXPORTER_NAME]
    assert theirs["inspection_waiting"]["rows"] == []
    assert mine["inspection_waiting"]["rows"][0]["containers"] == 2


@pytest.mark.parametrize("username", ["broker", "maritime", "border"])
def test_other_organisations_have_no_dashboard(traffic, api_for, client, username):
    client.force_login(user(username))

    assert api_for(user(username)).get("/api/v1/analytics/dashboard/").status_code == 404
    assert api_for(user(username)).get("/api/v1/analytics/map/").status_code == 404
    assert client.get("/analytics/").status_code == 404
    assert client.get("/analytics/map/").status_code == 404
    assert client.get("/analytics/export/activity.csv").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, api_for):
    assert client.get("/analytics/").status_code == 302
    assert client.get("/analytics/export/activity.csv").status_code == 302


def test_dashboard_page_shows_own_figures_and_navigation(traffic, client):
    client.force_login(traffic.importer)

    page = client.get("/analytics/").content.decode()

    assert IMPORTER_NAME in page
    assert EXPORTER_NAME not in page
    assert f'data-live-subscribe="dashboard:{traffic.importer_org.pk}"' in page
    assert 'href="/analytics/"' in page  # the navigation links the dashboard
    assert "vendor/echarts.min.js" in page


def test_the_charts_name_directions_in_the_readers_language(traffic, client):
    client.force_login(traffic.officer)

    page = client.get("/analytics/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    labels = page.split('id="direction-labels"', 1)[1].split("</script>", 1)[0]
    assert json.loads(labels.split(">", 1)[1]) == {"import": "进口", "export": "出口"}


def test_the_port_wide_page_subscribes_to_the_port_and_lists_everyone(traffic, client):
    client.force_login(traffic.officer)

    page = client.get("/analytics/").content.decode()

    assert IMPORTER_NAME in page
    assert EXPORTER_NAME in page
    assert 'data-live-subscribe="dashboard:port"' in page


def test_a_live_refresh_returns_the_body_only(traffic, client):
    client.force_login(traffic.officer)

    body = client.get("/analytics/", headers={"HX-Request": "true"}).content.decode()

    assert "<html" not in body
    assert 'id="dashboard-data"' in body


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_every_table_exports_as_csv_within_the_scope(traffic, client, api_for):
    client.force_login(traffic.importer)
    keys = list(tables_of(api_for(traffic.importer).get("/api/v1/analytics/dashboard/")))

    for key in keys:
        response = client.get(f"/analytics/export/{key}.csv")
        assert response.status_code == 200, key
        assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(client.get("/analytics/export/trade_enterprise.csv"))
    assert rows[0] == ["Top enterprises", "Declarations", "Containers", "Value (CNY)"]
    assert rows[1:] == [[IMPORTER_NAME, "2", "3", "1372000.0"]]


def test_csv_of_an_unknown_table_is_404_and_a_bad_filter_is_400(traffic, client):
    client.force_login(traffic.officer)

    assert client.get("/analytics/export/salaries.csv").status_code == 404
    response = client.get("/analytics/export/activity.csv?period=year&on=yesterday")
    assert response.status_code == 400
    assert "period" in response.content.decode()
    assert "on" in response.content.decode()


def test_api_refuses_bad_filters_field_by_field(traffic, api_for):
    response = api_for(traffic.officer).get(
        "/api/v1/analytics/dashboard/", {"period": "year", "direction": "sideways", "on": "x"}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"period", "direction", "on"}


def test_filters_narrow_the_figures(traffic, api_for):
    client = api_for(traffic.officer)

    exports = tables_of(client.get("/api/v1/analytics/dashboard/", {"direction": "export"}))
    other_terminal = tables_of(
        client.get("/api/v1/analytics/dashboard/", {"terminal": traffic.port_call.terminal_id + 1})
    )

    assert [r["key"] for r in exports["trade_enterprise"]["rows"]] == [EXPORTER_NAME]
    assert other_terminal["trade_enterprise"]["rows"] == []
    assert activity(other_terminal)["declaration.filed"] == 0


def test_an_invalid_filter_on_the_page_shows_the_error_and_the_default_view(traffic, client):
    client.force_login(traffic.officer)

    page = client.get("/analytics/?on=not-a-date").content.decode()

    assert "has-error" in page
    assert IMPORTER_NAME in page


def test_dashboard_api_query_count_does_not_grow_with_history(demo, api_for):
    file(demo, [TILES])
    services.rollups_consume()
    client = api_for(demo.officer)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/analytics/dashboard/")
    for _ in range(5):
        file(demo, [ItemInput(**MEAT_ITEM)], containers=2)
        file(demo, [TILES], user=demo.exporter)
    services.rollups_consume()

    with CaptureQueriesContext(connection) as many:
        response = client.get("/api/v1/analytics/dashboard/")

    assert activity(tables_of(response))["declaration.filed"] == 11
    assert len(many) == len(few)


def test_map_shows_berths_blocks_areas_and_the_vessel_at_berth(traffic, client, api_for):
    berth = Berth.objects.get(terminal=traffic.port_call.terminal, code="14")
    PortCall.objects.filter(pk=traffic.port_call.pk).update(
        status=PortCall.Status.BERTHED, berth=berth
    )
    aboard = list(DeclarationContainer.objects.values_list("container__number", flat=True))
    diversion.diversion_plan(port_call_id=traffic.port_call.pk, container_numbers=aboard)
    diversion.containers_report_discharged(
        user=traffic.terminal, port_call_id=traffic.port_call.pk, container_numbers=aboard[:1]
    )
    client.force_login(traffic.terminal)

    page = client.get("/analytics/map/").content.decode()
    plan = api_for(traffic.terminal).get("/api/v1/analytics/map/").json()
    theirs = api_for(traffic.importer).get("/api/v1/analytics/map/").json()

    assert 'data-berth="14"' in page
    assert 'data-block="S3"' in page
    assert 'data-area="IA1"' in page
    assert 'data-vessel="CSCL XIAMEN"' in page
    xhct = next(t for t in plan["terminals"] if t["code"] == "XHCT")
    assert xhct["waiting"] == 2
    assert xhct["containers_today"] == 4
    at_14 = next(b for b in xhct["berths"] if b["code"] == "14")
    assert (at_14["vessel"], at_14["aboard"], at_14["discharged"]) == ("CSCL XIAMEN", 3, 1)
    assert "3 aboard · 1 discharged" in page
    assert plan["vessels_at_berth"] == 1
    # the discharge is the terminal's figure: an enterprise's map leaves it out
    theirs_14 = next(b for t in theirs["terminals"] for b in t["berths"] if b["code"] == "14")
    assert theirs_14["aboard"] is None


def test_an_enterprise_map_counts_its_own_containers_only(traffic, api_for):
    plan = api_for(traffic.exporter).get("/api/v1/analytics/map/").json()

    xhct = next(t for t in plan["terminals"] if t["code"] == "XHCT")
    assert (xhct["containers_today"], xhct["waiting"]) == (1, 0)


def test_big_screen_mode(traffic, client):
    client.force_login(traffic.officer)

    page = client.get("/analytics/map/?big=1").content.decode()

    assert (
        "analytics/big-screen.js" in page
    )  # it turns the page dark and large (CSP: no inline script)
    assert "Leave big screen" in page


def test_the_port_authority_starts_on_the_dashboard(demo, client):
    client.force_login(user("portauth"))

    assert client.get("/").url == "/analytics/"
