"""Deciding inventory lists in sets: match each against its three documents, apply the
retail rules (positive list, single-transaction and annual limits), compute the tax, and
run the risk rules, for a whole batch at once.

A list whose documents are not all in stays waiting; the batch that brings the last one
decides it (`batch_decide` runs for every batch of every kind). Reads per chunk: the lists
with their documents (one join, the lists locked), their goods lines, the positive list,
the watched buyers, the rule set; writes: the quota (`ecommerce.quota`), one UPDATE of the
lists, one statistics row, one timeline event per declarant, one live message per group.
"""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from declarations.two_step import guarantee_draw_set
from ecommerce import events, quota, risk, tax
from ecommerce.db import bulk_cursor, int_array, text_array
from ecommerce.models import (
    Batch,
    DecisionStat,
    InventoryList,
    ListLine,
    ListRuleSet,
    Order,
    Payment,
    PositiveListEntry,
    WatchedBuyer,
    Waybill,
)
from inspection.models import Outcome
from port.batch import collector_paused
from port.models import TimelineEvent
from port.timeline import timeline_record_many
from zones import services as zone_services
from zones.services import RetailLine

S = InventoryList.Status
CHUNK = 2000
COALESCE_BATCHES = 50
SINGLE_LIMIT_CENTS = 500_000
# Upper bounds (ms) of the decision-time histogram the board merges for p50/p99.
LATENCY_BUCKETS_MS = [
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    10000,
    30000,
    60000,
]


@dataclass
class Verdict:
    id: int
    status: str
    reason: str = ""
    reason_field: str = ""
    vat: int = 0
    consumption: int = 0
    quota: int = 0
    guarantee: int = 0
    rules_hit: tuple = ()


def batch_decide(*, batch_id: int) -> int:
    """Decide the waiting lists this batch completes, and with them those of the other
    batches still undecided and unclaimed at this moment, up to about CHUNK lists: under
    load one task takes the queue behind it in sets of CHUNK instead of a small set per
    batch, and the later tasks find their batches taken. Deciders in parallel (the
    worker's processes) each claim batches of their own (`_claim`), so they never wait on
    each other's lists. Idempotent. Returns how many were decided. The garbage collector
    waits meanwhile (as in `ecommerce.intake.batch_file`)."""
    with collector_paused():
        return _batch_decide(batch_id)


def _batch_decide(batch_id: int) -> int:
    claimed = _claim(batch_id)
    if not claimed:
        return 0  # decided, or another decider holds it
    ids = sorted({list_id for pk, k in claimed for list_id in _candidates(k, pk)})
    decided = sum(lists_decide(list_ids=ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK))
    Batch.objects.filter(pk__in=[pk for pk, _k in claimed], decided_at__isnull=True).update(
        decided_at=timezone.now()
    )
    return decided


CLAIM_EXPIRES = timedelta(seconds=60)

# This batch first, then the oldest others, as many as fill about CHUNK lists, each taken
# by one decider only. The open batches are read without a lock, then exactly the chosen
# ones are locked and claimed in one statement: SKIP LOCKED passes over those another
# decider is claiming at that instant (it takes them), the WHERE over those it has claimed,
# and the claim is committed at once (no transaction here), so the next decider sees it.
_OPEN = (
    "SELECT id, filed FROM {batches} WHERE decided_at IS NULL "
    "AND (claimed_at IS NULL OR claimed_at < %s) ORDER BY id <> %s, id LIMIT %s"
)
_CLAIM = (
    "UPDATE {batches} SET claimed_at = %s WHERE id IN (SELECT id FROM {batches} "
    "WHERE id = ANY(%s::bigint[]) AND decided_at IS NULL "
    "AND (claimed_at IS NULL OR claimed_at < %s) FOR UPDATE SKIP LOCKED) RETURNING id, kind"
)


def _claim(batch_id: int) -> list[tuple[int, str]]:
    now = timezone.now()
    stale, table = now - CLAIM_EXPIRES, Batch._meta.db_table
    with bulk_cursor() as cursor:
        cursor.execute(_OPEN.format(batches=table), [stale, batch_id, COALESCE_BATCHES])
        wanted, lists = [], 0
        for pk, filed in cursor.fetchall():
            if lists >= CHUNK:
                break
            wanted.append(pk)
            lists += filed
        if not wanted:
            return []
        cursor.execute(_CLAIM.format(batches=table), [now, int_array(wanted), stale])
        return sorted(cursor.fetchall())


def _candidates(kind: str, batch_id: int) -> list[int]:
    lists = InventoryList._meta.db_table
    if kind == "list":
        sql = f"SELECT id FROM {lists} WHERE batch_id = %s AND status = 'waiting'"  # noqa: S608
    elif kind == "waybill":
        sql = (
            f"SELECT l.id FROM {lists} l JOIN {Waybill._meta.db_table} d "  # noqa: S608
            "ON d.waybill_no = l.waybill_no WHERE d.batch_id = %s AND l.status = 'waiting'"
        )
    else:
        table = (Order if kind == "order" else Payment)._meta.db_table
        sql = (
            f"SELECT l.id FROM {lists} l JOIN {table} d ON d.platform_id = l.platform_id "  # noqa: S608
            "AND d.order_no = l.order_no WHERE d.batch_id = %s AND l.status = 'waiting'"
        )
    with bulk_cursor() as cursor:
        cursor.execute(sql + " ORDER BY 1", [batch_id])
        return [r[0] for r in cursor.fetchall()]


# The filing time as seconds since the epoch (a float): psycopg's timestamptz loading of
# 2,000 values, through Django's lenient loader, was a tenth of a decision in py-spy.
_SELECT = """
SELECT l.id, l.list_no, l.platform_id, l.enterprise_id, l.declarant_id, l.waybill_no,
       l.order_no, l.direction, l.buyer_key, l.buyer_name_key, l.goods_cents,
       l.freight_cents, l.goods_digest, extract(epoch FROM l.created_at)::float8,
       o.id, o.enterprise_id, o.buyer_key, o.buyer_name_key, o.goods_cents, o.freight_cents,
       o.goods_digest,
       p.id, p.buyer_key, p.buyer_name_key, p.amount_cents,
       w.id, w.platform_id, w.order_no, l.trade_mode, l.zone_enterprise_id
FROM {lists} l
LEFT JOIN {orders} o ON o.platform_id = l.platform_id AND o.order_no = l.order_no
LEFT JOIN {payments} p ON p.platform_id = l.platform_id AND p.order_no = l.order_no
LEFT JOIN {waybills} w ON w.waybill_no = l.waybill_no
WHERE l.id = ANY(%s::bigint[]) AND l.status = 'waiting'
ORDER BY l.id
FOR UPDATE OF l
"""


@transaction.atomic
def lists_decide(*, list_ids: list[int]) -> int:
    """Decide the given lists that are waiting and complete; the rest keep waiting.

    The lists are locked in id order (FOR UPDATE): a concurrent decision of the same lists
    waits, then sees them decided, or sees the document that completed them.
    """
    if not list_ids:
        return 0
    with bulk_cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            _SELECT.format(
                lists=InventoryList._meta.db_table,
                orders=Order._meta.db_table,
                payments=Payment._meta.db_table,
                waybills=Waybill._meta.db_table,
            ),
            [int_array(list_ids)],
        )
        rows = [r for r in cursor.fetchall() if _complete(r)]
    if not rows:
        return 0
    now = timezone.now()
    verdicts = _judge(rows, now)
    _write(verdicts, rows, now)
    return len(verdicts)


def _complete(r) -> bool:
    has_order, has_payment, has_waybill = r[14] is not None, r[21] is not None, r[25] is not None
    return has_order and has_waybill and (has_payment or r[7] == "E")


def _mismatch(r) -> str:
    """The first field in which a list differs from its documents, or ''."""
    is_import = r[7] == "I"
    checks = [
        ("order.enterprise", r[3] == r[15]),
        ("order.buyer_id", not is_import or r[8] == r[16]),
        ("order.buyer_name", not is_import or r[9] == r[17]),
        ("order.goods", r[12] == r[20]),
        ("order.goods_value", r[10] == r[18]),
        ("order.freight", r[11] == r[19]),
        ("payment.buyer_id", not is_import or r[8] == r[22]),
        ("payment.buyer_name", not is_import or r[9] == r[23]),
        ("payment.amount", not is_import or r[10] + r[11] == r[24]),
        ("waybill.platform", r[2] == r[26]),
        ("waybill.order_no", r[6] == r[27]),
    ]
    return next((name for name, same in checks if not same), "")


def _judge(rows, now) -> list[Verdict]:
    ids = [r[0] for r in rows]
    lines: dict[int, list[tuple[str, int, int]]] = {}
    items: dict[int, list[RetailLine]] = {}  # a 1210 list's lines, by item number
    with bulk_cursor() as cursor:
        cursor.execute(
            f"SELECT inventory_list_id, hs_code, quantity, unit_price_cents, line_no, item_no "  # noqa: S608
            f"FROM {ListLine._meta.db_table} WHERE inventory_list_id = ANY(%s::bigint[])",
            [int_array(ids)],
        )
        for list_id, hs_code, quantity, price, line_no, item_no in cursor.fetchall():
            lines.setdefault(list_id, []).append((hs_code, quantity, price))
            if item_no:
                items.setdefault(list_id, []).append(
                    RetailLine(line_no - 1, item_no, quantity, Decimal(quantity * price) / 100)
                )
    in_force = list(PositiveListEntry.objects.filter(retired_at__isnull=True))
    positive = tax.positive_list_index(in_force)
    modes = {e.hs_prefix: e.trade_modes for e in in_force}
    with bulk_cursor() as cursor:  # thousands of keys: bound as one array, not quoted
        cursor.execute(
            f"SELECT buyer_key FROM {WatchedBuyer._meta.db_table} "  # noqa: S608
            "WHERE buyer_key = ANY(%s::text[])",
            [text_array({r[8] for r in rows if r[8]})],
        )
        watched = {key for (key,) in cursor.fetchall()}
    rule_set = ListRuleSet.objects.order_by("-version").first()
    verdicts, to_assess = [], []
    for r in rows:
        verdict = _retail_rules(r, lines.get(r[0], []), positive, modes)
        verdicts.append(verdict)
        if verdict.status != S.REFUSED:
            to_assess.append((verdict, r))
    _assess(to_assess, lines, positive, watched, rule_set)
    stock = _plan_stock([(v, r) for v, r in to_assess if r[29] is not None], items)
    _draw_quota([(v, r) for v, r in to_assess if v.status != S.REFUSED and r[7] == "I"], now)
    _draw_guarantee([(v, r) for v, r in to_assess if v.status != S.REFUSED and r[7] == "I"], now)
    zone_services.retail_stock_take(stock, {v.id for v, _r in to_assess if v.status != S.REFUSED})
    for verdict in verdicts:
        verdict.rule_set_version = rule_set.version if rule_set else None  # type: ignore[attr-defined]
    return verdicts


def _retail_rules(r, lines, positive, modes) -> Verdict:
    differs = _mismatch(r)
    if differs:
        return Verdict(r[0], S.REFUSED, "mismatch", differs)
    if r[7] != "I":
        return Verdict(r[0], S.RELEASED)
    for position, (hs_code, _q, _p) in enumerate(lines):
        if tax.rate_for(hs_code, positive) is None:
            return Verdict(r[0], S.REFUSED, "not_on_positive_list", f"goods[{position}].hs_code")
        if r[28] not in tax.rate_for(hs_code, modes):
            return Verdict(r[0], S.REFUSED, "mode_not_allowed", f"goods[{position}].hs_code")
    value = r[10] + r[11]
    if value > SINGLE_LIMIT_CENTS:
        return Verdict(r[0], S.REFUSED, "over_single_limit", "goods")
    vat, consumption = tax.list_tax(lines, r[11], positive)
    return Verdict(r[0], S.RELEASED, vat=vat, consumption=consumption, quota=value)


def _assess(to_assess, lines, positive, watched, rule_set) -> None:
    if rule_set is None:  # no rules activated yet: every list is released, nothing to build
        return
    consignments = []
    for _verdict, r in to_assess:
        codes = tuple(hs for hs, _q, _p in lines.get(r[0], []))
        categories = frozenset(
            found[0] for hs in codes if (found := tax.rate_for(hs, positive)) is not None
        )
        consignments.append(
            risk.ListConsignment(
                declaration_id=r[0],
                bl_number=r[5],
                enterprise_id=r[3],
                platform_id=r[2],
                hs_codes=codes,
                categories=categories,
                value_cents=r[10] + r[11],
                buyer_watched=r[8] in watched,
                containers=(r[1],),
                filed_on=datetime.fromtimestamp(r[13], UTC).date(),
            )
        )
    for (verdict, _r), (outcome, hits) in zip(
        to_assess, risk.evaluate(rule_set, consignments), strict=True
    ):
        verdict.rules_hit = tuple(hits)
        if outcome != Outcome.RELEASE:
            verdict.status = S.SELECTED


def _plan_stock(bonded, items) -> "zone_services.RetailPlan":
    """1210 lists: their goods must be on the warehouse's account. The stock rows are
    locked here and stay locked to the end of the decision; a list the account no longer
    covers is refused with its first short line. What is taken is written after the quota
    and the guarantee have refused what they refuse (`retail_stock_take`), so a list
    refused there takes nothing and nothing has to be given back."""
    plan = zone_services.retail_stock_plan(
        [zone_services.RetailDraw(v.id, r[29], tuple(items.get(v.id, ()))) for v, r in bonded]
    )
    for verdict, _r in bonded:
        if verdict.id in plan.short:
            verdict.status, verdict.reason = S.REFUSED, "stock_short"
            verdict.reason_field = f"goods[{plan.short[verdict.id]}].quantity"
            verdict.vat = verdict.consumption = verdict.quota = 0
            verdict.rules_hit = ()
    return plan


def _draw_quota(drawing, now) -> None:
    year = now.year
    fitting = quota.draw([(v.id, r[8], year, v.quota) for v, r in drawing])
    for verdict, _r in drawing:
        if verdict.id not in fitting:
            verdict.status, verdict.reason, verdict.reason_field = (
                S.REFUSED,
                "over_annual_limit",
                "buyer_id",
            )
            verdict.vat = verdict.consumption = verdict.quota = 0
            verdict.rules_hit = ()


def _draw_guarantee(drawing, now) -> None:
    """The tax of the lists to be released is drawn from their e-commerce enterprise's
    guarantee in one set; a list it no longer covers, or whose enterprise may not draw
    (an overdue tax month or bill), is refused and gives its quota back."""
    taxed = [(v, r) for v, r in drawing if v.vat + v.consumption > 0]
    if not taxed:
        return
    drawn, uncovered, blocked = guarantee_draw_set(
        [(v.id, r[3], v.vat + v.consumption) for v, r in taxed]
    )
    refused = uncovered | blocked
    quota.give_back_many([(r[8], now.year, v.quota) for v, r in taxed if v.id in refused])
    for verdict, _r in taxed:
        if verdict.id in drawn:
            verdict.guarantee = verdict.vat + verdict.consumption
        elif verdict.id in refused:
            verdict.status, verdict.reason, verdict.reason_field = (
                S.REFUSED,
                "guarantee_blocked" if verdict.id in blocked else "over_guarantee",
                "guarantee",
            )
            verdict.vat = verdict.consumption = verdict.quota = 0
            verdict.rules_hit = ()


def _write(verdicts: list[Verdict], rows, now) -> None:
    year = now.year
    with bulk_cursor() as cursor:
        cursor.execute(
            f"UPDATE {InventoryList._meta.db_table} l SET status = v.status, reason = v.reason, "  # noqa: S608
            "reason_field = v.field, vat_cents = v.vat, consumption_cents = v.consumption, "
            "quota_cents = v.quota, guarantee_cents = v.guarantee, quota_year = CASE WHEN v.quota > 0 THEN %s END, "
            "rule_set_version = %s, rules_hit = v.hits::jsonb, decided_at = %s, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[], "
            "%s::bigint[], %s::bigint[], %s::text[], %s::bigint[]) AS v(id, status, reason, field, "
            "vat, consumption, quota, hits, guarantee) WHERE l.id = v.id",
            [
                year,
                getattr(verdicts[0], "rule_set_version", None),
                now,
                now,
                int_array(v.id for v in verdicts),
                text_array(str(v.status) for v in verdicts),
                text_array(v.reason for v in verdicts),
                text_array(v.reason_field for v in verdicts),
                int_array(v.vat for v in verdicts),
                int_array(v.consumption for v in verdicts),
                int_array(v.quota for v in verdicts),
                text_array(json.dumps(list(v.rules_hit)) for v in verdicts),
                int_array(v.guarantee for v in verdicts),
            ],
        )
    _record(verdicts, rows, now)


def _record(verdicts: list[Verdict], rows, now) -> None:
    """The board's statistics row, a timeline event per declarant, one live message per group."""
    counts = Counter(str(v.status) for v in verdicts)
    histogram = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    now_s = now.timestamp()
    for r in rows:
        waited = (now_s - r[13]) * 1000
        histogram[
            next(
                (i for i, b in enumerate(LATENCY_BUCKETS_MS) if waited <= b),
                len(LATENCY_BUCKETS_MS),
            )
        ] += 1
    DecisionStat.objects.create(
        decided_at=now,
        lists=len(verdicts),
        released=counts[S.RELEASED],
        selected=counts[S.SELECTED],
        refused=counts[S.REFUSED],
        latency_histogram=histogram,
    )
    by_declarant: dict[int, Counter] = {}
    platforms = set()
    status_of = {v.id: str(v.status) for v in verdicts}
    for r in rows:
        by_declarant.setdefault(r[4], Counter())[status_of[r[0]]] += 1
        platforms.add(r[2])
    # One event per declarant and set, not per list: its subject is the set's first list.
    for declarant_id, declared in sorted(by_declarant.items()):
        timeline_record_many(
            subjects=[InventoryList(pk=verdicts[0].id)],
            kind=TimelineEvent.Kind.ECOMMERCE_LISTS_DECIDED,
            organisation_id=declarant_id,
            data_for=lambda _s, declared=declared: {
                "counts": dict(declared),
                "lists": len(verdicts),
            },
        )
    events.publish_decided(
        declarant_ids=sorted(by_declarant), platform_ids=sorted(platforms), counts=dict(counts)
    )


def batches_decide_stuck(*, older_than_s: int = 60) -> int:
    """Batches whose decision task was lost (a worker killed, Redis restarted) are decided
    again; deciding is idempotent. Run by beat every minute."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    ids = list(
        Batch.objects.filter(decided_at__isnull=True, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:100]
    )
    for batch_id in ids:
        batch_decide(batch_id=batch_id)
    return len(ids)
