"""Set-based filing: what a batch is validated against, read once, and its bulk writes.

The filing service (`services.declarations_file`) validates every declaration of a batch
against one `FilingReference` (a handful of queries, whatever the batch size), then writes
the good ones with COPY: declarations, goods lines, container links and timeline rows, one
statement each. One declaration filed alone takes the same path as a batch of 5,000.
"""

import datetime
import functools
from dataclasses import dataclass, field

import orjson
import psycopg
from django.db import connection
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone
from psycopg.pq import TransactionStatus

from certificates import queries as certificate_queries
from declarations.models import Declaration, DeclarationContainer, DeclarationItem
from port import identifiers, outbox
from port import queries as port_queries
from port.models import Container, Organisation, Port, PortCall, TimelineEvent, User, Vessel
from port.sql import execute_binary, prepared_connection
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
    declarant: Organisation | None = None  # who files: the user's enterprise or broker
    earlier: dict[str, int] = field(default_factory=dict)  # reference -> declaration filed
    today: datetime.date | None = None  # the filing date: editions and tariffs in force


def filing_reference(
    *, user: User, filings: list, exclude_declaration_id=None, references=()
) -> FilingReference:
    """Read the reference data for `filings` (FilingInput) and the declarations filed before
    under `references`: one statement per kind of thing, all sent in one round trip."""
    today = timezone.localdate()
    numbers = sorted(
        {
            identifiers.normalise_container_number(n)
            for f in filings
            for n in f.container_numbers
            if n.strip()
        }
    )
    call_ids = sorted({i for f in filings if _is_id(i := f.port_call_id)})
    summary_ids = sorted({i for f in filings if _is_id(i := f.summary_id)})
    statements = {
        "declarant": (
            f"SELECT {_columns(Organisation, 'o')} {_DECLARANT}",
            _declarant_params(user),
        ),
        "enterprises": port_queries.enterprises_filable_by_sql(user_id=user.pk, today=today),
    }
    if call_ids:
        statements["port_calls"] = (_port_calls_sql(), [call_ids])
    if numbers:
        statements["busy"] = (
            "SELECT c.number, d.number FROM declarations_declarationcontainer l "
            "JOIN port_container c ON c.id = l.container_id "
            "JOIN declarations_declaration d ON d.id = l.declaration_id "
            "WHERE c.number = ANY(%s) AND d.status = ANY(%s) AND d.id <> %s",
            [numbers, list(Declaration.OPEN_STATUSES), exclude_declaration_id or 0],
        )
    if references:
        statements["earlier"] = (
            "SELECT idempotency_key, id FROM declarations_declaration "  # noqa: S608 - names and constants of ours
            f"WHERE idempotency_key = ANY(%s) AND declarant_id = (SELECT o.id {_DECLARANT})",
            [sorted(set(references)), *_declarant_params(user)],
        )
    if summary_ids:
        statements["summaries"] = (
            f"SELECT {', '.join(_SUMMARY_FIELDS)} FROM declarations_declaration "  # noqa: S608 - names of ours
            "WHERE id = ANY(%s) AND kind = %s",
            [summary_ids, Declaration.Kind.SUMMARY],
        )
        statements["under_way"] = (
            "SELECT DISTINCT summary_id FROM declarations_declaration "
            "WHERE summary_id = ANY(%s) AND status = ANY(%s)",
            [summary_ids, [*Declaration.OPEN_STATUSES, Declaration.Status.DRAFT]],
        )
    rows = run_at_once(statements)
    alias = connection.alias
    organisation_names = _attnames(Organisation)
    declarant = [Organisation.from_db(alias, organisation_names, r) for r in rows["declarant"]]
    return FilingReference(
        enterprises={
            row[0]: Organisation.from_db(alias, organisation_names, row)
            for row in rows["enterprises"]
        },
        port_calls=_port_calls(rows.get("port_calls", [])),
        busy=dict(rows.get("busy", [])),
        summaries={
            row[0]: Declaration.from_db(alias, _SUMMARY_FIELDS, row)
            for row in rows.get("summaries", [])
        },
        summaries_under_way={row[0] for row in rows.get("under_way", [])},
        duty_rates=_duty_rates(filings, today),
        declarant=declarant[0] if declarant else None,
        earlier=dict(rows.get("earlier", [])),
        today=today,
    )


# What step 2 checks of its summary, in the model's field order (as `from_db` takes them).
_SUMMARY_FIELDS = [
    f.attname
    for f in Declaration._meta.concrete_fields
    if f.attname in ("id", "enterprise_id", "status", "bl_number")
]
# Who files for the user: the first enterprise or broker they belong to.
_DECLARANT = (
    "FROM port_organisation o WHERE o.kind = ANY(%s) AND EXISTS (SELECT 1 FROM "
    "port_membership m WHERE m.organisation_id = o.id AND m.user_id = %s) ORDER BY o.id LIMIT 1"
)


def _declarant_params(user: User) -> list:
    return [[Organisation.Kind.ENTERPRISE, Organisation.Kind.CUSTOMS_BROKER], user.pk]


def run_at_once(statements: dict[str, tuple[str, list]]) -> dict[str, list[tuple]]:
    """Run the statements in one round trip (psycopg's pipeline mode), in the caller's
    transaction; the rows of each, by name. Prepared (`port.sql.prepared_connection`)."""
    raw = prepared_connection()
    if len(statements) == 1 and raw.info.transaction_status == TransactionStatus.INTRANS:
        # One statement in a transaction under way: sent as is, without a pipeline's Sync.
        ((name, (sql, params)),) = statements.items()
        return {name: execute_binary(sql, params, prepare=True)}
    cursors = {}
    with raw.pipeline():
        for name, (sql, params) in statements.items():
            cursors[name] = psycopg.Cursor(raw)
            cursors[name].execute(sql, params, prepare=True)
    for sql, _params in statements.values():
        _log(sql)
    return {name: cursor.fetchall() for name, cursor in cursors.items()}


def _is_id(value) -> bool:
    return type(value) is int and 0 < value < 2**63


@functools.cache
def _attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _columns(model, alias: str) -> str:
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


@functools.cache
def _port_calls_sql() -> str:
    # The customs office of the call's port numbers its declarations: read with the call.
    return (
        f"SELECT {_columns(PortCall, 'pc')}, {_columns(Port, 'p')}, {_columns(Vessel, 'v')}, "  # noqa: S608 - names and constants of ours
        "(SELECT o.office_code FROM port_organisation o WHERE o.kind = "
        f"'{Organisation.Kind.CUSTOMS_OFFICE.value}' AND o.port_id = pc.port_id "
        "AND o.office_code <> '' ORDER BY o.id LIMIT 1) "
        "FROM port_portcall pc JOIN port_port p ON p.id = pc.port_id "
        "JOIN port_vessel v ON v.id = pc.vessel_id "
        f"WHERE pc.id = ANY(%s) AND pc.status <> '{PortCall.Status.DEPARTED.value}'"
    )


def _port_calls(rows) -> dict[int, PortCall]:
    alias = connection.alias
    names = (_attnames(PortCall), _attnames(Port), _attnames(Vessel))
    calls = {}
    for row in rows:
        a, b = len(names[0]), len(names[0]) + len(names[1])
        call = PortCall.from_db(alias, names[0], row[:a])
        call.port = Port.from_db(alias, names[1], row[a:b])
        call.vessel = Vessel.from_db(alias, names[2], row[b:-1])
        call.office_code = row[-1]
        calls[call.pk] = call
    return calls


def _duty_rates(filings: list, today) -> dict[str, dict]:
    hs_codes = {(i.hs_code or "").strip() for f in filings for i in f.items}
    certificates = {
        (i.certificate_number or "").strip().upper()
        for f in filings
        for i in f.items
        if i.certificate_number
    }
    return certificate_queries.duty_rates_many(
        hs_codes=sorted(hs_codes), certificate_numbers=sorted(certificates), on_date=today
    )


def _log(sql: str) -> None:
    """Statements sent past Django's cursor wrapper (COPY, pipelines) count as the others."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": "0.000"})


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


# Up to this many declarations are written with INSERTs sent in one round trip (psycopg's
# pipeline); more with one COPY per table, which costs a round trip or two each.
PIPELINED_AT_MOST = 20
# ... and up to this many goods lines: each table's rows go in one multi-row INSERT,
# whose parameters PostgreSQL caps at 65,535 (goods lines take 15 each).
ROWS_AT_ONCE_AT_MOST = 500


def write(
    *, user: User, declarant: Organisation, new: list[NewDeclaration], assess_task: str = ""
) -> None:
    """Write `new` in one go (the caller holds the transaction); sets each `.declaration`.

    Ids and numbers come from their sequences and containers are upserted, in one round
    trip; then declarations, items, container links and the timeline (filed, and draft ->
    submitted for those submitted) go in with one statement each: INSERTs sent together
    for a few declarations, COPY for more. With `assess_task`, the outbox row queueing it
    for the submitted ones goes with them (in the INSERTs' round trip).
    """
    if not new:
        return
    now = timezone.now()
    year = timezone.localdate(now).year
    numbers = sorted({n for e in new for n in e.container_numbers})
    at_once = (
        len(new) <= PIPELINED_AT_MOST and sum(len(e.items) for e in new) <= ROWS_AT_ONCE_AT_MOST
    )
    statements = {"reserve": (_RESERVE, [len(new)])}
    if numbers and not at_once:  # INSERTs sent at once upsert them with the rest
        statements["containers"] = (_CONTAINERS, [numbers])
    reserved = run_at_once(statements)
    for entry, (pk, serial) in zip(new, reserved["reserve"], strict=True):
        entry.declaration = _declaration(entry, pk, serial, user, declarant, now, year)
    item_names = _item_names(new)
    tables = [
        (Declaration, [name for name, _ in _defaults()], [e.row for e in new]),
        (
            DeclarationItem,
            ["declaration_id", "line_number", *item_names],
            [
                [e.declaration.pk, line, *(item[k] for k in item_names)]
                for e in new
                for line, item in enumerate(e.items, start=1)
            ],
        ),
        (
            TimelineEvent,
            ["kind", "actor_id", "organisation_id", "subject_type", "subject_id", "data"]
            + ["created_at"],
            list(_timeline_rows(new, user, declarant, now)),
        ),
    ]
    links = [(e.declaration.pk, n) for e in new for n in e.container_numbers]
    submitted = [e.declaration.pk for e in new if e.submit]
    queued = (
        [outbox.enqueue_statement(assess_task, declaration_ids=submitted)]
        if assess_task and submitted
        else []
    )
    if at_once:
        _insert_at_once(tables, numbers, links, queued)
        return
    containers = {number: pk for pk, number in reserved.get("containers", [])}
    link_rows = [[pk, containers[number]] for pk, number in links]
    tables.append((DeclarationContainer, ["declaration_id", "container_id"], link_rows))
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3, in Django's transaction
        for model, columns, rows in tables:
            _copy(raw, model, columns, rows)
        for sql, params in queued:
            cursor.execute(sql, params)


def _insert_at_once(tables, numbers: list[str], links: list[tuple[int, str]], also=()) -> None:
    """One multi-row INSERT per table, all sent in one round trip; the containers
    (`numbers`) upserted first, and `links` (declaration id, container number) made by
    number. Not `executemany`: in a pipeline psycopg sends each row as a message of its
    own (a system call and a wake-up of PostgreSQL each, with the interpreter's lock held),
    and PostgreSQL runs each alone."""
    raw = prepared_connection()
    with raw.pipeline():
        cursor = psycopg.Cursor(raw)
        if numbers:
            cursor.execute(_CONTAINERS_ADD, [numbers], prepare=True)
            _log(_CONTAINERS_ADD)
        for model, columns, rows in tables:
            if rows:
                sql = _insert_sql(model, tuple(columns), len(rows))
                # A batch's usual sizes are prepared; a rare large one is planned once.
                cursor.execute(sql, [v for row in rows for v in row], prepare=len(rows) <= 8)
                _log(sql)
        if links:
            ids, container_numbers = zip(*links, strict=True)
            cursor.execute(_LINK, [list(ids), list(container_numbers)], prepare=True)
            _log(_LINK)
        for sql, params in also:
            cursor.execute(sql, params, prepare=True)
            _log(sql)


@functools.lru_cache(maxsize=256)
def _insert_sql(model, columns: tuple[str, ...], count: int) -> str:
    row = f"({', '.join(['%s'] * len(columns))})"
    return (
        f"INSERT INTO {model._meta.db_table} ({_column_names(model, columns)}) "  # noqa: S608 - names of ours
        f"VALUES {', '.join([row] * count)}"
    )


def with_lines(entry: NewDeclaration, declarant: Organisation) -> Declaration:
    """The written declaration with its containers, items and (no) decisions in its prefetch
    cache, as a read would return it: a single filing answers without reading it back.

    The lines do not point back at the declaration, nor do their querysets (a related
    manager's would; these filter by its id): no reference cycle, so the answer is freed
    once sent rather than by the garbage collector (docs/performance.md, session 12)."""
    declaration = entry.declaration
    declaration.enterprise = entry.header["enterprise"]
    declaration.port_call = entry.header["port_call"]
    declaration.declarant = declarant
    lines = {
        "containers": [Container(number=n) for n in entry.container_numbers],
        "items": [
            DeclarationItem(declaration_id=declaration.pk, line_number=line, **item)
            for line, item in enumerate(entry.items, start=1)
        ],
        "decisions": [],
    }
    declaration._prefetched_objects_cache = {}
    for name, objects in lines.items():
        model, lookup = _line_relation(name)
        queryset = model._default_manager.all()
        # As Django's own related managers do: the filter is built only if the queryset is
        # ever chained (`.get()`, `.filter()`); building it for every answer was 0.1 ms.
        queryset._defer_next_filter = True
        queryset = queryset.filter(**{lookup: declaration.pk})
        queryset._result_cache, queryset._prefetch_done = objects, True
        declaration._prefetched_objects_cache[name] = queryset
    return declaration


@functools.cache
def _line_relation(name: str) -> tuple[type, str]:
    """The model of a declaration's lines and the lookup from it to the declaration."""
    relation = Declaration._meta.get_field(name)
    lookup = relation.related_query_name() if relation.many_to_many else relation.field.name
    return relation.related_model, lookup


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


_RESERVE = (
    "SELECT nextval(pg_get_serial_sequence('declarations_declaration', 'id')), "
    "nextval('declaration_number_serial') FROM generate_series(1, %s)"
)
# Containers never seen, inserted (the INSERTs sent at once link theirs by number).
_CONTAINERS_ADD = (
    "INSERT INTO port_container (number, size_type) SELECT unnest(%s::text[]), '22G1' "
    "ON CONFLICT (number) DO NOTHING"
)
# Container links by number, the containers upserted just before (`_CONTAINERS_ADD`).
_LINK = (
    "INSERT INTO declarations_declarationcontainer (declaration_id, container_id) "
    "SELECT v.d, c.id FROM unnest(%s::bigint[], %s::text[]) AS v(d, n) "
    "JOIN port_container c ON c.number = v.n"
)
# Container ids by number, inserting the ones never seen: one statement.
_CONTAINERS = (
    "WITH wanted(number) AS (SELECT unnest(%s::text[])), "
    "added AS (INSERT INTO port_container (number, size_type) "
    "  SELECT number, '22G1' FROM wanted ON CONFLICT (number) DO NOTHING "
    "  RETURNING id, number) "
    "SELECT id, number FROM added UNION ALL "
    "SELECT c.id, c.number FROM port_container c JOIN wanted USING (number)"
)


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
        yield [filed, user.pk, d.enterprise_id, subject_type, d.pk, _json(data), now]
        if d.guarantee_amount:
            data = _json({"amount": str(d.guarantee_amount)})
            yield [drawn, user.pk, d.enterprise_id, subject_type, d.pk, data, now]
        if entry.submit:
            data = _json({"from": Declaration.Status.DRAFT.value, "to": str(d.status)})
            yield [changed, user.pk, d.enterprise_id, subject_type, d.pk, data, now]


def _json(data: dict) -> str:
    return orjson.dumps(data).decode()  # plain strings and numbers: a tenth of json.dumps


def _column_names(model, columns: list[str]) -> str:
    return ", ".join(model._meta.get_field(c).column if c != "id" else "id" for c in columns)


def _copy(cursor, model, columns: list[str], rows) -> None:
    sql = f"COPY {model._meta.db_table} ({_column_names(model, columns)}) FROM STDIN"
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    _log(sql)
