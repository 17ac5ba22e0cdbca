"""The terminal reports containers discharged: once each, only for its own berthed calls,
and the dashboards count them for the port and for the enterprise that imports them."""

import random

import pytest

from analytics import services as analytics_services
from analytics import simulation
from declarations.models import Declaration
from inspection import diversion
from inspection import gate as port_gate
from inspection.models import DiversionInstruction
from port.models import PortCall, TimelineEvent, User
from tests.inspection.test_diversion import berth, declare

DISCHARGED = "/api/v1/diversion/instructions/discharged/"
DECLARED, UNDECLARED = "COSU6123451", "OOLU6123458"


@pytest.fixture
def planned(demo, api_for):
    """The importer's container and an undeclared one, planned on the berthed 062E."""
    declare(demo, api_for, [DECLARED])
    berth(demo.port_call)
    diversion.diversion_plan(
        port_call_id=demo.port_call.pk, container_numbers=[DECLARED, UNDECLARED]
    )
    return demo


def discharged_events():
    return TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CONTAINER_DISCHARGED)


def test_the_terminal_reports_containers_discharged_once_each(planned, api_for):
    terminal = api_for(planned.terminal)
    body = {"port_call": planned.port_call.pk, "containers": [DECLARED, UNDECLARED]}

    first = terminal.post(DISCHARGED, body, format="json")
    again = terminal.post(DISCHARGED, body, format="json")

    assert first.status_code == 200, first.json()
    assert first.json() == {"discharged": 2, "already": 0}
    assert again.json() == {"discharged": 0, "already": 2}
    owners = dict(discharged_events().values_list("data__container", "organisation_id"))
    assert owners == {DECLARED: planned.importer_org.pk, UNDECLARED: None}
    assert not DiversionInstruction.objects.filter(discharged_at__isnull=True).exists()
    feed = terminal.get("/api/v1/diversion/instructions/").json()["results"]
    assert all(row["discharged_at"] for row in feed)


@pytest.mark.parametrize(
    ("containers", "field"),
    [
        ([DECLARED, "MSCU1234565"], "containers"),  # not on this vessel's list
        ([], "containers"),
        (["NOT-A-BOX-AT-ALL"], "containers"),
    ],
)
def test_a_bad_report_is_refused_field_by_field_and_records_nothing(
    planned, api_for, containers, field
):
    response = api_for(planned.terminal).post(
        DISCHARGED, {"port_call": planned.port_call.pk, "containers": containers}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not discharged_events().exists()
    assert not DiversionInstruction.objects.filter(discharged_at__isnull=False).exists()


def test_nothing_is_discharged_from_a_vessel_not_alongside(planned, api_for):
    PortCall.objects.filter(pk=planned.port_call.pk).update(status=PortCall.Status.DEPARTED)

    response = api_for(planned.terminal).post(
        DISCHARGED, {"port_call": planned.port_call.pk, "containers": [DECLARED]}, format="json"
    )

    assert response.status_code == 400
    assert "port_call" in response.json()
    assert not discharged_events().exists()


@pytest.mark.parametrize("username", ["importer", "officer", "portauth"])
def test_only_the_calls_terminal_operator_may_report(planned, api_for, username):
    response = api_for(User.objects.get(username=username)).post(
        DISCHARGED, {"port_call": planned.port_call.pk, "containers": [DECLARED]}, format="json"
    )

    assert response.status_code == 404
    assert not discharged_events().exists()


def test_the_dashboards_count_discharges_for_the_port_and_the_importer(planned, api_for):
    diversion.containers_report_discharged(
        user=planned.terminal,
        port_call_id=planned.port_call.pk,
        container_numbers=[DECLARED, UNDECLARED],
    )
    analytics_services.rollups_consume()

    def tile(user):
        tables = api_for(user).get("/api/v1/analytics/dashboard/").json()["tables"]
        rows = next(t for t in tables if t["key"] == "activity")["rows"]
        return next(r["count"] for r in rows if r["metric"] == "terminal.container_discharged")

    assert tile(planned.officer) == 2
    assert tile(planned.importer) == 1  # its own container only
    assert tile(planned.exporter) == 0


def test_the_terminal_reports_from_the_diversion_page(planned, client):
    url = f"/inspection/calls/{planned.port_call.pk}/diversion/"
    client.force_login(planned.officer)
    officer_page = client.get(url).content.decode()
    client.post(url, {"container": [DECLARED]})  # customs may look, not report
    assert not discharged_events().exists()

    client.force_login(planned.terminal)
    before = client.get(url).content.decode()
    response = client.post(url, {"container": [DECLARED]}, follow=True)

    assert f'value="{DECLARED}"' in before
    assert 'name="container"' not in officer_page
    page = response.content.decode()
    assert "1 containers recorded as discharged." in page
    assert f'value="{DECLARED}"' not in page  # reported: no longer offered
    assert f'value="{UNDECLARED}"' in page
    assert discharged_events().count() == 1


def test_the_simulated_terminal_discharges_what_is_still_aboard(planned):
    rng = random.Random(3)  # noqa: S311

    line = simulation.discharge_containers(rng)

    assert line == "2 containers discharged from CSCL XIAMEN"
    assert discharged_events().count() == 2
    assert simulation.discharge_containers(rng) is None  # nothing left aboard


def test_the_diversion_page_gives_the_reasons_in_the_readers_language(planned, client):
    client.force_login(planned.terminal)

    page = client.get(
        f"/inspection/calls/{planned.port_call.pk}/diversion/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()

    # planned by the worker in English, read in Chinese
    assert DiversionInstruction.objects.get(container__number=UNDECLARED).reason == (
        "Not yet declared"
    )
    assert "尚未申报" in page


def test_the_importer_follows_its_container_off_the_ship_and_out_of_the_gate(planned, client):
    declaration = Declaration.objects.get(containers__number=DECLARED)
    client.force_login(planned.importer)

    def where():
        page = client.get(f"/declarations/{declaration.pk}/").content.decode()
        return page.split('class="where">', 1)[1].split("</td>", 1)[0]

    aboard = where()
    diversion.containers_report_discharged(
        user=planned.terminal, port_call_id=planned.port_call.pk, container_numbers=[DECLARED]
    )
    off = where()
    port_gate.gate_report(user=planned.terminal, container_number=DECLARED, direction="out")
    gone = where()

    assert aboard == "Aboard, then to: Yard"
    assert off.startswith("Off the ship ")
    assert off.endswith(", to: Yard")
    assert gone.startswith("Out of the gate ")
