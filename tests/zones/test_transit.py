import pytest

from alarms.models import Alarm
from inspection.models import GateEvent
from port.errors import InvalidInput
from port.models import Container, TimelineEvent
from tests.zones.factories import GPU, document, read, stock_in
from zones import services
from zones.models import Transit

CONTAINER, SEAL = "TGHU0000013", "ES20261204"


def open_transit(demo, **overrides):
    data = {
        "container": CONTAINER,
        "seal": SEAL,
        "origin": "Longyan inland port",
        "truck_plate": "闽F12345",
    }
    data.update(overrides)
    return services.transit_open(user=demo.exporter, data=data)


def test_a_matching_seal_writes_the_transit_off_and_reports_the_gate_in(demo):
    Container.objects.create(number=CONTAINER)
    transit = open_transit(demo)

    services.transit_seal_read(user=demo.terminal, data={"container": CONTAINER, "seal": SEAL})

    transit.refresh_from_db()
    assert transit.status == Transit.Status.WRITTEN_OFF
    assert transit.terminal.code == "XHCT"
    assert GateEvent.objects.get().direction == "in"  # which plans the export's diversion
    assert TimelineEvent.objects.filter(kind="zone.transit_written_off").count() == 1
    assert Alarm.objects.exists() is False


def test_a_different_seal_is_a_critical_alarm(demo):
    transit = open_transit(demo)

    services.transit_seal_read(user=demo.terminal, data={"container": CONTAINER, "seal": "ES999"})

    transit.refresh_from_db()
    assert transit.status == Transit.Status.SEAL_ALARM
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.severity, alarm.customs_office_id) == (
        "transit.seal_mismatch",
        "critical",
        demo.customs.pk,
    )
    assert GateEvent.objects.exists() is False


def test_a_broken_seal_is_an_alarm_even_with_the_right_number(demo):
    open_transit(demo)
    services.transit_seal_read(
        user=demo.terminal, data={"container": CONTAINER, "seal": SEAL, "seal_intact": False}
    )
    assert Transit.objects.get().status == Transit.Status.SEAL_ALARM


def test_a_seal_read_without_a_transit_is_refused(demo):
    with pytest.raises(InvalidInput):
        services.transit_seal_read(user=demo.terminal, data={"container": CONTAINER, "seal": SEAL})


def test_one_transit_per_container_at_a_time(demo):
    open_transit(demo)
    with pytest.raises(InvalidInput):
        open_transit(demo)


def test_a_zone_exit_to_the_port_under_seal_opens_its_transit(zone):
    stock_in(zone)
    services.movement_file_many(
        user=zone.co,
        documents=[
            document("port_out", container=CONTAINER, seal=SEAL, lines=[dict(GPU, quantity="10")])
        ],
        source="api",
    )

    passage = services.gate_read(
        user=zone.camera, gate_id=zone.gate.pk, read=read(containers=[CONTAINER], seal=SEAL)
    )

    assert passage.decision == "release"
    transit = Transit.objects.get()
    assert (transit.container_number, transit.seal_number, transit.organisation) == (
        CONTAINER,
        SEAL,
        zone.org,
    )


def test_the_api_opens_and_reads(demo, api_for):
    opened = api_for(demo.exporter).post(
        "/api/v1/zones/transits/",
        {"container": CONTAINER, "seal": SEAL, "origin": "Longyan"},
        format="json",
    )
    read_back = api_for(demo.terminal).post(
        "/api/v1/zones/transits/seal-reads/", {"container": CONTAINER, "seal": SEAL}, format="json"
    )
    bad = api_for(demo.terminal).post(
        "/api/v1/zones/transits/seal-reads/", {"container": "X", "seal": SEAL}, format="json"
    )

    assert opened.status_code == 201
    assert read_back.json()["status"] == "written_off"
    assert bad.status_code == 400
    assert api_for(demo.importer).get("/api/v1/zones/transits/").json()["results"] == []
    assert len(api_for(demo.exporter).get("/api/v1/zones/transits/").json()["results"]) == 1
