"""A national 10-digit tariff in its publisher's layout: the USITC's HTS CSV export (rates on
the 8-digit line, statistical 10-digit lines under it, FTA and preference programmes in the
special rate), dated, and the rate in force on the filing date."""

import datetime
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from reference import formats, queries, services

HEADER = (
    "HTS Number,Indent,Description,Unit of Quantity,General Rate of Duty,"
    "Special Rate of Duty,Column 2 Rate of Duty,Quota Quantity,Additional Duties\n"
)
# Lines as the USITC prints them (a US government work): a heading, an indented title with no
# number, an 8-digit line with its rates and its 10-digit statistical lines, a specific rate.
EXCERPT = HEADER + (
    '"0201","0","Meat of bovine animals, fresh or chilled:","","","","","",""\n'
    '"0201.10","1","Carcasses and half-carcasses:","","","","","",""\n'
    '"0201.10.50","2","Other","","26.4%","Free (BH,CL,CO,JO,MA,OM,P,PE,S,SG) 1.7% (KR) '
    'See 9822.04.01-9822.04.03 (AU)","31.1%","",""\n'
    '"0201.10.50.10","3","Veal","[""kg""]","","","","",""\n'
    '"","1","Horses:","","","","","",""\n'
    '"0101.30.00.00","1","Asses","[""No.""]","6.8%","Free (A+,AU,BH,CL,CO,D,E,IL,JO,KR,MA,OM,'
    'P,PA,PE,S,SG)","15%","",""\n'
    '"0102.29.20","3","Cows imported specially for dairy purposes","","Free","","6.6¢/kg","",""\n'
    '"1003.9","1","Other:","","","","","",""\n'
)
DAY = datetime.timedelta(days=1)


def test_the_usitc_layout_is_read_with_programme_rates_and_statistical_lines(tmp_path):
    path = tmp_path / "htsdata.csv"
    path.write_text("\ufeff" + EXCERPT, encoding="utf-8")  # the export starts with a BOM

    read = formats.read_tariff(path)

    lines = {code: (text, data) for code, text, data in read.rows}
    assert list(lines) == ["0201", "020110", "02011050", "0201105010", "0101300000", "01022920"]
    rates = lines["02011050"][1]["rates"]
    assert (rates["MFN"], rates["GENERAL"], rates["KR"], rates["SG"]) == (
        "0.264",
        "0.311",
        "0.017",
        "0",
    )
    assert "AU" not in rates  # "See 9822.04.01..." is a reference, not a rate
    # the statistical line takes the rates of its 8-digit line, and its own unit
    assert lines["0201105010"] == ("Veal", {"unit": "kg", "rates": rates})
    assert lines["0101300000"][1]["rates"]["A_PLUS"] == "0"  # GSP, least developed only
    # a specific rate is kept as text and gives no ad valorem rate
    cows = lines["01022920"][1]
    assert cows["rates"] == {"MFN": "0"}
    assert cows["specific"] == {"GENERAL": "6.6¢/kg"}
    assert read.skipped == ["line 9: 1003.9 is not a tariff code of 4 to 10 digits"]


def test_the_duty_rate_is_the_one_of_the_edition_in_force_on_the_date(tmp_path, db):
    path = tmp_path / "htsdata.csv"
    path.write_text(EXCERPT, encoding="utf-8")
    effective = datetime.date(2027, 1, 1)
    with open(os.devnull, "w") as quiet:
        call_command(
            "load_reference", "tariff", str(path), "--name", "HTS 2026",
            "--effective-from", "2026-01-01", stdout=quiet,
        )  # fmt: skip
    later = EXCERPT.replace('"26.4%"', '"20%"')
    path.write_text(later, encoding="utf-8")
    edition = services.edition_load(
        dataset="tariff", name="HTS 2027", effective_from=effective,
        rows=formats.read_tariff(path).rows,
    )  # fmt: skip

    assert queries.tariff_rates("0201105010", effective - DAY)["MFN"] == Decimal("0.264")
    assert queries.tariff_rates("0201105010", effective)["MFN"] == Decimal("0.20")
    assert queries.tariff_rates("0201105090", effective)["KR"] == Decimal("0.017")  # 8-digit line
    assert edition.changes["against"] == "HTS 2026"
    assert edition.changes["changed"] == 2  # the 8-digit line and its statistical line


FULL_FILE = os.environ.get("PORTWISE_USITC_HTS_CSV", "")


@pytest.mark.slow
@pytest.mark.skipif(
    not FULL_FILE or not Path(FULL_FILE).exists(),
    reason="set PORTWISE_USITC_HTS_CSV to the USITC's full HTS CSV export (not shipped)",
)
def test_the_full_published_usitc_file_loads(db):
    """Measured on 2026-12-04 with the export of 2025-04 (3.9 MB): 29,920 lines, none
    skipped, 19,733 of them 10-digit."""
    read = formats.read_tariff(Path(FULL_FILE))

    assert len(read.rows) > 25_000
    assert read.skipped == []
    edition = services.edition_load(
        dataset="tariff", name="US HTS (full)", effective_from=datetime.date(2025, 1, 1),
        rows=read.rows,
    )  # fmt: skip
    assert edition.rows == len(read.rows)
    assert queries.tariff_rates("0101300000", datetime.date(2025, 6, 1))["MFN"] == Decimal("0.068")
