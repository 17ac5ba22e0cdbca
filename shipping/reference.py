"""Dangerous-goods reference data (UN numbers from the reference app; shipping/data/ holds the
headings table, documented in its README) and validators."""

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from reference import queries as reference_queries

DATA = Path(__file__).resolve().parent / "data"
UN_NUMBER_PATTERN = re.compile(r"^[0-9]{4}$")
# IMDG classes and divisions; class 1 also as 1.1-1.6 (compatibility group dropped).
IMDG_CLASSES = frozenset(
    ["1", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "2", "2.1", "2.2", "2.3", "3", "4.1", "4.2"]
    + ["4.3", "5.1", "5.2", "6.1", "6.2", "7", "8", "9"]
)
PACKING_GROUPS = frozenset(["", "I", "II", "III"])
# ISO 9711 stowage cell: bay (3 digits), row (2), tier (2); BAPLIE sometimes drops bay's zero.
STOWAGE_PATTERN = re.compile(r"^[0-9]{6,7}$")


@dataclass(frozen=True)
class UnEntry:
    un_number: str
    imdg_class: str
    packing_groups: tuple[str, ...]
    proper_shipping_name: str


def un_table() -> dict[str, UnEntry]:
    """The UN numbers of the edition in force (reference app), read once per edition."""
    return _un_entries(reference_queries.edition_in_force("un_numbers"))


@functools.lru_cache(maxsize=4)
def _un_entries(edition) -> dict[str, UnEntry]:
    return {
        code: UnEntry(code, data["class"], tuple(data.get("packing_groups", ())), name)
        for code, (name, data) in reference_queries.codes(edition).items()
    }


@functools.cache
def dangerous_hs_headings() -> dict[str, str]:
    with (DATA / "dangerous_hs_headings.csv").open(encoding="utf-8") as handle:
        return {row["heading"]: row["description"] for row in csv.DictReader(handle)}


def same_class(declared: str, listed: str) -> bool:
    """Whether a declared class agrees with the table's: 1.4 agrees with 1 and 3 with 3.0."""
    declared, listed = declared.strip().removesuffix(".0"), listed.strip()
    return declared == listed or (listed.startswith("1.") and declared == "1")


def validate_un_number(value: str) -> None:
    if not UN_NUMBER_PATTERN.match(value or ""):
        raise ValidationError(_("A UN number has 4 digits, e.g. 1203."), code="un_number")


def validate_imdg_class(value: str) -> None:
    if value not in IMDG_CLASSES:
        raise ValidationError(
            _("%(value)s is not an IMDG class (1 to 9, with division, e.g. 2.1, 6.1)."),
            code="imdg_class",
            params={"value": value},
        )


def validate_packing_group(value: str) -> None:
    if value not in PACKING_GROUPS:
        raise ValidationError(_("The packing group is I, II or III."), code="packing_group")


def validate_stowage(value: str) -> None:
    if not STOWAGE_PATTERN.match(value):
        raise ValidationError(
            _("A stowage position is bay, row and tier in digits (BBBRRTT), e.g. 0100406."),
            code="stowage",
        )
