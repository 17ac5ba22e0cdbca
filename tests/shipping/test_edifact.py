"""The real EDIFACT samples (tests/shipping/edifact/, sources and licences in its README)."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from port.models import TimelineEvent
from shipping import edifact
from shipping.models import ManifestEntry

SAMPLES = Path(__file__).resolve().parent / "edifact"
ROOT = Path(__file__).resolve().parents[2]


def read(name: str) -> edifact.Result:
    return edifact.parse((SAMPLES / name).read_text(encoding="utf-8"))


def test_baplie_long_beach_reads_three_containers_and_warns_of_legacy_size_types():
    result = read("baplie_d95b_longbeach.edi")

    assert result.message_type == "BAPLIE"
    assert result.vessel == {
        "voyage": "042",
        "name": "OOCL BEIJING",
        "call_sign": "VRIB3",
        "imo_number": "",
    }
    assert [c.number for c in result.containers] == ["OOLU4293959", "MOEU0710945", "OOLU8757889"]
    assert [c.size_type for c in result.containers] == ["4200", "L5G1", "4500"]
    assert [c.stowage_position for c in result.containers] == ["0780690", "0060886", "0100114"]
    assert [c.gross_weight_kg for c in result.containers] == ["3833.0", "3983.0", "26000.0"]
    assert result.containers[0].port_of_discharge == "CNYTN"
    assert result.rejected == []
    assert result.warnings == [
        "EQD at segment 15: size-type 4200 is a legacy ISO 2716 code; kept as given.",
        "EQD at segment 29: size-type 4500 is a legacy ISO 2716 code; kept as given.",
    ]


def test_coarri_genoa_reads_both_messages_and_the_dangerous_container():
    result = read("coarri_d95b_genoa.edi")

    assert result.message_type == "COARRI"
    assert [(m["document"], m["containers"]) for m in result.messages] == [("44", 2), ("46", 19)]
    assert len(result.containers) == 21
    assert result.rejected == []
    assert result.warnings == []  # UNT and CNT counts are right in this file
    dangerous = [c for c in result.containers if c.un_number]
    assert [(c.number, c.imdg_class, c.un_number) for c in dangerous] == [
        ("CBHU6411248", "8", "2735")
    ]
    first = result.containers[0]
    assert (first.gross_weight_kg, first.size_type, first.description) == (
        "8914.0",
        "45G1",
        "GENERAL CARGO",
    )  # the gross weight, not the 4000 kg tare


def test_coarri_genoa_tells_the_discharge_message_from_the_loading_one():
    result = read("coarri_d95b_genoa.edi")

    assert [(m["document"], m["movement"]) for m in result.messages] == [
        ("44", "discharge"),
        ("46", "loading"),
    ]
    discharged = result.containers_moved("discharge")
    assert [(c.number, c.moved_at) for c in discharged] == [
        ("FCIU9908030", "2016-02-03T09:13:00"),
        ("MAGU5591240", "2016-02-03T09:11:00"),
    ]
    assert len(result.containers_moved("loading")) == 19


@pytest.mark.parametrize(
    ("find", "replace", "warning"),
    [
        (
            "BGM+44+",
            "BGM+98+",
            "BGM at segment 3: document code 98 is neither a discharge report (44, 119) "
            "nor a loading report (46, 122).",
        ),
        (
            "DTM+203:201602030913:203",
            "DTM+203:2016-02-03:203",
            "DTM at segment 11: 2016-02-03 is not a date and time in format 203 or 204; ignored.",
        ),
    ],
)
def test_coarri_faults_in_the_discharge_message_are_warnings(find, replace, warning):
    text = (SAMPLES / "coarri_d95b_genoa.edi").read_text().replace(find, replace, 1)

    result = edifact.parse(text)

    assert result.warnings == [warning]
    assert len(result.containers) == 21  # still read as a container list


def test_coarri_with_the_uncl_codes_119_and_122_is_read_the_same_way():
    text = (SAMPLES / "coarri_d95b_genoa.edi").read_text()
    text = text.replace("BGM+44+", "BGM+119+").replace("BGM+46+", "BGM+122+")

    result = edifact.parse(text)

    assert [m["movement"] for m in result.messages] == ["discharge", "loading"]
    assert len(result.containers_moved("discharge")) == 2


def test_coprar_without_envelope_reports_each_fault_and_rejects_the_bad_container():
    result = read("coprar_d95b_no_unb.edi")

    assert result.message_type == "COPRAR"
    assert result.vessel["call_sign"] == "D5EP4"
    assert result.containers == []
    assert [(r["container"], r["segment"]) for r in result.rejected] == [
        ("MSTI6415664", 10),
        ("MSTI6415664", 19),
    ]
    assert "the check digit should be 0, not 4" in result.rejected[0]["reason"]
    assert result.warnings == [
        "No UNB interchange header: read as a bare message (UNH … UNT).",
        "UNT at segment 29 counts 56 segments; the message has 29.",
        "CNT at segment 28 counts 5 containers; the message lists 2.",
    ]


def test_baplie_with_placeholders_rejects_the_non_iso_container_and_the_bad_imo():
    result = read("baplie_d04b_placeholders.edi")

    assert result.containers == []
    assert [(r["container"], r["segment"]) for r in result.rejected] == [("CONTAINER", 18)]
    assert result.vessel["imo_number"] == ""
    assert "All segments are on one line." in result.warnings
    assert "TDT at segment 5: IMONUMBER is not a valid IMO number; ignored." in result.warnings


def test_iftsta_container_with_a_failed_check_digit_is_rejected():
    result = read("iftsta_d00b.edi")

    assert result.message_type == "IFTSTA"
    assert result.containers == []
    assert result.rejected[0]["container"] == "TRHU4561222"
    assert result.rejected[0]["reason"] == (
        "TRHU4561222: the check digit should be 5, not 2 (ISO 6346)."
    )


@pytest.mark.parametrize("name", ["iftsai_d99b_rotterdam_1.edi", "iftsai_d99b_rotterdam_2.edi"])
def test_schedules_name_the_vessel_and_carry_no_containers(name):
    result = read(name)
    assert result.vessel["name"] in {"MADISON MAERSK", "ELLY MAERSK"}
    assert result.containers == []
    assert "The interchange has a UNB header but no UNZ trailer." in result.warnings


def test_ung_groups_are_read_through():
    text = (SAMPLES / "baplie_d95b_longbeach.edi").read_text()
    grouped = text.replace("UNH+1907", "UNG+BAPLIE+LBCTI+OOCLIES+160414:0307+1+UN+D:95B'\nUNH+1907")
    grouped = grouped.replace("UNZ+1+1865'", "UNE+1+1'\nUNZ+1+1865'")

    result = edifact.parse(grouped)

    assert len(result.containers) == 3
    assert "UNG functional group at segment 2: read through the group." in result.warnings


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "The file is empty."),
        ("BGM+1'DTM+137'", "No UNH message header"),
        ("HELLO+WORLD'", "Segment tag must be"),
        ("UNB+UNOA:2+X+Y+160414:0307+1'UNH+1+BAPLIE:D:95B:UN'EQD+CN+OOLU", "Not readable"),
    ],
)
def test_unreadable_input_raises_with_a_reason(text, reason):
    with pytest.raises(edifact.Unreadable) as refused:
        edifact.parse(text)
    assert reason in str(refused.value)


def test_command_prints_one_json_summary():
    out = io.StringIO()
    call_command("import_edifact", str(SAMPLES / "coprar_d95b_no_unb.edi"), stdout=out)

    summary = json.loads(out.getvalue())
    assert summary["file"] == "coprar_d95b_no_unb.edi"
    assert summary["message_type"] == "COPRAR"
    assert summary["vessel"]["name"] == "HELLO WORLD"
    assert (summary["containers_read"], summary["containers_rejected"]) == (0, 2)
    assert all(r["reason"] for r in summary["rejected"])
    assert len(summary["warnings"]) == 3


def test_command_imports_into_a_call_and_a_rerun_replaces(ship):
    out = io.StringIO()
    path = str(SAMPLES / "coarri_d95b_genoa.edi")
    call_command("import_edifact", path, "--call", str(ship.call.pk), stdout=out)
    call_command(
        "import_edifact", path, "--call", str(ship.call.pk), stdout=(again := io.StringIO())
    )

    first = json.loads(out.getvalue())
    assert first["imported"] == {"port_call": ship.call.pk, "created": 21, "updated": 0}
    assert json.loads(again.getvalue())["imported"]["updated"] == 21
    assert ManifestEntry.objects.filter(port_call=ship.call).count() == 21
    entry = ManifestEntry.objects.get(container_number="CBHU6411248")
    assert (entry.un_number, entry.imdg_class, entry.source) == ("2735", "8", "edifact")
    assert entry.submitted_by == ship.agent_org
    assert "The file names call sign 3ERX3" in " ".join(first["warnings"])
    assert TimelineEvent.objects.filter(kind="shipping.manifest_changed").count() == 2


def test_command_refuses_an_unknown_call_and_writes_nothing(db):
    with pytest.raises(CommandError, match="No port call 999999"):
        call_command("import_edifact", str(SAMPLES / "coarri_d95b_genoa.edi"), "--call", "999999")
    assert ManifestEntry.objects.exists() is False


def test_unreadable_file_exits_non_zero_with_a_one_line_reason(tmp_path):
    bad = tmp_path / "truncated.edi"
    bad.write_text("UNB+UNOA:2+X+Y+160414:0307+1'UNH+1+BAPLIE:D:95B:UN'EQD+CN+OOLU")
    missing = tmp_path / "missing.edi"

    for path in (bad, missing):
        done = subprocess.run(
            [sys.executable, "manage.py", "import_edifact", str(path)],
            cwd=ROOT,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1
        assert str(path.name) in lines[0]
