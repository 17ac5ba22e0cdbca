"""PAXLST import: crew and passenger lists (FAL 5/6) into the vessel filing, personal data
masked in every summary and never logged."""

import dataclasses
import io
import json
import logging
from pathlib import Path

from django.core.management import call_command

from shipping import paxlst, services
from shipping.models import FilingPerson
from tests.shipping.factories import filing_input

SAMPLE = Path(__file__).parent / "edifact" / "paxlst_d05b_crew.edi"
TEXT = SAMPLE.read_text()


def test_crew_are_read_with_documents_nationality_and_dates_and_bad_lines_refused():
    people = paxlst.parse(TEXT)

    master, officer = people.of("crew")
    assert (master.family_name, master.given_names, master.rank) == ("WANG", "JIANGUO", "MASTER")
    assert (master.nationality, master.document_number) == ("CN", "E12345678")
    assert str(master.date_of_birth) == "1972-03-14"
    assert str(officer.date_of_birth) == "1988-09-21"  # a 6-digit date
    assert officer.nationality == "PH"
    assert [r["segment"] for r in people.refused] == ["NAD at segment 24", "NAD at segment 28"]
    assert "not an ISO 3166 country" in people.refused[0]["reason"]
    assert people.refused[1]["reason"] == "missing date of birth, document number"
    assert people.warnings == ["UNT at segment 31 counts 28 segments; the message has 29."]


def test_the_summary_masks_document_numbers_and_names_no_birth_date():
    summary = json.dumps(paxlst.parse(TEXT).summary(), ensure_ascii=False)

    assert "E12345678" not in summary
    assert "P7654321A" not in summary
    assert "Z0000001" not in summary  # a refused person's document is not echoed either
    assert "1972" not in summary
    assert "•••••••78" in summary


def test_the_crew_list_files_into_the_vessel_filing(ship):
    crew = paxlst.person_inputs(paxlst.parse(TEXT).of("crew"))
    filing = services.filing_submit(
        user=ship.agent,
        port_call_id=ship.call.pk,
        direction="arrival",
        filing=dataclasses.replace(filing_input(), crew=crew, crew_count=2),
    )

    saved = FilingPerson.objects.filter(filing=filing).order_by("id")
    assert [(p.family_name, p.nationality, p.document_number) for p in saved] == [
        ("WANG", "CN", "E12345678"), ("SANTOS", "PH", "P7654321A")
    ]  # fmt: skip


def test_the_command_reads_a_paxlst_and_logs_no_personal_data(ship, caplog):
    out = io.StringIO()
    with caplog.at_level(logging.DEBUG):
        call_command("import_edifact", str(SAMPLE), "--call", str(ship.call.pk), stdout=out)

    summary = json.loads(out.getvalue())
    assert summary["counted"] == {"crew": 2, "passengers": 0, "refused": 2, "warnings": 1}
    assert summary["imported"]["people_read"] == 2
    assert "E12345678" not in out.getvalue() + caplog.text
