"""Writes of reference data: loading an edition, loading exchange rates, and numbering the
EDIFACT interchanges the platform sends."""

import datetime
import json
from dataclasses import dataclass

from django.db import connection, transaction

from port.errors import InvalidInput
from reference import builtin, formats, queries
from reference.models import Edition, Entry, ExchangeRate

EXAMPLES = 20
BATCH = 5000


@transaction.atomic
def edition_load(
    *,
    dataset: str,
    name: str,
    effective_from: datetime.date,
    rows: list[tuple[str, str, dict]],
    source: str = "",
    licence: str = "",
    complete: bool = True,
) -> Edition:
    """Load (or reload) an edition of a dataset with its rows, and record what changed against
    the edition in force the day before it takes effect. Raises InvalidInput (no rows, an
    unknown dataset, a code listed twice, another edition already taking effect that day)."""
    errors: dict = {}
    if dataset not in Edition.Dataset.values:
        errors["dataset"] = [f"{dataset} is not one of {', '.join(Edition.Dataset.values)}."]
    if not rows:
        errors["file"] = ["The file has no rows to load."]
    seen, twice = set(), set()
    for code, _text, _data in rows:
        (twice if code in seen else seen).add(code)
    if twice:
        errors["file"] = [f"Listed more than once: {', '.join(sorted(twice)[:EXAMPLES])}."]
    clash = (
        Edition.objects.filter(dataset=dataset, effective_from=effective_from)
        .exclude(name=name)
        .first()
    )
    if clash:
        errors["effective_from"] = [f"{clash.name} already takes effect on {effective_from}."]
    if errors:
        raise InvalidInput(errors)
    queries.clear_cache()
    previous = (  # none yet for UN/LOCODE, which ships no in-memory edition
        queries.edition_in_force(dataset, effective_from - datetime.timedelta(days=1))
        if queries.editions(dataset)
        else None
    )
    before = queries.codes(previous) if previous and previous.name != name else {}
    edition, _created = Edition.objects.update_or_create(
        dataset=dataset,
        name=name,
        defaults={
            "effective_from": effective_from,
            "source": source[:300],
            "licence": licence[:120],
            "complete": complete,
            "rows": len(rows),
            "changes": _changes(previous.name if before else "", before, rows),
        },
    )
    Entry.objects.filter(edition=edition).delete()
    _entries_copy(edition.pk, rows)
    transaction.on_commit(queries.clear_cache)
    queries.clear_cache()
    return edition


def _entries_copy(edition_id: int, rows: list[tuple[str, str, dict]]) -> None:
    """Write an edition's entries with COPY (116,000 UN/LOCODE places in a few seconds)."""
    table = Entry._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} (edition_id, code, description, data) FROM STDIN") as copy,
    ):
        for code, text, data in rows:
            copy.write_row((edition_id, code, text, json.dumps(data, ensure_ascii=False)))


def unlocode_load_shipped() -> Edition:
    """The UN/LOCODE edition shipped in reference/data, loaded once (a no-op when it is)."""
    shipped = builtin.UNLOCODE
    loaded = Edition.objects.filter(dataset="unlocode", name=shipped.name).first()
    if loaded is not None:
        return loaded
    read = formats.read_unlocode(builtin.DATA / shipped.file)
    return edition_load(
        dataset="unlocode",
        name=shipped.name,
        effective_from=shipped.effective_from,
        rows=read.rows,
        source=shipped.source,
        licence=shipped.licence,
        complete=shipped.complete,
    )


def _changes(previous: str, before: dict, rows: list) -> dict:
    after = {code: (text, data) for code, text, data in rows}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(c for c in after.keys() & before.keys() if after[c] != before[c])
    return {
        "against": previous,
        "added": len(added),
        "removed": len(removed),
        "changed": len(changed),
        "unchanged": len(after) - len(added) - len(changed),
        "examples": {"added": added[:EXAMPLES], "removed": removed[:EXAMPLES],
                     "changed": changed[:EXAMPLES]},
    }  # fmt: skip


@dataclass(frozen=True)
class RatesLoaded:
    rows: int
    currencies: int
    first_day: datetime.date | None
    last_day: datetime.date | None


@transaction.atomic
def rates_load(*, rows: list[tuple[str, datetime.date, object]], source: str) -> RatesLoaded:
    """Load daily rates (CNY per unit); a day already loaded for a currency is replaced."""
    ExchangeRate.objects.bulk_create(
        (ExchangeRate(currency=c, day=d, cny_per_unit=r, source=source[:60]) for c, d, r in rows),
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["currency", "day"],
        update_fields=["cny_per_unit", "source"],
    )
    transaction.on_commit(queries.clear_cache)
    days = [d for _c, d, _r in rows]
    return RatesLoaded(
        len(rows), len({c for c, _d, _r in rows}), min(days, default=None), max(days, default=None)
    )


# --- EDIFACT interchange numbering -----------------------------------------------------------


def next_interchange_reference() -> str:
    """A unique, increasing interchange control reference (UNB 0020, an..14) for a reply.

    Drawn from a PostgreSQL sequence, so two replies in the same second, from any process,
    never share one; zero-padded so that references also sort as text.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('reference_edifact_interchange_seq')")
        (number,) = cursor.fetchone()
    return f"{number:09d}"
