"""Bulk intake of the three documents and the inventory lists: a batch of up to
MAX_BATCH items per request, validated over the whole batch, written with COPY.

One query per kind of reference data (participants' codes, existing numbers), one COPY per
table, one decision task per batch. Every bad item is named by its index and field; the
good ones are filed. A batch with an Idempotency-Key already seen returns its first result.
"""

from dataclasses import dataclass, field
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ecommerce import validation
from ecommerce.db import bulk_cursor, int_array, text_array
from ecommerce.models import Batch, InventoryList, ListLine, Order, Participant, Payment, Waybill
from port.batch import collector_paused
from zones import queries as zone_queries

MAX_BATCH = 5000
R = Participant.Role

# Per kind: the role the filer needs, the code fields and the roles they name, the model.
KINDS = {
    "order": (R.PLATFORM, {"platform": R.PLATFORM, "enterprise": R.ENTERPRISE}, Order),
    "payment": (R.PAYMENT, {"platform": R.PLATFORM}, Payment),
    "waybill": (R.LOGISTICS, {"platform": R.PLATFORM}, Waybill),
    "list": (
        R.DECLARANT,
        {"platform": R.PLATFORM, "enterprise": R.ENTERPRISE, "logistics": R.LOGISTICS},
        InventoryList,
    ),
}


class BatchRefused(Exception):
    """The batch itself is unusable (not a list, too long, no item good): nothing is filed."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__(errors)


@dataclass
class BatchResult:
    batch_id: int | None
    submitted: int
    filed: int
    errors: list[dict] = field(default_factory=list)
    replayed: bool = False

    def as_dict(self) -> dict:
        return {
            "batch": self.batch_id,
            "submitted": self.submitted,
            "filed": self.filed,
            "errors": self.errors,
        }


def batch_file(*, kind: str, organisation_id: int, items, idempotency_key: str = "") -> BatchResult:
    """File a batch of documents of one kind for `organisation_id` (which holds the filer role).

    Writes the Batch row and the good items (COPY); on commit, queues one decision task for
    the batch. Raises BatchRefused when nothing in it can be filed (and writes nothing).
    The garbage collector waits meanwhile: a batch's thousands of rows set off full
    collections that walk the whole process (py-spy: about a third of a batch's time).
    """
    with collector_paused():
        return _batch_file(kind, organisation_id, items, idempotency_key)


def _batch_file(kind: str, organisation_id: int, items, idempotency_key: str) -> BatchResult:
    if idempotency_key:
        first = _replay(kind, organisation_id, idempotency_key)
        if first is not None:
            return first
    if not isinstance(items, list) or not items:
        raise BatchRefused(
            [{"index": None, "field": kind + "s", "message": _("A non-empty list.")}]
        )
    if len(items) > MAX_BATCH:
        raise BatchRefused(
            [
                {
                    "index": None,
                    "field": kind + "s",
                    "message": _("At most %(n)d per batch.") % {"n": MAX_BATCH},
                }
            ]
        )
    rows, errors = _clean(kind, items)
    _resolve_codes(kind, rows, errors)
    if kind == "list":
        _resolve_warehouses(organisation_id, rows, errors)
    _refuse_others_orders(kind, organisation_id, rows, errors)
    _refuse_duplicates(kind, organisation_id, rows, errors)
    good = [(index, row) for index, row in enumerate(rows) if index not in errors]
    flat = [
        {"index": index, "field": name, "message": message}
        for index in sorted(errors)
        for name, message in errors[index]
    ]
    if not good:
        raise BatchRefused(flat)
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                organisation_id=organisation_id,
                kind=kind,
                idempotency_key=idempotency_key,
                submitted=len(items),
                filed=len(good),
            )
            _write(kind, organisation_id, batch.pk, [row for _i, row in good])
            result = BatchResult(batch.pk, len(items), len(good), flat)
            Batch.objects.filter(pk=batch.pk).update(result=result.as_dict())
            _enqueue_decision(batch.pk)
    except IntegrityError:
        # A concurrent twin took the key, or the numbers, first: its result stands.
        if idempotency_key and (first := _replay(kind, organisation_id, idempotency_key)):
            return first
        raise BatchRefused(
            [{"index": None, "field": kind + "s", "message": _("Filed concurrently; send again.")}]
        ) from None
    return result


def _replay(kind: str, organisation_id: int, key: str) -> BatchResult | None:
    batch = Batch.objects.filter(
        organisation_id=organisation_id, kind=kind, idempotency_key=key
    ).first()
    if batch is None:
        return None
    r = batch.result
    return BatchResult(r["batch"], r["submitted"], r["filed"], r["errors"], replayed=True)


def _clean(kind: str, items: list) -> tuple[list[dict], dict[int, list]]:
    clean = validation.CLEANERS[kind]
    rows, errors = [], {}
    for index, item in enumerate(items):
        item_errors = validation.Errors()
        if isinstance(item, dict):
            rows.append(clean(item, item_errors))
        else:
            rows.append({})
            item_errors.add("", _("Expected an object."))
        if item_errors.items:
            errors[index] = item_errors.items
    return rows, errors


def _resolve_codes(kind: str, rows: list[dict], errors: dict) -> None:
    """Participants' codes to organisation ids: one query for the whole batch."""
    _role, fields, _model = KINDS[kind]
    wanted = {(role, row[f]) for row in rows for f, role in fields.items() if row.get(f)}
    found = {
        (role, code): org
        for role, code, org in Participant.objects.filter(
            role__in={r for r, _c in wanted}, code__in={c for _r, c in wanted}
        ).values_list("role", "code", "organisation_id")
    }
    for index, row in enumerate(rows):
        for f, role in fields.items():
            if index in errors and not row.get(f):
                continue
            organisation = found.get((role, row.get(f)))
            if organisation is None:
                errors.setdefault(index, []).append(
                    (f, _("No %(role)s with this code.") % {"role": R(role).label})
                )
            else:
                row[f + "_id"] = organisation


def _resolve_warehouses(declarant_id: int, rows: list[dict], errors: dict) -> None:
    """A 1210 list's warehouse and items against the zones' accounts: one query for the
    warehouses, one for the items, for the whole batch. The warehouse must be a party to
    the list (its e-commerce enterprise, logistics enterprise or declarant): nobody draws
    on the account of an enterprise that is not."""
    bonded = [
        (index, row)
        for index, row in enumerate(rows)
        if row.get("item_nos") is not None and index not in errors
    ]
    warehouses = zone_queries.zone_enterprises_named(
        {(r["zone"], r["warehouse"]) for _i, r in bonded}
    )
    named = []
    for index, row in bonded:
        found = warehouses.get((row["zone"], row["warehouse"]))
        parties = {row["enterprise_id"], row["logistics_id"], declarant_id}
        if found is None:
            errors.setdefault(index, []).append(
                ("warehouse", _("No enterprise of this bonded zone with this USCC."))
            )
        elif found[1] not in parties:
            errors.setdefault(index, []).append(
                (
                    "warehouse",
                    _(
                        "The warehouse must be the list's e-commerce enterprise, logistics "
                        "enterprise or declarant."
                    ),
                )
            )
        else:
            row["zone_enterprise_id"] = found[0]
            named.append((index, row))
    held = zone_queries.stock_item_codes(
        {(r["zone_enterprise_id"], item) for _i, r in named for item in r["item_nos"]}
    )
    for index, row in named:
        for position, (item_no, line) in enumerate(zip(row["item_nos"], row["lines"], strict=True)):
            hs_code = held.get((row["zone_enterprise_id"], item_no))
            if hs_code is None:
                errors.setdefault(index, []).append(
                    (
                        f"goods[{position}].item_no",
                        _("Item %(item)s is not on the warehouse's account.") % {"item": item_no},
                    )
                )
            elif hs_code != line[0]:
                errors.setdefault(index, []).append(
                    (
                        f"goods[{position}].hs_code",
                        _("Item %(item)s is on the warehouse's account under %(hs)s.")
                        % {"item": item_no, "hs": hs_code},
                    )
                )


def _refuse_others_orders(kind: str, organisation_id: int, rows: list[dict], errors: dict) -> None:
    """A platform files its own orders only."""
    if kind != "order":
        return
    for index, row in enumerate(rows):
        if row.get("platform_id") not in (None, organisation_id):
            errors.setdefault(index, []).append(
                ("platform", _("Orders are filed by their own platform."))
            )


def _refuse_duplicates(kind: str, organisation_id: int, rows: list[dict], errors: dict) -> None:
    """Numbers already filed, or twice in the batch: one query for the batch."""
    keys = [
        (index, _unique_key(kind, organisation_id, row))
        for index, row in enumerate(rows)
        if index not in errors
    ]
    field_name = {
        "order": "order_no",
        "payment": "order_no",
        "waybill": "waybill_no",
        "list": "list_no",
    }[kind]
    existing = _existing_keys(kind, organisation_id, [key for _i, key in keys])
    seen = set()
    for index, key in keys:
        if key in existing:
            errors.setdefault(index, []).append((field_name, _("Already filed.")))
        elif key in seen:
            errors.setdefault(index, []).append((field_name, _("Twice in this batch.")))
        seen.add(key)
    if kind == "list":  # a parcel has one list: its waybill number is unique too
        waybills = [(index, rows[index]["waybill_no"]) for index, _k in keys if index not in errors]
        taken = _taken(InventoryList, "waybill_no", [w for _i, w in waybills])
        seen = set()
        for index, waybill in waybills:
            if waybill in taken or waybill in seen:
                errors.setdefault(index, []).append(
                    ("waybill_no", _("A list for this waybill is already filed."))
                )
            seen.add(waybill)


def _unique_key(kind: str, organisation_id: int, row: dict) -> tuple:
    if kind in ("order", "payment"):
        return (row["platform_id"], row["order_no"])
    if kind == "waybill":
        return (row["waybill_no"],)
    return (row["list_no"],)


def _existing_keys(kind: str, organisation_id: int, keys: list[tuple]) -> set[tuple]:
    if not keys:
        return set()
    if kind in ("order", "payment"):
        table = (Order if kind == "order" else Payment)._meta.db_table
        with bulk_cursor() as cursor:
            cursor.execute(
                f"SELECT t.platform_id, t.order_no FROM {table} t "  # noqa: S608 - our table name
                "JOIN unnest(%s::bigint[], %s::text[]) AS k(platform_id, order_no) "
                "ON t.platform_id = k.platform_id AND t.order_no = k.order_no",
                [int_array(k[0] for k in keys), text_array(k[1] for k in keys)],
            )
            return {tuple(r) for r in cursor.fetchall()}
    if kind == "waybill":
        numbers = _taken(Waybill, "waybill_no", [k[0] for k in keys])
    else:
        numbers = _taken(InventoryList, "list_no", [k[0] for k in keys], declarant=organisation_id)
    return {(n,) for n in numbers}


def _taken(model, column: str, numbers: list[str], declarant: int | None = None) -> set[str]:
    """Which of `numbers` the table holds: thousands bound as one array (Django's `__in`
    quotes each into the SQL text, a sixth of intake's time in py-spy)."""
    sql = f"SELECT {column} FROM {model._meta.db_table} WHERE {column} = ANY(%s::text[])"  # noqa: S608
    params: list = [text_array(numbers)]
    if declarant is not None:
        sql += " AND declarant_id = %s"
        params.append(declarant)
    with bulk_cursor() as cursor:
        cursor.execute(sql, params)
        return {number for (number,) in cursor.fetchall()}


# ------------------------------------------------------------------ writing with COPY

COLUMNS = {
    "order": [
        "platform_id",
        "enterprise_id",
        "order_no",
        "buyer_key",
        "buyer_name_key",
        "goods_cents",
        "freight_cents",
        "goods_digest",
    ],
    "payment": [
        "platform_id",
        "order_no",
        "payment_no",
        "buyer_key",
        "buyer_name_key",
        "amount_cents",
    ],
    "waybill": ["platform_id", "waybill_no", "order_no"],
    "list": [
        "platform_id",
        "enterprise_id",
        "logistics_id",
        "list_no",
        "order_no",
        "waybill_no",
        "trade_mode",
        "direction",
        "buyer_key",
        "buyer_name_key",
        "buyer_name_masked",
        "buyer_id_masked",
        "goods_cents",
        "freight_cents",
        "goods_digest",
        "zone_enterprise_id",
        "destination",
        "export_reference",
    ],
}
FILER_COLUMN = {
    "order": None,
    "payment": "payment_enterprise_id",
    "waybill": "logistics_id",
    "list": "declarant_id",
}


def _write(kind: str, organisation_id: int, batch_id: int, rows: list[dict]) -> None:
    model = KINDS[kind][2]
    columns = list(COLUMNS[kind])
    now = timezone.now()
    extra = [batch_id, now]
    names = [*columns, "batch_id", "created_at"]
    filer = FILER_COLUMN[kind]
    if filer:
        names.append(filer)
        extra.append(organisation_id)
    if kind == "list":
        names += [
            "id",
            "status",
            "reason",
            "reason_field",
            "vat_cents",
            "consumption_cents",
            "quota_cents",
            "rules_hit",
            "updated_at",
        ]
        ids = _next_ids(model, len(rows))
    with connection.cursor() as cursor:
        get, tail = itemgetter(*columns), tuple(extra)
        with cursor.copy(f"COPY {model._meta.db_table} ({', '.join(names)}) FROM STDIN") as copy:
            if kind == "list":
                for position, row in enumerate(rows):
                    copy.write_row(
                        get(row) + tail + (ids[position], "waiting", "", "", 0, 0, 0, "[]", now)
                    )
            else:
                for row in rows:
                    copy.write_row(get(row) + tail)
        if kind == "list":
            line_table = ListLine._meta.db_table
            with cursor.copy(
                f"COPY {line_table} (inventory_list_id, line_no, hs_code, name, quantity, "
                "unit_price_cents, item_no) FROM STDIN"
            ) as copy:
                for position, row in enumerate(rows):
                    items = row["item_nos"] or ()
                    for line_no, (hs_code, name, quantity, price) in enumerate(
                        row["lines"], start=1
                    ):
                        item_no = items[line_no - 1] if items else ""
                        copy.write_row(
                            (ids[position], line_no, hs_code, name, quantity, price, item_no)
                        )


def _next_ids(model, count: int) -> list[int]:
    """Ids for rows written by COPY, drawn from the table's own sequence in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [r[0] for r in cursor.fetchall()]


def _enqueue_decision(batch_id: int) -> None:
    from ecommerce import outbox

    outbox.enqueue("ecommerce.tasks.batch_decide_task", batch_id=batch_id)
