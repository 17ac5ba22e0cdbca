"""UN/EDIFACT: CUSDEC in through the one filing service, CUSRES out."""

from pathlib import Path

import pytest
from pydifact.segmentcollection import Interchange

from declarations import edifact, services
from declarations.models import Declaration
from tests.declarations.factories import file

SAMPLE = (Path(edifact.__file__).parent / "samples" / "cusdec_import.edi").read_text()
URL = "/api/v1/declarations/cusdec/"


def segments(cusres: str) -> list[tuple[str, list]]:
    return [(s.tag, s.elements) for s in Interchange.from_str(cusres).segments]


def test_a_cusdec_is_filed_and_answered_with_an_accepting_cusres(demo):
    result = edifact.declaration_file_cusdec(user=demo.importer, text=SAMPLE)

    declaration = Declaration.objects.get()
    assert result.declaration == declaration
    assert (declaration.bl_number, declaration.status) == ("COSU6401234560", "submitted")
    assert (declaration.port_of_loading, declaration.incoterm, declaration.currency) == (
        "AUMEL",
        "CIF",
        "CNY",
    )
    assert declaration.net_weight == 24000
    item = declaration.items.get()
    assert (item.hs_code, item.unit, item.quantity, item.origin_country) == (
        "0202300090",
        "kg",
        24000,
        "AU",
    )
    answer = segments(result.cusres)
    assert ("BGM", ["962", declaration.number, "9"]) in answer
    assert ("RFF", [["ABT", declaration.number]]) in answer
    assert ("RFF", [["ACW", "PO-2026-0815"]]) in answer
    assert ("EQD", ["CN", "COSU6123451"]) in answer


def test_the_same_cusdec_twice_files_once(demo):
    edifact.declaration_file_cusdec(user=demo.importer, text=SAMPLE)
    edifact.declaration_file_cusdec(user=demo.importer, text=SAMPLE)

    assert Declaration.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "segment", "message"),
    [
        (
            ("BGM+929+PO-2026-0815+9'", "BGM+999+PO-2026-0815+9'"),
            "BGM",
            "document code 999 is neither 929 (import) nor 830 (export)",
        ),
        (
            ("TDT+20+062E+1+++++:::9417402::CSCL XIAMEN'\n", ""),
            "TDT",
            "the means of transport (vessel and voyage) is missing",
        ),
        (
            ("CST+1+0202300090:122'", "CST+1'"),
            "CST (item 1)",
            "the commodity code (element 2) is missing",
        ),
        (
            ("QTY+1:24000:KGM'", "QTY+1:24000:TNE'"),
            "QTY (item 1)",
            "unit TNE is not one of KGM, H87, SET, LTR, MTR, MTK, PR",
        ),
        (
            ("UNH+1+CUSDEC:D:96B:UN'", "UNH+1+CUSCAR:D:96B:UN'"),
            "UNH",
            "the message type is CUSCAR, not CUSDEC",
        ),
        (("UNT+24+1'\n", ""), "UNH", "UNH segment was not closed with a UNT segment."),
    ],
)
def test_a_malformed_cusdec_is_refused_naming_the_segment(demo, change, segment, message):
    result = edifact.declaration_file_cusdec(user=demo.importer, text=SAMPLE.replace(*change))

    assert result.declaration is None
    assert result.errors == [(segment, message)]
    assert ("FTX", ["AAO", "", "", f"{segment}: {message}"]) in segments(result.cusres)
    assert Declaration.objects.exists() is False


def test_bad_values_are_refused_with_their_segments(demo):
    text = SAMPLE.replace("EQD+CN+COSU6123451'", "EQD+CN+COSU6123452'").replace(
        "LOC+27+AU'\nUNS+S'", "LOC+27+XX'\nUNS+S'"
    )

    result = edifact.declaration_file_cusdec(user=demo.importer, text=text)

    assert result.errors == [
        ("EQD", "COSU6123452: the check digit is wrong (ISO 6346)."),
        ("LOC+27 (item 1)", "XX is not an ISO 3166 country code."),
    ]
    assert Declaration.objects.exists() is False


def test_another_enterprise_named_in_nad_is_refused(demo):
    text = SAMPLE.replace("NAD+IM+3502960127::95'", "NAD+IM+3502930458::95'")

    result = edifact.declaration_file_cusdec(user=demo.importer, text=text)

    assert result.errors == [("NAD", "You may not file for this enterprise.")]


def test_a_declaration_round_trips_through_cusdec(demo):
    original = file(demo, header={"port_of_loading": "AUMEL"})
    services.declaration_withdraw(declaration_id=original.pk, user=demo.importer, reason="resend")

    result = edifact.declaration_file_cusdec(user=demo.importer, text=edifact.cusdec_for(original))

    copy = result.declaration
    assert result.errors == []
    assert copy.bl_number == original.bl_number
    assert [c.number for c in copy.containers.all()] == [
        c.number for c in original.containers.all()
    ]
    assert copy.items.get().hs_code == original.items.get().hs_code


def test_api_takes_cusdec_and_answers_cusres(demo, api_for):
    client = api_for(demo.importer)

    accepted = client.post(URL, SAMPLE, content_type="application/edifact")
    refused = client.post(
        URL, "UNB+UNOW:4+X+Y+261122:1130+R1'UNH+1+CUSDEC:D:96B:UN'", content_type="text/plain"
    )
    declaration = Declaration.objects.get()
    status = client.get(f"/api/v1/declarations/{declaration.pk}/cusres/")

    assert accepted.status_code == 201
    assert accepted["Content-Type"].startswith("application/edifact")
    assert f"BGM+962+{declaration.number}+9'" in accepted.content.decode()
    assert refused.status_code == 400
    assert (
        "FTX+AAO+++UNH?: UNH segment was not closed with a UNT segment." in refused.content.decode()
    )
    assert "FTX+AHN+++SUBMITTED'" in status.content.decode()


def test_another_enterprise_cannot_read_the_cusres(demo, api_for):
    declaration = file(demo)

    response = api_for(demo.exporter).get(f"/api/v1/declarations/{declaration.pk}/cusres/")

    assert response.status_code == 404
