"""CUSCAR (customs cargo report) import: consignments, parties, goods and equipment onto the
call's manifest, reconciled against the bay plan; real-file faults as warnings or refusals."""

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from shipping import cuscar, edifact
from shipping.models import ManifestConsignment, ManifestEntry

SAMPLES = Path(__file__).parent / "edifact"
CUSCAR = (SAMPLES / "cuscar_d95b_xiamen.edi").read_text()


def test_consignments_parties_goods_and_equipment_are_read_with_the_file_faults():
    report = cuscar.parse(CUSCAR)

    summary = report.summary()
    assert summary["counted"] == {
        "consignments": 2, "goods_items": 3, "containers": 3, "refused": 1, "warnings": 2
    }  # fmt: skip
    beef, chemicals = report.consignments
    assert (beef.bl_number, beef.shipper, beef.consignee, beef.notify_party) == (
        "OOLU2612030001", "PACIFIC AGRI EXPORTS LLC", "XIAMEN HARBOUR FOODS IMPORT CO LTD",
        "XIAMEN JINHAI CUSTOMS BROKERAGE",
    )  # fmt: skip
    assert (beef.port_of_loading, beef.port_of_discharge) == ("USLGB", "CNXMN")
    item = beef.goods[0]
    assert (item.packages, item.package_kind, item.description) == (
        1200,
        "CT",
        "FROZEN BONELESS BEEF",
    )
    assert (item.gross_weight_kg, item.marks, item.hs_code) == (
        "21500.0",
        "PAF/XMN 1-1200",
        "020230",
    )
    assert beef.equipment[0].seals == ["OOL998877"]
    assert chemicals.bl_number == "OOLU2612030002"  # from RFF+BM
    assert chemicals.goods[0].un_number == "1090"
    assert chemicals.container_numbers() == ["MOEU0710945", "TGHU9876542"]
    assert summary["refused"][0]["segment"] == "EQD at segment 42"
    assert "ABCD12345" in summary["refused"][0]["reason"]
    assert summary["warnings"] == [
        "UNG functional group at segment 3: read through the group.",
        "UNT at segment 44 counts 40 segments; the message has 41.",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("UNH+1+BAPLIE:D:95B:UN'BGM++1'UNT+3+1'", "The file holds no CUSCAR message."),
        ("UNB+UNOA:2+A+B+261203:0815+1'UNH+1+CUSCAR:D:95B:UN'BGM+85+X", "Not readable"),
    ],
)
def test_a_file_without_a_readable_cuscar_is_refused_with_a_reason(text, reason):
    with pytest.raises(edifact.Unreadable) as refused:
        cuscar.parse(text)
    assert reason in str(refused.value)


def test_truncated_and_odd_segments_never_crash():
    odd = CUSCAR.replace("GID+1+1200:CT'", "GID'").replace(
        "MEA+AAE+G+KGM:21500'", "MEA+AAE+G+KGM:lots'"
    )
    odd = odd.replace("PIA+5+291411:HS'", "PIA+5+29X411:HS'").replace(
        "CNI+1+OOLU2612030001'", "CNI'"
    )
    report = cuscar.parse(odd)
    assert len(report.consignments) == 2
    assert report.consignments[0].goods[0].gross_weight_kg == ""
    assert any("CNI at segment 10 names no B/L" in w for w in report.warnings)
    assert any("PIA at segment" in w and "29X411" in w for w in report.warnings)


def test_the_import_writes_consignments_and_lines_and_reconciles_with_the_bay_plan(ship):
    call_command(
        "import_edifact", str(SAMPLES / "baplie_d95b_longbeach.edi"), "--call", str(ship.call.pk),
        stdout=io.StringIO(),
    )  # fmt: skip
    out = io.StringIO()
    call_command(
        "import_edifact", str(SAMPLES / "cuscar_d95b_xiamen.edi"), "--call", str(ship.call.pk),
        stdout=out,
    )  # fmt: skip

    summary = json.loads(out.getvalue())
    assert summary["counted"]["consignments"] == 2
    imported = summary["imported"]
    assert (imported["consignments"], imported["created"], imported["updated"]) == (2, 3, 0)
    assert imported["bay_plan"] == {
        "compared": True,
        "not_in_bay_plan": ["TGHU9876542"],
        "not_in_cargo_report": ["OOLU8757889"],
    }
    consignment = ManifestConsignment.objects.get(bl_number="OOLU2612030002")
    assert consignment.submitted_by == ship.agent_org
    assert [g["description"] for g in consignment.goods] == ["ACETONE", "LAB GLASSWARE"]
    acetone = ManifestEntry.objects.get(bl_number="OOLU2612030002", container_number="MOEU0710945")
    assert (acetone.un_number, acetone.imdg_class, acetone.seal_number) == ("1090", "3", "SEAL1")
    assert acetone.gross_weight_kg == Decimal("3200.0")
    beef = ManifestEntry.objects.get(bl_number="OOLU2612030001")
    assert (beef.gross_weight_kg, beef.size_type) == (Decimal("25300.0"), "42R1")
    assert not ManifestEntry.objects.filter(container_number="ABCD12345").exists()


def test_without_a_bay_plan_the_reconciliation_says_so(ship):
    out = io.StringIO()
    call_command("import_edifact", str(SAMPLES / "cuscar_d95b_xiamen.edi"), "--call",
                 str(ship.call.pk), stdout=out)  # fmt: skip
    assert json.loads(out.getvalue())["imported"]["bay_plan"]["compared"] is False


def test_the_call_page_says_what_the_cargo_report_gave(ship):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from shipping import edifact_imports
    from shipping.models import EdifactImport

    client = Client()
    client.force_login(ship.agent)
    url = f"/shipping/calls/{ship.call.pk}/"
    client.post(url + "edifact/", {"file": SimpleUploadedFile("cuscar.edi", CUSCAR.encode())})
    edifact_imports.edifact_import_run(import_id=EdifactImport.objects.get().pk)

    page = client.get(url).content.decode()
    assert "CUSCAR: 2 consignments, 3 goods items, 3 containers read; 1 refused, 2 warnings" in page
    assert "Accepted: 3 manifest lines added, 0 replaced" in page
    assert "No bay plan has been imported for this call to compare with." in page
    assert "ABCD12345 (EQD at segment 42)" in page
