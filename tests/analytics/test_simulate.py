"""`manage.py simulate`: traffic through the normal services, and a clean stop."""

import io
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics import simulation
from certificates.models import Certificate
from declarations.models import Declaration
from declarations.services import ASSESS_TASK, ItemInput
from inspection import diversion
from inspection.models import RiskRule
from port.models import PortCall, TimelineEvent
from shipping import queries as shipping_queries
from tests.analytics.test_services import TILES, file
from tests.conftest import MEAT_ITEM, ROOT, _subprocess_env, queued


def test_simulated_filings_go_through_the_filing_service(demo):
    out = io.StringIO()

    call_command("simulate", speed=1000, duration=1.5, seed=7, stdout=out)

    declarations = Declaration.objects.all()
    assert declarations.count() >= 5
    assert set(declarations.values_list("status", flat=True)) == {"submitted"}  # the worker decides
    assert TimelineEvent.objects.filter(kind="declaration.filed").count() == declarations.count()
    assessed = {i for _, kwargs in queued(ASSESS_TASK) for i in kwargs["declaration_ids"]}
    assert assessed >= set(declarations.values_list("pk", flat=True))  # each one queued
    assert {d.direction for d in declarations} == {"import", "export"}
    assert "Simulation stopped after" in out.getvalue()


def test_simulated_goods_include_released_and_selected_codes(demo):
    rng = random.Random(3)  # noqa: S311
    for _ in range(40):
        simulation.file_declaration(rng)

    codes = set(Declaration.objects.values_list("items__hs_code", flat=True))
    prefixes = set(RiskRule.objects.values_list("hs_prefix", flat=True))
    assert any(code[:4] in prefixes for code in codes)
    assert any(code[:4] not in prefixes for code in codes)


def test_the_simulated_certificate_application_is_accepted(demo):
    line = simulation.apply_certificate(random.Random(1))  # noqa: S311

    certificate = Certificate.objects.get()
    assert certificate.exporter == demo.exporter_org
    assert "refused" not in line


def test_bad_options_are_refused():
    with pytest.raises(CommandError):
        call_command("simulate", speed=0)


@pytest.mark.slow
def test_simulate_runs_with_a_worker_and_stops_cleanly_on_sigterm(demo, celery_worker_process):
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "simulate", "--speed", "10", "--seed", "5"],
        cwd=ROOT,
        env=_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not Declaration.objects.exclude(status="submitted").exists():
        assert time.monotonic() < deadline, "no declaration was decided"
        time.sleep(0.5)

    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)

    assert process.returncode == 0, err
    assert "Simulation stopped after" in out


def test_the_port_side_steps_berth_inspect_and_gate(demo):
    # given: a selected declaration and a released one, decided as the worker would
    rng = random.Random(2)  # noqa: S311
    selected = file(demo, [ItemInput(**MEAT_ITEM)])
    released = file(demo, [TILES])

    # when: the vessel berths, both are discharged, the selected one is inspected
    lines = [
        simulation.announce_vessel(rng),  # its manifest: a vessel berths once it is filed
        simulation.berth_vessel(rng),
    ]
    aboard = simulation.container_to_inspection(rng)  # not before it is off the ship
    numbers = [c.number for d in (selected, released) for c in d.containers.all()]
    diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=numbers)
    diversion.containers_report_discharged(
        user=demo.terminal, port_call_id=demo.port_call.pk, container_numbers=numbers
    )
    lines += [simulation.container_to_inspection(rng), simulation.inspect_next(rng)]
    gates = [simulation.gate_out(rng) for _ in range(8)]

    # then: each container leaves the gate once, then there is nothing left to take out
    assert PortCall.objects.filter(status="berthed").count() == 1
    selected.refresh_from_db()
    assert selected.status == "released"  # inspected and released through the services
    kinds = set(TimelineEvent.objects.values_list("kind", flat=True))
    assert {"shipping.port_call_status_changed", "inspection.queued", "gate.passed"} <= kinds
    assert aboard is None
    assert all(lines), lines
    assert sorted(g for g in gates if g) == sorted(f"gate-out {n}: passed" for n in numbers)


def test_a_vessels_call_from_announcement_to_departure(demo):
    rng = random.Random(5)  # noqa: S311

    # given: the agent files the manifests of the two expected calls, then has nothing to do
    assert "announced" in simulation.announce_vessel(rng)
    assert "announced" in simulation.announce_vessel(rng)
    assert simulation.announce_vessel(rng) is None  # two calls expected, both with manifests
    call = demo.port_call
    aboard = set(
        shipping_queries.manifest_for_call(port_call_id=call.pk).values_list(
            "container_number", flat=True
        )
    )
    assert 30 <= len(aboard) <= 60

    # when: an import declares containers of the vessel; an export brings its own
    imported = simulation._containers_to_declare(rng, call, 3, exporting=False)
    exported = simulation._containers_to_declare(rng, call, 2, exporting=True)

    # then
    assert set(imported) <= aboard
    assert len(imported) == 3
    assert not set(exported) & aboard

    # when: it berths, is planned, discharged to the last container, and has been alongside
    simulation.berth_vessel(rng)
    diversion.diversion_plan_for_berthed_call(port_call_id=call.pk)  # the worker's hook
    PortCall.objects.filter(pk=call.pk).update(ata=timezone.now() - timedelta(minutes=5))
    assert simulation.depart_vessel(rng) is None  # containers still aboard
    while simulation.discharge_containers(rng):
        pass

    # then: it sails, and the fleet announces another call
    assert simulation.depart_vessel(rng) == f"CSCL XIAMEN {call.voyage} departed"
    assert PortCall.objects.get(pk=call.pk).status == PortCall.Status.DEPARTED
    PortCall.objects.filter(status=PortCall.Status.EXPECTED).update(status=PortCall.Status.DEPARTED)
    assert "announced" in simulation.announce_vessel(rng)
    assert PortCall.objects.filter(status=PortCall.Status.EXPECTED).count() == 1


def test_simulated_headers_vary_trade_mode_and_file_ahead_only_of_expected_vessels(demo):
    rng = random.Random(8)  # noqa: S311
    expected = demo.port_call
    berthed = PortCall(status=PortCall.Status.BERTHED)

    ahead = [simulation._header(rng, expected) for _ in range(200)]
    alongside = [simulation._header(rng, berthed) for _ in range(50)]

    assert len({h.trade_mode for h in ahead}) > 3
    assert any(h.is_advance and h.direct_delivery for h in ahead)
    assert not any(h.direct_delivery and not h.is_advance for h in ahead)
    assert not any(h.is_advance for h in alongside)


def test_on_a_fresh_start_the_demo_vessel_past_its_eta_berths_first(demo):
    """seed_demo's CSCL XIAMEN is due yesterday and has no manifest: the living port berths
    it rather than leaving it expected for ever."""
    assert demo.port_call.status == PortCall.Status.EXPECTED
    assert demo.port_call.eta < timezone.now()

    line = simulation.berth_vessel(random.Random(1))

    demo.port_call.refresh_from_db()
    assert demo.port_call.status == PortCall.Status.BERTHED
    assert "CSCL XIAMEN berthed" in line
