"""Set-based filing: what a batch is validated against, read once, and its bulk writes.

The filing service (`services.declarations_file`) validates every declaration of a batch
against one `FilingReference` (a handful of queries, whatever the batch size), then writes
the good ones with COPY: declarations, goods lines, container links and timeline rows, one
statement each. One declaration filed alone takes the same path as a batch of 5,000.
"""

import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.db.models.expressions import DatabaseDefault
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
    busy = DeclarationContainer.objects.filter(
        container__number__in=numbers,
        declaration__status__in=Declaration.OPEN_STATUSES,
    )
    if exclude_declaration_id:
        busy = busy.exclude(declaration_id=exclude_declaration_id)
    return dict(busy.values_list("container__number", "declaration__number"))


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


def write(*, user: User, declarant: Organisation, new: list[NewDeclaration]) -> None:
    """Write `new` in one go (the caller holds the transaction); sets each `.declaration`.

    Ids and numbers come from their sequences in one query; containers are upserted in
    one statement; declarations, items, container links and the timeline (filed, and
    draft -> submitted for those submitted) go in with one COPY each.
    """
    if not new:
        return
    now = timezone.now()
    ids, serials = _reserve(len(new))
    for entry, pk, serial in zip(new, ids, serials, strict=True):
        entry.declaration = _declaration(entry, pk, serial, user, declarant, now)
    containers = _container_ids({n for e in new for n in e.container_numbers})
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3, in Django's transaction
        fields = _declaration_fields()
        _copy(
            raw,
            Declaration,
            ["id", "created_at", "updated_at", *(f.attname for f in fields)],
            (
                [d.pk, now, now, *(_value(d, f) for f in fields)]
                for d in (e.declaration for e in new)
            ),
        )
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


def with_lines(entry: NewDeclaration, container_ids: dict[str, int] | None = None) -> Declaration:
    """The written declaration with its containers, items and (no) decisions in its prefetch
    cache, as a read would return it: a single filing answers without reading it back."""
    declaration = entry.declaration
    lines = {
        "containers": [
            Container(pk=(container_ids or {}).get(n), number=n) for n in entry.container_numbers
        ],
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


def _declaration(entry, pk, serial, user, declarant, now) -> Declaration:
    header = entry.header
    declaration = Declaration(
        pk=pk,
        declarant=declarant,
        created_by=user,
        idempotency_key=entry.idempotency_key,
        created_at=now,
        updated_at=now,
        **header,
    )
    if entry.submit:
        declaration.status = Declaration.Status.SUBMITTED
        declaration.submitted_at = now
        call = header["port_call"]
        flag = "1" if declaration.direction == Declaration.Direction.IMPORT else "0"
        office = getattr(call, "office_code", None) or "0000"
        declaration.number = f"{office}{timezone.localdate().year}{flag}{serial:09d}"
    return declaration


def _declaration_fields() -> list:
    return [
        f
        for f in Declaration._meta.concrete_fields
        if f.name not in ("id", "created_at", "updated_at")
    ]


def _value(declaration: Declaration, field):
    value = getattr(declaration, field.attname)
    if isinstance(value, DatabaseDefault):  # a field left to its database default
        return field.db_default.value if hasattr(field.db_default, "value") else field.db_default
    return value


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
