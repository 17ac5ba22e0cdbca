"""Set-based filing: what a batch is validated against, read once, and its bulk writes.

The filing service (`services.declarations_file`) validates every declaration of a batch
against one `FilingReference` (a handful of queries, whatever the batch size), then writes
the good ones with COPY: declarations, goods lines, container links and timeline rows, one
statement each. One declaration filed alone takes the same path as a batch of 5,000.
"""

import functools
import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

from certificates import queries as certificate_queries
from declarations.models import Declaration, DeclarationContainer, DeclarationItem
from port import identifiers
from port.models import Container, Organisation, PortCall, TimelineEvent, User
from port.queries import enterprises_filable_by
from port.timeline import subject_type_of


@dataclass
class FilingReference:
    """Everything validation reads from the database for one batch (and one user)."""

    enterprises: dict[int, Organisation]  # those the user may file for, by id
    port_calls: dict[int, PortCall]  # open calls named by the batch, with `office_code`
    busy: dict[str, str]  # container number -> the open declaration holding it
    summaries: dict[int, Declaration] = field(default_factory=dict)
    summaries_under_way: set[int] = field(default_factory=set)  # have a step 2 open or draft
    duty_rates: dict[str, dict] = field(default_factory=dict)  # hs code -> duty_rates()


def filing_reference(*, user: User, filings: list, exclude_declaration_id=None) -> FilingReference:
    """Read the reference data for `filings` (FilingInput): one query per kind of thing."""
    return FilingReference(
        enterprises={e.pk: e for e in enterprises_filable_by(user)},
        port_calls=_port_calls({f.port_call_id for f in filings if f.port_call_id}),
        busy=_busy_containers(filings, exclude_declaration_id),
        **_summaries({f.summary_id for f in filings if f.summary_id}),
        duty_rates=_duty_rates(filings),
    )


def _port_calls(ids: set) -> dict[int, PortCall]:
    if not ids:
        return {}
    # The customs office of the call's port numbers its declarations: read with the call.
    office = Organisation.objects.filter(
        kind=Organisation.Kind.CUSTOMS_OFFICE, port=OuterRef("port_id")
    ).exclude(office_code="")
    calls = (
        PortCall.objects.exclude(status=PortCall.Status.DEPARTED)
        .select_related("port", "vessel")
        .annotate(office_code=Subquery(office.order_by("pk").values("office_code")[:1]))
        .filter(pk__in=[i for i in ids if isinstance(i, int)])
    )
    return {call.pk: call for call in calls}


def _busy_containers(filings: list, exclude_declaration_id) -> dict[str, str]:
    numbers = {
        identifiers.normalise_container_number(n)
        for f in filings
        for n in f.container_numbers
        if n.strip()
    }
    if not numbers:
        return {}
    # `= ANY(array)`: one parameter, where `__in` would compile thousands.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.number, d.number FROM declarations_declarationcontainer l "
            "JOIN port_container c ON c.id = l.container_id "
            "JOIN declarations_declaration d ON d.id = l.declaration_id "
            "WHERE c.number = ANY(%s) AND d.status = ANY(%s) AND d.id <> %s",
            [sorted(numbers), list(Declaration.OPEN_STATUSES), exclude_declaration_id or 0],
        )
        return dict(cursor.fetchall())


def declaration_ids_by_key(*, declarant_id: int, keys: list[str]) -> dict[str, int]:
    """Declarations filed before under these idempotency keys (client references)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT idempotency_key, id FROM declarations_declaration "
            "WHERE declarant_id = %s AND idempotency_key = ANY(%s)",
            [declarant_id, keys],
        )
        return dict(cursor.fetchall())


def _summaries(ids: set) -> dict:
    if not ids:
        return {}
    summaries = {
        s.pk: s
        for s in Declaration.objects.filter(pk__in=ids, kind=Declaration.Kind.SUMMARY).only(
            "pk", "enterprise_id", "status", "bl_number"
        )
    }
    under_way = set(
        Declaration.objects.filter(
            summary_id__in=ids, status__in=[*Declaration.OPEN_STATUSES, Declaration.Status.DRAFT]
        ).values_list("summary_id", flat=True)
    )
    return {"summaries": summaries, "summaries_under_way": under_way}


def _duty_rates(filings: list) -> dict[str, dict]:
    hs_codes = {(i.hs_code or "").strip() for f in filings for i in f.items}
    certificates = {
        (i.certificate_number or "").strip().upper()
        for f in filings
        for i in f.items
        if i.certificate_number
    }
    return certificate_queries.duty_rates_many(
        hs_codes=sorted(hs_codes),
        certificate_numbers=sorted(certificates),
        on_date=timezone.localdate(),
    )


# --- writes -----------------------------------------------------------------------------


@dataclass
class NewDeclaration:
    """One validated declaration ready to write: its header fields, containers and items."""

    header: dict
    container_numbers: list[str]
    items: list[dict]
    submit: bool
    idempotency_key: str = ""
    declaration: Declaration | None = None  # set by `write`
    row: list | None = None  # its row, as written


def write(*, user: User, declarant: Organisation, new: list[NewDeclaration]) -> None:
    """Write `new` in one go (the caller holds the transaction); sets each `.declaration`.

    Ids and numbers come from their sequences in one query; containers are upserted in
    one statement; declarations, items, container links and the timeline (filed, and
    draft -> submitted for those submitted) go in with one COPY each.
    """
    if not new:
        return
    now = timezone.now()
    year = timezone.localdate(now).year
    ids, serials = _reserve(len(new))
    for entry, pk, serial in zip(new, ids, serials, strict=True):
        entry.declaration = _declaration(entry, pk, serial, user, declarant, now, year)
    containers = _container_ids({n for e in new for n in e.container_numbers})
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3, in Django's transaction
        _copy(raw, Declaration, [name for name, _ in _defaults()], (e.row for e in new))
        _copy(
            raw,
            DeclarationItem,
            ["declaration_id", "line_number", *_item_names(new)],
            (
                [e.declaration.pk, line, *(item[k] for k in _item_names(new))]
                for e in new
                for line, item in enumerate(e.items, start=1)
            ),
        )
        _copy(
            raw,
            DeclarationContainer,
            ["declaration_id", "container_id"],
            ([e.declaration.pk, containers[n]] for e in new for n in e.container_numbers),
        )
        _copy(
            raw,
            TimelineEvent,
            [
                "kind",
                "actor_id",
                "organisation_id",
                "subject_type",
                "subject_id",
                "data",
                "created_at",
            ],
            _timeline_rows(new, user, declarant, now),
        )


def with_lines(entry: NewDeclaration, declarant: Organisation) -> Declaration:
    """The written declaration with its containers, items and (no) decisions in its prefetch
    cache, as a read would return it: a single filing answers without reading it back."""
    declaration = entry.declaration
    declaration.enterprise = entry.header["enterprise"]
    declaration.port_call = entry.header["port_call"]
    declaration.declarant = declarant
    lines = {
        "containers": [Container(number=n) for n in entry.container_numbers],
        "items": [
            DeclarationItem(declaration=declaration, line_number=line, **item)
            for line, item in enumerate(entry.items, start=1)
        ],
        "decisions": [],
    }
    declaration._prefetched_objects_cache = {}
    for name, objects in lines.items():
        queryset = getattr(declaration, name).all()
        queryset._result_cache, queryset._prefetch_done = objects, True
        declaration._prefetched_objects_cache[name] = queryset
    return declaration


def _declaration(entry, pk, serial, user, declarant, now, year) -> Declaration:
    """The declaration as a model instance built from its row, positionally: a keyword
    `Declaration(**fields)` per row was a fifth of a batch's time."""
    header = entry.header
    values = {
        **{k: v for k, v in header.items() if k not in ("enterprise", "port_call")},
        "id": pk,
        "created_at": now,
        "updated_at": now,
        "enterprise_id": header["enterprise"].pk,
        "port_call_id": header["port_call"].pk,
        "declarant_id": declarant.pk,
        "created_by_id": user.pk,
        "idempotency_key": entry.idempotency_key,
    }
    if entry.submit:
        values["status"] = Declaration.Status.SUBMITTED
        values["submitted_at"] = now
        flag = "1" if header["direction"] == Declaration.Direction.IMPORT else "0"
        office = getattr(header["port_call"], "office_code", None) or "0000"
        values["number"] = f"{office}{year}{flag}{serial:09d}"
    entry.row = [values.get(name, default) for name, default in _defaults()]
    return Declaration.from_db(connection.alias, None, entry.row)


@functools.cache
def _defaults() -> tuple[tuple[str, object], ...]:
    """(attname, the value a new row gets) for every column of the declaration, in order."""
    defaults = []
    for f in Declaration._meta.concrete_fields:
        if f.has_default():
            value = f.get_default()
        elif f.db_default is not NOT_PROVIDED:
            value = getattr(f.db_default, "value", f.db_default)
        else:
            value = None
        defaults.append((f.attname, value))
    return tuple(defaults)


def _item_names(new: list[NewDeclaration]) -> list[str]:
    return list(new[0].items[0].keys()) if new[0].items else []


def _reserve(count: int) -> tuple[list[int], list[int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('declarations_declaration', 'id')), "
            "nextval('declaration_number_serial') FROM generate_series(1, %s)",
            [count],
        )
        rows = cursor.fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def _container_ids(numbers: set[str]) -> dict[str, int]:
    """Container ids by number, inserting the ones never seen: one statement."""
    if not numbers:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH wanted(number) AS (SELECT unnest(%s::text[])), "
            "added AS (INSERT INTO port_container (number, size_type) "
            "  SELECT number, '22G1' FROM wanted ON CONFLICT (number) DO NOTHING "
            "  RETURNING id, number) "
            "SELECT id, number FROM added UNION ALL "
            "SELECT c.id, c.number FROM port_container c JOIN wanted USING (number)",
            [sorted(numbers)],
        )
        return {number: pk for pk, number in cursor.fetchall()}


def _timeline_rows(new, user, declarant, now):
    subject_type = subject_type_of(Declaration)
    filed = TimelineEvent.Kind.DECLARATION_FILED.value
    changed = TimelineEvent.Kind.DECLARATION_STATUS_CHANGED.value
    drawn = TimelineEvent.Kind.DECLARATION_GUARANTEE_DRAWN.value
    for entry in new:
        d = entry.declaration
        data = {
            "containers": entry.container_numbers,
            "items": len(entry.items),
            "declarant": declarant.name,
        }
        yield [filed, user.pk, d.enterprise_id, subject_type, d.pk, json.dumps(data), now]
        if d.guarantee_amount:
            data = json.dumps({"amount": str(d.guarantee_amount)})
            yield [drawn, user.pk, d.enterprise_id, subject_type, d.pk, data, now]
        if entry.submit:
            data = json.dumps({"from": Declaration.Status.DRAFT, "to": d.status})
            yield [changed, user.pk, d.enterprise_id, subject_type, d.pk, data, now]


def _copy(cursor, model, columns: list[str], rows) -> None:
    table = model._meta.db_table
    names = ", ".join(model._meta.get_field(c).column if c != "id" else "id" for c in columns)
    sql = f"COPY {table} ({names}) FROM STDIN"
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    if connection.queries_logged:  # COPY bypasses Django's cursor: count it as the others
        connection.queries_log.append({"sql": sql, "time": "0.000"})
