"""Kinds from the inspection app feed the rollups: the decision-to-inspection and
inspection-to-release stages, the queue per area, containers arrived and gate-outs."""

from analytics import services
from analytics.models import ClearanceFact
from declarations.services import ItemInput
from inspection import gate as port_gate
from inspection import services as inspection_services
from tests.analytics.test_services import TILES, file
from tests.conftest import MEAT_ITEM


def inspect_and_release(demo, declaration) -> None:
    numbers = list(declaration.containers.values_list("number", flat=True))
    tickets = [
        inspection_services.inspection_report_arrival(user=demo.terminal, container_number=n)
        for n in numbers
    ]
    for _ in tickets:
        called = inspection_services.inspection_call_next(
            area_id=tickets[0].area_id, officer=demo.officer
        )
        inspection_services.inspection_start(inspection_id=called.pk, officer=demo.officer)
        inspection_services.inspection_record(
            inspection_id=called.pk,
            officer=demo.officer,
            result="conforming",
            findings="As declared",
        )
        inspection_services.inspection_finish(
            inspection_id=called.pk, officer=demo.officer, status="released"
        )


def activity(api_for, user) -> dict:
    tables = {
        t["key"]: t for t in api_for(user).get("/api/v1/analytics/dashboard/").json()["tables"]
    }
    return tables, {r["metric"]: r["count"] for r in tables["activity"]["rows"]}


def test_an_inspected_declaration_gets_every_stage(demo):
    declaration = file(demo, [ItemInput(**MEAT_ITEM)], containers=2)
    services.rollups_consume()  # the decision first, the inspection in a later batch
    inspect_and_release(demo, declaration)

    services.rollups_consume()

    fact = ClearanceFact.objects.get(declaration_id=declaration.pk)
    assert fact.outcome == "inspection_required"
    assert fact.filed_at <= fact.decided_at <= fact.inspection_started_at <= fact.released_at
    last = services.Watermark.objects.get().last_event_id
    assert services.counts_by_key() == services.hourly_counts_recount(up_to_event_id=last)


def test_queue_arrivals_and_gate_outs_reach_the_dashboard(demo, api_for):
    # given: one inspected and released, one waiting in the queue, a gate-out of each
    released = file(demo, [ItemInput(**MEAT_ITEM)])
    waiting = file(demo, [ItemInput(**MEAT_ITEM)], containers=2)
    inspect_and_release(demo, released)
    inspection_services.inspection_report_arrival(
        user=demo.terminal, container_number=waiting.containers.first().number
    )
    for declaration in (released, waiting):
        port_gate.gate_report(
            user=demo.terminal,
            container_number=declaration.containers.first().number,
            direction="out",
        )

    services.rollups_consume()

    tables, counts = activity(api_for, demo.officer)
    assert counts["inspection.queued"] == 2
    assert counts["inspection.status_changed:released"] == 1
    assert counts["gate.passed:out"] == 1
    assert counts["gate.refused:out"] == 1
    assert [(r["waiting"]) for r in tables["inspection_queue"]["rows"]] == [1]
    # the importer sees its own queue and its own containers at the gate; the exporter neither
    mine_tables, mine = activity(api_for, demo.importer)
    assert (mine["gate.passed:out"], mine["gate.refused:out"]) == (1, 1)
    assert [r["waiting"] for r in mine_tables["inspection_queue"]["rows"]] == [1]
    theirs_tables, theirs = activity(api_for, demo.exporter)
    assert theirs_tables["inspection_queue"]["rows"] == []
    assert (theirs["gate.passed:out"], theirs["gate.refused:out"]) == (0, 0)


def test_released_goods_keep_no_inspection_stage(demo):
    declaration = file(demo, [TILES])

    services.rollups_consume()

    fact = ClearanceFact.objects.get(declaration_id=declaration.pk)
    assert fact.inspection_started_at is None
    assert fact.released_at == fact.decided_at


def test_the_diversion_of_a_berthed_vessel_and_its_lifts_saved(demo, api_for):
    # given: a berthed call with one selected container, one released, one undeclared
    from inspection import diversion
    from port.models import PortCall
    from shipping import services as shipping_services
    from tests.conftest import container_number

    selected = file(demo, [ItemInput(**MEAT_ITEM)])
    released = file(demo, [TILES])
    berth = demo.port_call.terminal.berths.order_by("code").first()
    shipping_services.port_call_mark_berthed(
        port_call_id=demo.port_call.pk, user=demo.terminal, berth_id=berth.pk
    )
    numbers = [
        selected.containers.first().number,
        released.containers.first().number,
        container_number(990001),
    ]
    diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=numbers)

    # when
    tables = {
        t["key"]: t
        for t in api_for(demo.officer).get("/api/v1/analytics/dashboard/").json()["tables"]
    }
    theirs = {
        t["key"]: t
        for t in api_for(demo.importer).get("/api/v1/analytics/dashboard/").json()["tables"]
    }

    # then
    saved = diversion.lifts_saved(port_call_id=demo.port_call.pk)
    call = PortCall.objects.select_related("vessel").get(pk=demo.port_call.pk)
    assert tables["diversion"]["rows"] == [
        {
            "call": f"{call.vessel.name} {call.voyage}",
            "ship_side": 0,
            "inspection_area": 1,
            "yard": 2,
            "direct_loading": 0,
            "lifts_saved": saved["lifts_saved"],
            "saved_percent": saved["saved_percent"],
        }
    ]
    assert theirs["diversion"]["rows"] == []  # the terminal's figures, not an enterprise's
