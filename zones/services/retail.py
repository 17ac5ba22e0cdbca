"""Cross-border e-commerce bonded imports (1210, 保税备货): the parcels' goods are held on a
zone enterprise's account and leave it when their lists are decided, in sets, and come back
when a buyer returns a parcel or customs sends one back.

Called by the ecommerce app (ecommerce imports zones; zones never imports ecommerce). Each
set becomes one movement per zone enterprise (kind `retail_out`, its lines summed per item)
with its ledger entries, so the account still equals the sum of its movements.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from port import live
from port.models import TimelineEvent
from port.timeline import timeline_record_many
from zones import events
from zones.models import Movement, MovementLine, StockEntry, StockItem, ZoneEnterprise
from zones.services import stock


@dataclass(frozen=True)
class RetailLine:
    position: int  # the goods line's index in its list: the field a refusal names
    item_no: str
    quantity: int
    value: Decimal  # CNY, the line's declared value


@dataclass(frozen=True)
class RetailDraw:
    key: int  # the caller's id for the request (an inventory list's)
    zone_enterprise_id: int
    lines: tuple[RetailLine, ...]


_LOCK = """
SELECT s.id, ze.id, s.item_no, s.quantity, s.hs_code, s.description, s.unit,
       s.zone_id, s.organisation_id, z.code
FROM zones_stockitem s
JOIN zones_zoneenterprise ze ON ze.zone_id = s.zone_id AND ze.organisation_id = s.organisation_id
JOIN zones_zone z ON z.id = s.zone_id
JOIN (SELECT DISTINCT ze, item FROM unnest(%s::bigint[], %s::text[]) AS k(ze, item)) k
  ON ze.id = k.ze AND s.item_no = k.item
ORDER BY s.id
FOR UPDATE OF s
"""


@dataclass
class RetailPlan:
    """Which requests of a set the locked accounts cover (`fits`), which they do not
    (`short`: {key: position of the first short line}), and the locked rows."""

    draws: dict[int, RetailDraw] = field(default_factory=dict)
    held: dict[tuple[int, str], tuple] = field(default_factory=dict)
    fits: set[int] = field(default_factory=set)
    short: dict[int, int] = field(default_factory=dict)


def retail_stock_plan(draws: list[RetailDraw]) -> RetailPlan:
    """Lock the stock rows a set of parcels draws on and decide which parcels they cover.

    Runs inside the caller's transaction, which keeps the rows locked until it ends: lock
    here, let the caller refuse what else it refuses, then `retail_stock_take`. The rows are
    locked in id order (SELECT … FOR UPDATE), so concurrent sets queue behind each other,
    see what the previous holder committed and never deadlock with each other; the requests
    are decided in key order, every line of a request or none.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("retail_stock_plan locks rows: call it inside a transaction")
    plan = RetailPlan(draws={d.key: d for d in draws})
    if not draws:
        return plan
    wanted = sorted({(d.zone_enterprise_id, line.item_no) for d in draws for line in d.lines})
    with connection.cursor() as cursor:
        cursor.execute(_LOCK, [[w[0] for w in wanted], [w[1] for w in wanted]])
        plan.held = {(row[1], row[2]): row for row in cursor.fetchall()}
    left = {key: row[3] for key, row in plan.held.items()}
    for key in sorted(plan.draws):
        draw = plan.draws[key]
        position = _first_short(draw, left)
        if position is not None:
            plan.short[key] = position
            continue
        plan.fits.add(key)
        for line in draw.lines:
            left[(draw.zone_enterprise_id, line.item_no)] -= line.quantity
    return plan


def retail_stock_take(plan: RetailPlan, keys: set[int]) -> set[int]:
    """Take the goods of the planned requests among `keys` (those the caller still
    releases) off the accounts; a subset of what fits always fits. One UPDATE … FROM unnest
    that touches a row only if it still holds the quantity (the CHECK constraint on the
    account is the last line of defence).

    Writes one `retail_out` movement per zone enterprise with its lines summed per item, the
    ledger entries, a timeline event per movement and one live push. Returns the keys taken.
    """
    taking = plan.fits & keys
    taken: dict[tuple[int, str], list] = {}
    for key in sorted(taking):
        draw = plan.draws[key]
        for line in draw.lines:
            total = taken.setdefault(
                (draw.zone_enterprise_id, line.item_no), [Decimal(0), Decimal(0), set()]
            )
            total[0] += line.quantity
            total[1] += line.value
            total[2].add(key)
    if taken:
        _write_exit(plan.held, taken)
    return taking


def _first_short(draw: RetailDraw, left: dict) -> int | None:
    """The position of the request's first line the account cannot cover, or None."""
    needed: dict[str, int] = defaultdict(int)
    for line in draw.lines:
        needed[line.item_no] += line.quantity
        available = left.get((draw.zone_enterprise_id, line.item_no))
        if available is None or needed[line.item_no] > available:
            return line.position
    return None


def _write_exit(held: dict, taken: dict) -> None:
    enterprises = sorted({ze for ze, _item in taken})
    first_row = {ze: next(row for (e, _i), row in held.items() if e == ze) for ze in enterprises}
    movements = Movement.objects.bulk_create(
        Movement(
            zone_id=first_row[ze][7],
            organisation_id=first_row[ze][8],
            kind=Movement.Kind.RETAIL_OUT,
            status=Movement.Status.COMPLETED,
            source=Movement.Source.LISTS,
        )
        for ze in enterprises
    )
    movement_of = dict(zip(enterprises, movements, strict=True))
    _number(movements, {m.pk: first_row[ze][9] for ze, m in movement_of.items()})
    items = sorted(taken)
    MovementLine.objects.bulk_create(
        MovementLine(
            movement=movement_of[ze],
            item_no=item_no,
            hs_code=held[(ze, item_no)][4],
            description=held[(ze, item_no)][5],
            unit=held[(ze, item_no)][6],
            quantity=taken[(ze, item_no)][0],
            value=taken[(ze, item_no)][1],
        )
        for ze, item_no in items
    )
    ids = [held[item][0] for item in items]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE zones_stockitem s SET quantity = s.quantity - v.qty,"
            " value = GREATEST(s.value - v.val, 0), updated_at = now()"
            " FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS v(id, qty, val)"
            " WHERE s.id = v.id AND s.quantity >= v.qty",
            [ids, [taken[i][0] for i in items], [taken[i][1] for i in items]],
        )
        # The rows are locked and were checked above: fewer rows means a bug, not a race.
        assert cursor.rowcount == len(items), "zone stock changed under its lock"  # noqa: S101
    StockEntry.objects.bulk_create(
        StockEntry(
            stock_item_id=held[(ze, item_no)][0],
            movement_id=movement_of[ze].pk,
            quantity=-taken[(ze, item_no)][0],
            value=-taken[(ze, item_no)][1],
        )
        for ze, item_no in items
    )
    parcels = {
        ze: len(set().union(*(taken[i][2] for i in items if i[0] == ze))) for ze in enterprises
    }
    _record(movements, {m.pk: parcels[ze] for ze, m in movement_of.items()})


def _number(movements: list[Movement], zone_codes: dict[int, str]) -> None:
    day = timezone.localdate().strftime("%y%m%d")
    for movement in movements:
        movement.number = f"{zone_codes[movement.pk]}{day}{movement.pk:08d}"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE zones_movement SET number = v.number FROM unnest(%s::bigint[], %s::text[])"
            " AS v(id, number) WHERE zones_movement.id = v.id",
            [[m.pk for m in movements], [m.number for m in movements]],
        )


def _record(movements: list[Movement], parcels: dict[int, int]) -> None:
    timeline_record_many(
        subjects=movements,
        kind=TimelineEvent.Kind.ZONE_MOVEMENT_FILED,
        organisation_id_for=lambda m: m.organisation_id,
        data_for=lambda m: {
            "number": m.number,
            "kind": m.kind,
            "source": m.source,
            "parcels": parcels[m.pk],
        },
    )
    groups = sorted({live.organisation_group(m.organisation_id) for m in movements})
    live.publish_on_commit(groups=groups, event=events.stock_changed([m.pk for m in movements]))


@transaction.atomic
def retail_put_back(*, zone_enterprise_id: int, lines: list[RetailLine]) -> Movement:
    """A parcel's goods back on its zone enterprise's account (the buyer returned it, or
    customs sent it back before it left): one `retail_return` movement with its lines, the
    credit (one upsert) and the ledger, a timeline event and a live push."""
    enterprise = ZoneEnterprise.objects.select_related("zone").get(pk=zone_enterprise_id)
    items = {
        i.item_no: i
        for i in StockItem.objects.filter(
            zone_id=enterprise.zone_id,
            organisation_id=enterprise.organisation_id,
            item_no__in={line.item_no for line in lines},
        )
    }
    movement = Movement.objects.create(
        zone_id=enterprise.zone_id,
        organisation_id=enterprise.organisation_id,
        kind=Movement.Kind.RETAIL_RETURN,
        status=Movement.Status.COMPLETED,
        source=Movement.Source.LISTS,
    )
    _number([movement], {movement.pk: enterprise.zone.code})
    written = MovementLine.objects.bulk_create(
        MovementLine(
            movement=movement,
            item_no=line.item_no,
            hs_code=items[line.item_no].hs_code,
            description=items[line.item_no].description,
            unit=items[line.item_no].unit,
            quantity=line.quantity,
            value=line.value,
        )
        for line in lines
    )
    stock.stock_credit(enterprise.zone_id, [(enterprise.organisation_id, w) for w in written])
    _record([movement], {movement.pk: 1})
    return movement
