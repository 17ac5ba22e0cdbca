"""Dated reference data: editions, their effective dates, loaders of the publishers' formats,
rates of the day, and the CUSRES references."""

import datetime
import json
import re
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from openpyxl import Workbook

from declarations import edifact as declaration_edifact
from declarations import services as declaration_services
from declarations.models import Declaration
from port import identifiers
from port.errors import InvalidInput
from reference import builtin, formats, queries, services, tasks
from tests.conftest import MEAT_ITEM

DAY = datetime.timedelta(days=1)
NEW_CODE = "300710"  # not in HS 2022: stands for a subheading a new edition creates
GONE_CODE = "010121"  # in HS 2022: stands for one it deletes


def _next_hs_rows():
    rows = [r for r in builtin.rows("hs") if r[0] != GONE_CODE]
    return [*rows, (NEW_CODE, "Vaccines for human medicine (test edition)", {})]


def _load_next_hs(effective_from):
    return services.edition_load(
        dataset="hs", name="HS next (test)", effective_from=effective_from, rows=_next_hs_rows()
    )


def test_an_edition_takes_effect_on_its_date_and_not_the_day_before(db):
    effective = datetime.date(2028, 1, 1)
    _load_next_hs(effective)

    identifiers.validate_hs_code(f"{GONE_CODE}0000", on_date=effective - DAY)
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_hs_code(f"{GONE_CODE}0000", on_date=effective)
    assert refused.value.messages == [f"{GONE_CODE} is not an HS next (test) subheading."]

    identifiers.validate_hs_code(f"{NEW_CODE}0000", on_date=effective)
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_hs_code(f"{NEW_CODE}0000", on_date=effective - DAY)
    assert refused.value.messages == [f"{NEW_CODE} is not an HS 2022 subheading."]


def test_loading_an_edition_records_what_changed_against_the_one_before(db):
    edition = _load_next_hs(datetime.date(2028, 1, 1))

    assert edition.changes["against"] == "HS 2022"
    assert (edition.changes["added"], edition.changes["removed"]) == (1, 1)
    assert edition.changes["examples"]["added"] == [NEW_CODE]
    assert edition.changes["examples"]["removed"] == [GONE_CODE]
    assert edition.changes["unchanged"] == len(builtin.rows("hs")) - 1


def test_a_filing_is_checked_against_the_edition_in_force_on_the_filing_date(demo):
    today = timezone.localdate()
    beef = {**MEAT_ITEM, "hs_code": f"{GONE_CODE}0000", "description": "Pure-bred horses"}
    _load_next_hs(today + DAY)  # takes effect tomorrow: today's filing is under HS 2022
    first = _file(demo, [beef], "BLTODAY0001")
    assert first.status == Declaration.Status.SUBMITTED

    services.edition_load(
        dataset="hs", name="HS next (test)", effective_from=today, rows=_next_hs_rows()
    )
    with pytest.raises(InvalidInput) as refused:
        _file(demo, [beef], "BLTODAY0002", "CSQU3054383")
    assert refused.value.errors["items"]["0"]["hs_code"] == [
        f"{GONE_CODE} is not an HS next (test) subheading."
    ]


def _file(demo, items, bl, container="COSU6123451"):
    return declaration_services.declaration_file(
        user=demo.importer,
        enterprise_id=None,
        port_call_id=demo.port_call.pk,
        bl_number=bl,
        container_numbers=[container],
        items=[declaration_services.ItemInput(**item) for item in items],
    )


def test_the_duty_uses_the_tariff_rate_in_force_on_the_filing_date(demo):
    today = timezone.localdate()
    rows = [("0202", "Frozen beef", {"unit": "kg", "rates": {"MFN": "0.12", "RCEP": "0.06"}})]
    services.edition_load(
        dataset="tariff", name="Tariff tomorrow", effective_from=today + DAY, rows=rows
    )
    before = _file(demo, [MEAT_ITEM], "BLDUTY0001")
    assert before.items.get().mfn_rate == Decimal("0.20")  # the shipped demo edition

    services.edition_load(dataset="tariff", name="Tariff today", effective_from=today, rows=rows)
    after = _file(demo, [MEAT_ITEM], "BLDUTY0002", "CSQU3054383")
    item = after.items.get()
    assert item.mfn_rate == Decimal("0.12")
    assert item.duty_estimate == Decimal("115200.00")  # 960,000 x 12 %


def test_the_server_refuses_a_cas_number_that_contradicts_the_commodity_code(demo):
    acetone_as_tiles = {**MEAT_ITEM, "hs_code": "6907210000", "cas_number": "67-64-1"}

    with pytest.raises(InvalidInput) as refused:
        _file(demo, [acetone_as_tiles], "BLCAS00001")

    assert refused.value.errors["items"]["0"]["cas_number"] == [
        "CAS 67-64-1 (Acetone) is classified under 291411, not 690721."
    ]
    assert not Declaration.objects.exists()
    acetone = {**MEAT_ITEM, "hs_code": "2914110000", "cas_number": "67-64-1"}
    _file(demo, [acetone], "BLCAS00002")


def test_an_edition_may_not_list_a_code_twice_nor_share_its_date_with_another(db):
    with pytest.raises(InvalidInput) as refused:
        services.edition_load(
            dataset="hs", name="Twice", effective_from=datetime.date(2030, 1, 1),
            rows=[("010121", "a", {}), ("010121", "b", {})],
        )  # fmt: skip
    assert "010121" in refused.value.errors["file"][0]
    # The shipped HS 2022 is not in the database; a loaded edition on its date is allowed.
    services.edition_load(
        dataset="hs", name="Other", effective_from=datetime.date(2031, 1, 1),
        rows=[("010121", "a", {})],
    )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        services.edition_load(
            dataset="hs", name="Clash", effective_from=datetime.date(2031, 1, 1),
            rows=[("010121", "a", {})],
        )  # fmt: skip
    assert refused.value.errors["effective_from"] == ["Other already takes effect on 2031-01-01."]


# --- Publisher formats ------------------------------------------------------------------------


def test_the_hs_loader_reads_the_datasets_csv_comtrade_json_and_xlsx(tmp_path, db):
    csv_file = tmp_path / "harmonized-system.csv"
    csv_file.write_text(
        "section,hscode,description,parent,level\n"
        'I,01,Animals; live,TOTAL,2\nI,0101,"Horses, asses",01,4\n'
        "I,010121,Horses; live pure-bred,0101,6\nI,01012,broken,0101,6\n"
    )
    read = formats.read_hs(csv_file)
    assert read.rows == [("010121", "Horses; live pure-bred", {})]
    assert read.skipped == ["line 5: 01012 is not a 6-digit subheading"]

    json_file = tmp_path / "H6.json"
    json_file.write_text(json.dumps({"results": [
        {"id": "TOTAL", "text": "Total of all HS commodities", "parent": "#"},
        {"id": "0101", "text": "0101 - Horses, asses", "parent": "01"},
        {"id": "010121", "text": "010121 - Horses; live, pure-bred", "parent": "0101"},
    ]}))  # fmt: skip
    assert formats.read_hs(json_file).rows == [("010121", "Horses; live, pure-bred", {})]

    book = Workbook()
    book.active.append(["Code", "Description"])
    book.active.append(["0101.21", "Horses; live, pure-bred"])
    book.save(tmp_path / "hs.xlsx")
    assert formats.read_hs(tmp_path / "hs.xlsx").rows == [("010121", "Horses; live, pure-bred", {})]


def test_the_full_shipped_hs_2022_loads_through_the_command(tmp_path, db, capsys):
    source = tmp_path / "hs2022.csv"
    source.write_text(
        "hscode,description,level\n"
        + "".join(f'{code},"{text}",6\n' for code, text, _ in builtin.rows("hs"))
    )
    call_command("load_reference", "hs", str(source), name="HS 2022 (loaded)",
                 effective_from=datetime.date(2022, 1, 1))  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["rows_read"] == 5613
    assert report["changes"]["added"] == report["changes"]["removed"] == 0
    queries.clear_cache()
    assert queries.edition_in_force("hs").name == "HS 2022 (loaded)"


def test_the_tariff_loader_reads_rates_in_percent_per_agreement(tmp_path, db):
    path = tmp_path / "tariff.csv"
    path.write_text(
        "code,description,unit,mfn,general,ACFTA,RCEP\n"
        "0202300090,Frozen boneless beef,kg,12%,70,0,6.5\n"
        "02023000,Bad rate,kg,twelve,70,,\n"
    )
    read = formats.read_tariff(path)
    assert read.rows == [("0202300090", "Frozen boneless beef", {"unit": "kg", "rates": {
        "MFN": "0.12", "GENERAL": "0.7", "ACFTA": "0", "RCEP": "0.065"}})]  # fmt: skip
    assert read.skipped == ["line 3: 02023000: not a rate in percent: mfn 'twelve'"]
    services.edition_load(
        dataset="tariff", name="T", effective_from=datetime.date(2026, 1, 1), rows=read.rows
    )
    assert queries.tariff_rates("0202300090", datetime.date(2026, 6, 1))["RCEP"] == Decimal("0.065")
    assert queries.tariff_rates("0202300010", datetime.date(2026, 6, 1)) == {}


def test_the_unlocode_loader_reads_unece_headerless_csv(tmp_path, db):
    """UNECE's own CSV: no header, Function before Status, ISO 8859-1; removed ("X") and
    reference ("=") entries are not places, and a place listed again under its name in another
    language (BEBRU) is read once."""
    path = tmp_path / "2025-1 UNLOCODE CodeListPart1.csv"
    path.write_bytes(
        ',"CN","","CHINA","CHINA","","","","","",""\n'
        ',"CN","XMN","Xiamen","Xiamen","FJ","12345---","AI","0307","",""\n'
        'X,"CN","OLD","Gone","Gone","","1-------","","","",""\n'
        '"=","CN","","Amoy = Xiamen","Amoy = Xiamen","","","","","",""\n'
        ',"BE","BRU","Brussel (Bruxelles)","Brussel (Bruxelles)","BRU","1234----","AI","","",""\n'
        ',"BE","BRU","Bruxelles (Brussel)","Bruxelles (Brussel)","BRU","1234----","AI","","",""\n'
        ',"ES","LCG","A Coru\xf1a","A Coruna","C","1234----","AI","","",""\n'.encode("latin-1")
    )
    read = formats.read_unlocode(path)
    assert [(code, name) for code, name, _ in read.rows] == [
        ("CNXMN", "Xiamen"),
        ("BEBRU", "Brussel (Bruxelles)"),
        ("ESLCG", "A Coruña"),
    ]
    assert read.rows[0][2] == {
        "subdivision": "FJ",
        "status": "AI",
        "function": "12345---",
        "iata": "",
    }


@pytest.mark.slow
def test_the_shipped_unlocode_edition_loads_whole_and_places_are_checked_against_it(db):
    """UNECE's UN/LOCODE 2023-1 (its three CodeListPart files, shipped in reference/data):
    every place loads, and once it is loaded a code that is no place is refused, with the
    edition named, where vessel filings and certificates check places."""
    identifiers.validate_unlocode("CNQQQ")  # no complete edition yet: format and country only

    edition = services.unlocode_load_shipped()

    assert (edition.name, edition.complete) == ("UN/LOCODE 2023-1", True)
    assert edition.rows > 115_000
    assert services.unlocode_load_shipped().pk == edition.pk  # a second load is a no-op
    assert tasks.unlocode_shipped_import_task() == edition.rows  # what `make run` queues
    for code in ("CNXMN", "CNNSA", "NLRTM", "USLGB", "SGSIN", "DEHAM"):
        identifiers.validate_unlocode(code)
    assert queries.unlocode_name("NLRTM") == "Rotterdam"
    with pytest.raises(ValidationError) as refused:
        identifiers.validate_unlocode("CNQQQ")
    assert refused.value.code == "unlocode_unknown"
    assert "UN/LOCODE 2023-1" in str(refused.value.messages)
    # Before the edition took effect, places are checked by format only.
    assert queries.unlocode_known("CNQQQ", datetime.date(2023, 6, 30)) == (True, "")


def test_ecb_rates_become_cny_per_unit_and_the_rate_of_the_day_is_the_latest_published(
    tmp_path, db
):
    path = tmp_path / "eurofxref-hist.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "eurofxref-hist.csv",
            "Date,USD,JPY,CNY,\n2030-01-03,1.10,160.0,8.00,\n2030-01-02,1.00,N/A,7.00,\n",
        )
    read = formats.read_ecb_rates(path)
    loaded = services.rates_load(rows=read.rows, source="test")
    assert loaded.currencies == 4  # EUR, USD, JPY, CNY
    queries.clear_cache()

    assert queries.rate_to_cny("USD", datetime.date(2030, 1, 2)) == (
        Decimal("7"), datetime.date(2030, 1, 2))  # fmt: skip
    # A Saturday takes Friday's rate.
    assert queries.to_cny(Decimal(100), "USD", datetime.date(2030, 1, 5)) == Decimal("727.27")
    assert queries.to_cny(Decimal(100), "CNY", datetime.date(2030, 1, 5)) == Decimal("100.00")
    assert queries.to_cny(Decimal(100), "XXX", datetime.date(2030, 1, 5)) is None


def test_the_shipped_ecb_rates_convert_a_past_day(db):
    # ECB reference rates of Friday 2026-10-30: 1 EUR = 7.4326 CNY = 1.1172 USD.
    assert queries.rate_to_cny("USD", datetime.date(2026, 11, 1)) == (
        Decimal("6.65288221"), datetime.date(2026, 10, 30))  # fmt: skip


# --- EDIFACT replies --------------------------------------------------------------------------


def test_two_replies_in_the_same_second_have_different_increasing_references(db):
    first = declaration_edifact.cusres_refusal(reference="R1", errors=[("BGM", "bad")])
    second = declaration_edifact.cusres_refusal(reference="R1", errors=[("BGM", "bad")])

    def references(text):
        interchange = re.search(r"UNB\+[^']*\+([0-9]+)'", text).group(1)
        message = re.search(r"UNH\+([^+]+)\+", text).group(1)
        unz = re.search(r"UNZ\+1\+([0-9]+)'", text).group(1)
        return interchange, message, unz

    one, two = references(first), references(second)
    assert one[0] == one[1] == one[2]
    assert two[0] == two[1] == two[2]
    assert int(two[0]) > int(one[0])
    assert len(two[0]) <= 14  # UNB 0020 is an..14


def test_a_warm_batch_check_makes_no_query(db, django_assert_num_queries):
    codes = [code for code, _text, _data in builtin.rows("hs")][:2000] + ["000000"]
    queries.hs_unknown(codes[:1])  # the first check reads the editions once per process
    with django_assert_num_queries(0):
        missing, edition = queries.hs_unknown(codes)
        for code in codes[:500]:
            identifiers.validate_hs_code(f"{code}0000")
    assert (missing, edition) == ({"000000"}, "HS 2022")


def test_the_dashboard_value_is_in_cny_at_the_rate_of_the_filing_day(demo):
    from analytics import services as analytics_services
    from analytics.models import ClearanceFact

    today = timezone.localdate()
    services.rates_load(rows=[("USD", today, Decimal("7.1"))], source="test")
    queries.clear_cache()
    declaration = _file(demo, [MEAT_ITEM], "BLUSD00001")  # 960,000
    Declaration.objects.filter(pk=declaration.pk).update(currency="USD")

    analytics_services.rollups_consume_all()

    assert ClearanceFact.objects.get(declaration_id=declaration.pk).value == Decimal("6816000.00")
