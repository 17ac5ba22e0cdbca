"""Reads of the dated reference data: which edition is in force on a date, and its codes.

Fast by construction (shared/volume.md): the list of editions is read once per process and
re-read at most every EDITIONS_TTL seconds (or at once after a load in this process); the
codes of an edition are read once per process and edition (an edition changes only by being
reloaded, which changes its `loaded_at`). A batch of codes is checked against an in-memory
set, with no query per code.
"""

import bisect
import datetime
import functools
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from reference import builtin
from reference.models import Edition, Entry, ExchangeRate

EDITIONS_TTL = 60.0
RATES_TTL = 300.0
_lock = threading.Lock()
_state: dict = {"editions": None, "editions_at": 0.0, "rates": None, "rates_at": 0.0}


@dataclass(frozen=True)
class EditionInfo:
    dataset: str
    name: str
    effective_from: datetime.date
    complete: bool
    pk: int | None = None  # None for the edition shipped with the code
    version: str = ""

    @property
    def key(self) -> tuple:
        return (self.dataset, self.pk, self.version)


def clear_cache() -> None:
    """Forget what this process read (after a load, and between tests)."""
    with _lock:
        _state.update(editions=None, editions_at=0.0, rates=None, rates_at=0.0)
    _codes.cache_clear()
    _unlocode_name.cache_clear()


def _editions() -> dict[str, list[EditionInfo]]:
    now = time.monotonic()
    editions = _state["editions"]
    if editions is None or now - _state["editions_at"] > EDITIONS_TTL:
        loaded: dict[str, list[EditionInfo]] = {}
        for row in Edition.objects.values(
            "pk", "dataset", "name", "effective_from", "complete", "loaded_at"
        ):
            loaded.setdefault(row["dataset"], []).append(
                EditionInfo(
                    row["dataset"],
                    row["name"],
                    row["effective_from"],
                    row["complete"],
                    row["pk"],
                    row["loaded_at"].isoformat(),
                )
            )
        for dataset, shipped in builtin.BUILTINS.items():
            names = {e.name for e in loaded.get(dataset, [])}
            if shipped.name not in names:
                loaded.setdefault(dataset, []).append(
                    EditionInfo(dataset, shipped.name, shipped.effective_from, shipped.complete)
                )
        for items in loaded.values():
            # On the same date, a loaded edition takes over from the shipped one.
            items.sort(key=lambda e: (e.effective_from, e.pk is not None))
        with _lock:
            _state.update(editions=loaded, editions_at=now)
        editions = loaded
    return editions


def editions(dataset: str) -> list[EditionInfo]:
    """Every edition of a dataset, oldest first (the shipped one included)."""
    return list(_editions().get(dataset, []))


def edition_in_force(dataset: str, on_date: datetime.date | None = None) -> EditionInfo:
    """The latest edition whose effective date is on or before `on_date` (today by default);
    before the first edition, the first."""
    on_date = on_date or timezone.localdate()
    items = _editions()[dataset]
    current = items[0]
    for edition in items:
        if edition.effective_from <= on_date:
            current = edition
    return current


def edition_before(edition: EditionInfo) -> EditionInfo | None:
    earlier = [e for e in editions(edition.dataset) if e.effective_from < edition.effective_from]
    return earlier[-1] if earlier else None


@functools.lru_cache(maxsize=32)
def _codes(key: tuple) -> dict[str, tuple[str, dict]]:
    dataset, pk, _version = key
    if pk is None:
        return {code: (text, data) for code, text, data in builtin.rows(dataset)}
    return {
        code: (text, data)
        for code, text, data in Entry.objects.filter(edition_id=pk).values_list(
            "code", "description", "data"
        )
    }


def codes(edition: EditionInfo) -> dict[str, tuple[str, dict]]:
    """code -> (description, data) of an edition, read once per process."""
    return _codes(edition.key)


# --- HS nomenclature ------------------------------------------------------------------------


def hs_subheading_in_force(code6: str, on_date: datetime.date | None = None) -> tuple[bool, str]:
    """Whether a 6-digit subheading exists in the HS edition in force on the date, and that
    edition's name (port.identifiers.validate_hs_code asks this)."""
    edition = edition_in_force("hs", on_date)
    return code6 in codes(edition) or not edition.complete, edition.name


def hs_unknown(codes6: list[str], on_date: datetime.date | None = None) -> tuple[set[str], str]:
    """The subheadings of a batch missing from the edition in force, and its name."""
    edition = edition_in_force("hs", on_date)
    known = codes(edition)
    missing = set() if not edition.complete else {c for c in codes6 if c not in known}
    return missing, edition.name


def hs_description(code: str, on_date: datetime.date | None = None) -> str:
    found = codes(edition_in_force("hs", on_date)).get((code or "")[:6])
    return found[0] if found else ""


def hs_suggestions(query: str, *, on_date=None, limit: int = 10) -> list[tuple[str, str]]:
    """Subheadings in force whose code starts with, or description contains, the query."""
    query = (query or "").strip().lower()
    if len(query) < 2:
        return []
    rows = codes(edition_in_force("hs", on_date))
    if query.isdigit():
        found = ((c, d) for c, (d, _data) in rows.items() if c.startswith(query[:6]))
    else:
        found = ((c, d) for c, (d, _data) in rows.items() if query in d.lower())
    return sorted(found)[:limit]


# --- Tariff ----------------------------------------------------------------------------------


def tariff_rates(hs_code: str, on_date: datetime.date | None = None) -> dict[str, Decimal]:
    """The rates of the tariff line in force for a code: {"MFN": ..., "GENERAL": ...,
    agreement code: ...} as fractions. The most precise line wins (10, 8, 6, then 4 digits)."""
    lines = codes(edition_in_force("tariff", on_date))
    code = (hs_code or "").strip()
    for length in (10, 8, 6, 4):
        found = lines.get(code[:length]) if len(code) >= length else None
        if found:
            return {name: Decimal(rate) for name, rate in found[1].get("rates", {}).items()}
    return {}


# --- CAS numbers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CasEntry:
    cas_number: str
    hs_code: str
    name: str


def cas_entry(cas_number: str, on_date: datetime.date | None = None) -> CasEntry | None:
    found = codes(edition_in_force("cas", on_date)).get((cas_number or "").strip())
    return CasEntry(cas_number.strip(), found[1]["hs_code"], found[0]) if found else None


def hazardous_subheadings(on_date: datetime.date | None = None) -> dict[str, str]:
    """The HS subheadings of the chemicals the CAS table lists (hazardous chemicals), with a
    chemical's name for each."""
    rows = codes(edition_in_force("cas", on_date))
    return {data["hs_code"]: name for _cas, (name, data) in reversed(list(rows.items()))}


def cas_suggestions(query: str, *, on_date=None, limit: int = 8) -> list[CasEntry]:
    """Entries whose CAS number starts with, or whose name contains, the query."""
    query = (query or "").strip().lower()
    if len(query) < 2:
        return []
    rows = codes(edition_in_force("cas", on_date))
    return [
        CasEntry(cas, data["hs_code"], name)
        for cas, (name, data) in rows.items()
        if cas.startswith(query) or query in name.lower()
    ][:limit]


def cas_contradiction(cas_number: str, hs_code: str, on_date=None) -> str:
    """A message when the CAS table classifies the substance under another subheading than
    the declared commodity code; "" when it agrees or the table does not list it."""
    entry = cas_entry(cas_number, on_date)
    if entry is None or not hs_code or hs_code[:6] == entry.hs_code:
        return ""
    return _(
        "CAS %(cas)s (%(name)s) is classified under %(expected)s, not %(declared)s."
    ) % {"cas": entry.cas_number, "name": entry.name, "expected": entry.hs_code,
         "declared": hs_code[:6]}  # fmt: skip


# --- UN numbers, UN/LOCODE -------------------------------------------------------------------


def un_number(number: str, on_date=None) -> tuple[str, str] | None:
    """(class, proper shipping name) of a UN number in the edition in force."""
    found = codes(edition_in_force("un_numbers", on_date)).get(number)
    return (found[1]["class"], found[0]) if found else None


def unlocode_known(code: str, on_date=None) -> tuple[bool, str]:
    """Whether a UN/LOCODE is listed in the edition in force on the date, and that edition's
    name; True when no complete edition is loaded (the code is then checked by format only).
    One indexed read per code, remembered per process (port.identifiers asks this)."""
    edition = _unlocode_edition(on_date)
    if edition is None or not edition.complete:
        return True, edition.name if edition else ""
    return _unlocode_name(edition.key, code) is not None, edition.name


def unlocode_unknown(codes, on_date=None) -> tuple[set[str], str]:
    """The codes of a batch that the UN/LOCODE edition in force on the date does not list,
    and its name: one statement for the whole batch (none when no complete edition is in
    force, or no code is asked)."""
    edition = _unlocode_edition(on_date)
    wanted = sorted(set(codes))
    if edition is None or not edition.complete or not wanted:
        return set(), edition.name if edition else ""
    with connection.cursor() as cursor:  # = ANY(array): one plan whatever the batch size
        cursor.execute(
            f"SELECT code FROM {Entry._meta.db_table} WHERE edition_id = %s AND code = ANY(%s)",  # noqa: S608 - our table
            [edition.pk, wanted],
        )
        listed = {code for (code,) in cursor.fetchall()}
    return set(wanted) - listed, edition.name


def unlocode_name(code: str, on_date=None) -> str:
    edition = _unlocode_edition(on_date)
    return (_unlocode_name(edition.key, code) or "") if edition else ""


def _unlocode_edition(on_date=None) -> EditionInfo | None:
    """The UN/LOCODE edition in force, or None before any (none ships in memory)."""
    on_date = on_date or timezone.localdate()
    in_force = [e for e in _editions().get("unlocode", []) if e.effective_from <= on_date]
    return in_force[-1] if in_force else None


@functools.lru_cache(maxsize=4096)
def _unlocode_name(key: tuple, code: str) -> str | None:
    _dataset, pk, _version = key
    return (
        Entry.objects.filter(edition_id=pk, code=code).values_list("description", flat=True).first()
    )


# --- Exchange rates --------------------------------------------------------------------------


def _rates() -> dict[str, tuple[list, list]]:
    """currency -> (sorted days, CNY per unit): the shipped ECB rates, overridden by loaded ones."""
    now = time.monotonic()
    rates = _state["rates"]
    if rates is None or now - _state["rates_at"] > RATES_TTL:
        by_currency: dict[str, dict] = {}
        for currency, day, rate in builtin.ecb_rates():
            by_currency.setdefault(currency, {})[day] = rate
        for currency, day, rate in ExchangeRate.objects.values_list(
            "currency", "day", "cny_per_unit"
        ):
            by_currency.setdefault(currency, {})[day] = rate
        by_currency.setdefault("CNY", {})[datetime.date(1999, 1, 1)] = Decimal(1)
        rates = {}
        for currency, days in by_currency.items():
            ordered = sorted(days)
            rates[currency] = (ordered, [days[d] for d in ordered])
        with _lock:
            _state.update(rates=rates, rates_at=now)
    return rates


def rate_to_cny(currency: str, day: datetime.date) -> tuple[Decimal, datetime.date] | None:
    """CNY per unit of the currency on the day: the latest published rate on or before it,
    and the day it was published for; None when there is none."""
    if currency == "CNY":
        return Decimal(1), day
    found = _rates().get((currency or "").upper())
    if not found:
        return None
    days, values = found
    index = bisect.bisect_right(days, day) - 1
    return (values[index], days[index]) if index >= 0 else None


def to_cny(amount: Decimal, currency: str, day: datetime.date) -> Decimal | None:
    """The amount in CNY at the rate of the day (None when no rate is known)."""
    found = rate_to_cny(currency, day)
    if found is None:
        return None
    return (Decimal(amount) * found[0]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
