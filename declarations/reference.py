"""Reference data for filing: currencies, incoterms; the CAS-to-HS table and the HS
nomenclature come from the reference app's editions in force (reference/queries.py)."""

import pycountry
from stdnum import casrn

from port import identifiers
from reference import queries as reference_queries
from reference.queries import CasEntry  # noqa: F401 - re-exported for callers


def is_currency(code: str) -> bool:
    return bool(code) and pycountry.currencies.get(alpha_3=code) is not None


def is_cas_number(value: str) -> bool:
    return casrn.is_valid(value)


def cas_table() -> tuple[CasEntry, ...]:
    edition = reference_queries.edition_in_force("cas")
    return tuple(
        CasEntry(cas, data["hs_code"], name)
        for cas, (name, data) in reference_queries.codes(edition).items()
    )


def cas_suggestions(query: str, *, limit: int = 8) -> list[CasEntry]:
    """Entries whose CAS number starts with, or whose name contains, the query."""
    return reference_queries.cas_suggestions(query, limit=limit)


def cas_hs_code(cas_number: str) -> str | None:
    entry = reference_queries.cas_entry(cas_number)
    return entry.hs_code if entry else None


def cas_contradiction(cas_number: str, hs_code: str, on_date=None) -> str:
    """A message when the CAS table classifies the substance under another subheading."""
    return reference_queries.cas_contradiction(cas_number, hs_code, on_date)


def hs_suggestions(query: str, *, limit: int = 10) -> list[tuple[str, str]]:
    """Subheadings in force whose code starts with, or description contains, the query."""
    return reference_queries.hs_suggestions(query, limit=limit)


def hs_exists(code6: str) -> bool:
    return identifiers.hs_subheading_exists(code6)
