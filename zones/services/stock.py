"""The account statements: set-based debits and credits of zone stock, with their ledger.

A debit is one conditional UPDATE for a batch, so concurrent exits can never take an
account below zero; a credit is one upsert."""

from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext as _

from port.errors import InvalidInput
from zones.models import (
    StockEntry,
    StockItem,
)


def stock_debit(zone_id: int, debits: list) -> None:
    """Take the lines' quantities off the account in one statement that touches a row only
    if it holds enough: under concurrency PostgreSQL re-checks the condition on the latest
    row version, so two exits of the last 10 units cannot both pass."""
    if not debits:
        return
    wanted: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for _i, _j, _org, line in debits:
        wanted[line.item_no][0] += line.quantity
        wanted[line.item_no][1] += line.value
    org_id = debits[0][2]
    items = list(wanted)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE zones_stockitem s SET quantity = s.quantity - v.qty,"
            " value = GREATEST(s.value - v.val, 0), updated_at = now()"
            " FROM unnest(%s::text[], %s::numeric[], %s::numeric[]) AS v(item_no, qty, val)"
            " WHERE s.zone_id = %s AND s.organisation_id = %s AND s.item_no = v.item_no"
            " AND s.quantity >= v.qty RETURNING s.id, s.item_no",
            [items, [wanted[i][0] for i in items], [wanted[i][1] for i in items], zone_id, org_id],
        )
        taken = {item_no: pk for pk, item_no in cursor.fetchall()}
    short = set(items) - set(taken)
    if short:
        _refuse_short(zone_id, org_id, short, debits)
    StockEntry.objects.bulk_create(
        StockEntry(
            stock_item_id=taken[line.item_no],
            movement_id=line.movement_id,
            quantity=-line.quantity,
            value=-line.value,
        )
        for _i, _j, _org, line in debits
    )


def _refuse_short(zone_id, org_id, short: set[str], debits: list) -> None:
    held = dict(
        StockItem.objects.filter(
            zone_id=zone_id, organisation_id=org_id, item_no__in=short
        ).values_list("item_no", "quantity")
    )
    errors: dict = {}
    for i, j, _org, line in debits:
        if line.item_no in short:
            errors.setdefault(str(i), {}).setdefault("lines", {})[str(j)] = {
                "quantity": [
                    _("Only %(held)s %(unit)s of %(item)s on your account.")
                    % {"held": held.get(line.item_no, 0), "unit": line.unit, "item": line.item_no}
                ]
            }
    raise InvalidInput({"documents": errors})


def stock_credit(zone_id: int, credits: list) -> None:
    """Add lines to accounts (the receiver's for a transfer, the filer's for an entry at the
    gate): one upsert for the batch, then the ledger."""
    if not credits:
        return
    totals: dict[tuple[int, str], list] = {}
    for org_id, line in credits:
        key = (org_id, line.item_no)
        if key not in totals:
            totals[key] = [line.hs_code, line.description, line.unit, Decimal(0), Decimal(0)]
        totals[key][3] += line.quantity
        totals[key][4] += line.value
    keys = list(totals)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO zones_stockitem (zone_id, organisation_id, item_no, hs_code, description,"
            " unit, quantity, value, created_at, updated_at)"
            " SELECT %s, v.org, v.item_no, v.hs, v.descr, v.unit, v.qty, v.val, now(), now()"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::numeric[], %s::numeric[]) AS v(org, item_no, hs, descr, unit, qty, val)"
            " ON CONFLICT (zone_id, organisation_id, item_no) DO UPDATE SET"
            " quantity = zones_stockitem.quantity + EXCLUDED.quantity,"
            " value = zones_stockitem.value + EXCLUDED.value, updated_at = now()"
            " RETURNING id, organisation_id, item_no",
            [
                zone_id,
                [k[0] for k in keys],
                [k[1] for k in keys],
                *[[totals[k][n] for k in keys] for n in range(5)],
            ],
        )
        ids = {(org, item_no): pk for pk, org, item_no in cursor.fetchall()}
    StockEntry.objects.bulk_create(
        StockEntry(
            stock_item_id=ids[(org_id, line.item_no)],
            movement_id=line.movement_id,
            quantity=line.quantity,
            value=line.value,
        )
        for org_id, line in credits
    )
