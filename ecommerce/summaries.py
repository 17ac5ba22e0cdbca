"""Export lists summarised monthly (清单核放、汇总申报).

Export parcels (9610 retail export, 9710 B2B direct export, 9810 export to an overseas
warehouse) are cleared list by list as they leave; once a month each e-commerce
enterprise's lists released in the month are declared in one summary declaration per trade
mode and destination (a `declarations` Declaration, through `declarations.services`),
its lines summed per commodity code. The beat does it every night for the month before;
an officer (any enterprise) or an enterprise (its own) may do it from the summaries page
or the API. A month is summarised once: a run takes an advisory lock for the month, skips
the (enterprise, mode, destination) already summarised, and the unique constraint on
`MonthlySummary` is the last line of defence.

Two aggregate queries read the month, whatever its size; the declarations are written in
one set.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import summaries as declaration_summaries
from ecommerce import queries
from ecommerce.models import InventoryList, ListLine, MonthlySummary
from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent, User
from port.timeline import timeline_record_many

LOCK_KEY = 14_9610  # with the month (yyyymm): one run per month at a time

_LINES = """
SELECT l.enterprise_id, l.trade_mode, l.destination, n.hs_code, min(n.name),
       sum(n.quantity), sum(n.quantity * n.unit_price_cents)
FROM {lists} l JOIN {lines} n ON n.inventory_list_id = l.id
WHERE l.direction = 'E' AND l.status = 'released' AND l.decided_at >= %s AND l.decided_at < %s
  AND (%s::bigint IS NULL OR l.enterprise_id = %s::bigint)
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
"""
_LISTS = """
SELECT l.enterprise_id, l.trade_mode, l.destination, count(*),
       sum(l.goods_cents + l.freight_cents),
       array_remove(array_agg(DISTINCT l.export_reference ORDER BY l.export_reference), '')
FROM {lists} l
WHERE l.direction = 'E' AND l.status = 'released' AND l.decided_at >= %s AND l.decided_at < %s
  AND (%s::bigint IS NULL OR l.enterprise_id = %s::bigint)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


@transaction.atomic
def month_summarise(
    *, year: int, month: int, user: User | None, enterprise_id: int | None = None
) -> list[MonthlySummary]:
    """Declare a past month's released export lists: one summary declaration per
    e-commerce enterprise, trade mode and destination not summarised yet.

    `user` None is the beat (every enterprise). A customs officer may summarise every
    enterprise or one; an e-commerce enterprise's member only its own (`enterprise_id`,
    or its first). Writes the declarations (through declarations' services), the
    `MonthlySummary` rows and a timeline event each. Returns the new summaries (none when
    the month was summarised before). Raises NotYours, InvalidInput (the month is not over).
    """
    enterprise_id = _enterprise_for(user, enterprise_id)
    start, end = queries.month_bounds(year, month)
    if end > timezone.now():
        raise InvalidInput({"month": [_("A month is summarised once it is over.")]})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_KEY, year * 100 + month])
    first_day = date(year, month, 1)
    done = set(
        MonthlySummary.objects.filter(month=first_day).values_list(
            "enterprise_id", "trade_mode", "destination"
        )
    )
    groups, lines = _read_month(start, end, enterprise_id)
    todo = [key for key in groups if key not in done]
    if not todo:
        return []
    declarations = declaration_summaries.list_summaries_file(
        summaries=[
            declaration_summaries.ListSummaryInput(
                enterprise_id=key[0],
                trade_mode=key[1],
                destination=key[2],
                reference=f"ecommerce-summary:{year:04d}-{month:02d}:{key[1]}:{key[2]}",
                lists=groups[key][0],
                lines=lines[key],
            )
            for key in todo
        ],
        user=user,
    )
    summaries = MonthlySummary.objects.bulk_create(
        MonthlySummary(
            enterprise_id=key[0],
            month=first_day,
            trade_mode=key[1],
            destination=key[2],
            declaration=declaration,
            lists=groups[key][0],
            value_cents=groups[key][1],
            references=groups[key][2],
            created_by=user,
        )
        for key, declaration in zip(todo, declarations, strict=True)
    )
    timeline_record_many(
        subjects=summaries,
        kind=TimelineEvent.Kind.ECOMMERCE_MONTH_SUMMARISED,
        actor=user,
        organisation_id_for=lambda s: s.enterprise_id,
        data_for=lambda s: {
            "month": f"{year:04d}-{month:02d}",
            "trade_mode": s.trade_mode,
            "destination": s.destination,
            "lists": s.lists,
            "declaration": s.declaration.number,
        },
    )
    return summaries


def _enterprise_for(user: User | None, enterprise_id: int | None) -> int | None:
    """Whose lists a run may summarise: all (the beat, customs), or the member's own."""
    if user is None or queries.is_customs(user):
        return enterprise_id
    own = sorted(queries.roles_for(user).get("enterprise", []))
    if not own or (enterprise_id is not None and enterprise_id not in own):
        raise NotYours(_("Only customs or the e-commerce enterprise summarise its exports."))
    return enterprise_id if enterprise_id is not None else own[0]


def _read_month(start, end, enterprise_id: int | None) -> tuple[dict, dict]:
    """{(enterprise, mode, destination): (lists, cents, references)} and their lines
    [(hs_code, description, quantity, value CNY)] per commodity code: two queries."""
    tables = {"lists": InventoryList._meta.db_table, "lines": ListLine._meta.db_table}
    params = [start, end, enterprise_id, enterprise_id]
    with connection.cursor() as cursor:
        cursor.execute(_LISTS.format(**tables), params)
        groups = {(e, m, d): (n, cents, refs) for e, m, d, n, cents, refs in cursor.fetchall()}
        cursor.execute(_LINES.format(**tables), params)
        lines: dict[tuple, list] = {key: [] for key in groups}
        for e, m, d, hs_code, name, quantity, cents in cursor.fetchall():
            lines[(e, m, d)].append((hs_code, name or hs_code, quantity, Decimal(cents) / 100))
    return groups, lines


def previous_month(today: date | None = None) -> tuple[int, int]:
    last = (today or timezone.localdate()).replace(day=1) - timedelta(days=1)
    return last.year, last.month


def month_summarise_previous() -> int:
    """The beat's run: the month before today, every enterprise. Idempotent."""
    year, month = previous_month()
    return len(month_summarise(year=year, month=month, user=None))
