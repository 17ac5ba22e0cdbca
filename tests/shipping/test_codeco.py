"""CODECO (gate-in / gate-out) import: every container goes through the gate service the JSON
gate API uses, so a gate-out of an unreleased container is refused and alerts customs."""

from pathlib import Path

import pytest

from declarations.models import Declaration
from inspection import assessment
from inspection.models import Alert, GateEvent
from shipping import edifact_imports
from shipping.models import EdifactImport
from tests.conftest import MEAT_ITEM, filing

CODECO = (Path(__file__).parent / "edifact" / "codeco_d95b_xhct.edi").read_bytes()


@pytest.fixture
def selected(demo, api_for):
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json")
        .json()
    )
    assessment.assess_declarations(declaration_ids=[created["id"]])
    return Declaration.objects.get(pk=created["id"])


def _import(demo):
    upload = edifact_imports.edifact_import_create(
        user=demo.terminal, file_name="codeco.edi", content=CODECO, port_call_id=None
    )
    return edifact_imports.edifact_import_run(import_id=upload.pk)


def test_gate_moves_from_codeco_meet_the_same_refusals_and_alarms_as_the_api(demo, selected):
    done = _import(demo)

    assert done.status == EdifactImport.Status.DONE
    gate = done.summary["gate"]
    assert gate["passed"] == [{"container": "COSU6123451", "direction": "in"}]
    assert [(r["container"], r["direction"]) for r in gate["refused_at_gate"]] == [
        ("CSNU8011228", "out")
    ]
    assert gate["not_reported"][0]["container"] == "TGHU9876542"
    assert done.summary["rejected"][0]["container"] == "COSU6123452"
    assert any("UNT at segment" in w for w in done.summary["warnings"])
    refused = GateEvent.objects.get(container__number="CSNU8011228")
    assert (refused.direction, refused.allowed) == ("out", False)
    assert Alert.objects.filter(gate_event=refused).count() == 1


def test_importing_the_same_file_twice_reports_each_move_once(demo, selected):
    _import(demo)
    _import(demo)  # a second upload of the same file is another file: its moves are new
    assert GateEvent.objects.count() == 4
    first = EdifactImport.objects.order_by("pk").first()
    # the same import run again changes nothing
    edifact_imports.edifact_import_run(import_id=first.pk)
    assert GateEvent.objects.count() == 4


def test_the_command_reads_a_codeco_without_touching_the_manifest(ship):
    import io
    import json

    from django.core.management import call_command

    from shipping.models import ManifestEntry

    out = io.StringIO()
    path = Path(__file__).parent / "edifact" / "codeco_d95b_xhct.edi"
    call_command("import_edifact", str(path), "--call", str(ship.call.pk), stdout=out)

    summary = json.loads(out.getvalue())
    assert summary["message_type"] == "CODECO"
    assert summary["containers_read"] == 3
    assert summary["imported"]["created"] == 0
    assert not ManifestEntry.objects.exists()
    assert not GateEvent.objects.exists()
