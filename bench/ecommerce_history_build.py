"""Ten million decided inventory lists for `bench.ecommerce_history`, built once.

The history lives in a database of its own (BENCH_EC_HISTORY_DB, default `pw_ec_history`),
kept between runs like the dashboard's: a run that finds it full only migrates it.
BENCH_EC_HISTORY_LISTS sets its size (default 10,000,000) over DAYS days ending now.

What is in it: the e-commerce world of the tests (alice's declaring enterprise, the
platform, the site operator, an officer) plus 23 more declaring enterprises, 7 more
platforms and 29 more e-commerce enterprises. alice's enterprise files one list in five
(2 M: a big declarant), the others share the rest. Per day: a weekly rhythm around
the mean, a busier last fortnight, and the last day (today, ending now) is the Double 11
peak at ten times the mean. Every list is decided (released 90 %, refused 5 %, refunded
1 %, sent back 0.5 %, held 0.1 %; selected only in the last day), one or two goods lines
each, one batch and one board statistics row per 2,000 lists, and the sorting line's scans
of the last hour at 200 a second.

The rows are generated inside PostgreSQL (`INSERT … SELECT` over `generate_series`, a day
range per statement): the same bulk path as COPY without a row crossing the wire or
being formatted in Python, which on this 2-core machine was the slower half of a COPY.
The table's secondary indexes and unique constraints are dropped before the load and
built after it (foreign keys not checked during the load: `session_replication_role`),
then ANALYZE.
"""

import math
import time

from django.core.management import call_command
from django.db import connection, transaction

from ecommerce.decision import LATENCY_BUCKETS_MS
from ecommerce.models import InventoryList, ListLine, Participant
from port.models import Organisation
from tests.ecommerce import factories

DAYS = 180
PER_BATCH = 2000
LISTS_TABLE = InventoryList._meta.db_table
LINES_TABLE = ListLine._meta.db_table

_LISTS = f"""
INSERT INTO {LISTS_TABLE} (
    id, declarant_id, platform_id, enterprise_id, logistics_id, list_no, order_no,
    waybill_no, trade_mode, direction, buyer_key, buyer_name_key, buyer_name_masked,
    buyer_id_masked, goods_cents, freight_cents, goods_digest, status, reason, reason_field,
    vat_cents, consumption_cents, quota_cents, quota_year, guarantee_cents, rule_set_version,
    rules_hit, destination, export_reference, batch_id, created_at, decided_at, updated_at)
SELECT i,
    CASE WHEN i %% 5 = 0 THEN %(alice)s ELSE (%(declarants)s::bigint[])[1 + (i / 7) %% %(nd)s] END,
    (%(platforms)s::bigint[])[1 + (i / 3) %% %(np)s],
    (%(enterprises)s::bigint[])[1 + (i / 11) %% %(ne)s],
    %(logistics)s,
    'HL' || i, 'HO' || i, 'HW' || i,
    m.mode, m.direction,
    md5('b' || (i %% 3000000)), left(md5('n' || (i %% 3000000)), 16), '张*',
    '1101**********123X',
    g.goods, 1000 + (i %% 7) * 100, left(md5('g' || i), 16),
    s.status,
    CASE WHEN s.status = 'refused' THEN 'payment_mismatch' ELSE '' END,
    CASE WHEN s.status = 'refused' THEN 'payment.amount' ELSE '' END,
    CASE WHEN m.direction = 'I' THEN g.goods * 91 / 1000 ELSE 0 END,
    CASE WHEN m.direction = 'I' AND i %% 4 = 0 THEN g.goods * 136 / 1000 ELSE 0 END,
    CASE WHEN m.direction = 'I' THEN g.goods ELSE 0 END,
    CASE WHEN m.direction = 'I' THEN 2026 END,
    0, 1, '[]'::jsonb,
    CASE WHEN m.direction = 'E' THEN (ARRAY['US', 'DE', 'GB', 'JP', 'AU'])[1 + i %% 5] ELSE '' END,
    CASE WHEN m.mode = '9710' THEN 'B2B' || (i / 500) WHEN m.mode = '9810' THEN 'OW' || i %% 9
         ELSE '' END,
    %(first_batch)s + (i - 1) / {PER_BATCH},
    t.created, t.created + interval '2 seconds', t.created + interval '2 seconds'
FROM (SELECT d.first_id + k AS i, d.day_start + (k * 86400.0 / d.n) * interval '1 second'
             AS created, d.n, d.last_day
      FROM unnest(%(first_ids)s::bigint[], %(counts)s::bigint[], %(starts)s::timestamptz[],
                  %(last)s::boolean[]) AS d(first_id, n, day_start, last_day),
           generate_series(0, d.n - 1) AS k) AS t(i, created, n, last_day),
LATERAL (SELECT CASE WHEN i %% 20 < 14 THEN '9610' WHEN i %% 20 < 18 THEN '1210'
                     WHEN i %% 20 = 18 THEN '9710' ELSE '9810' END AS mode,
                CASE WHEN i %% 20 < 18 THEN 'I' WHEN i %% 40 < 20 THEN 'E' ELSE 'E' END
                     AS direction) AS m,
LATERAL (SELECT 2000 + (i * 7919) %% 480000 AS goods) AS g,
LATERAL (SELECT CASE WHEN i %% 1000 < 50 THEN 'refused' WHEN i %% 1000 < 60 THEN 'refunded'
                     WHEN i %% 1000 < 65 THEN 'sent_back' WHEN i %% 1000 = 65 THEN 'held'
                     WHEN i %% 1000 < 86 AND t.last_day THEN 'selected'
                     ELSE 'released' END AS status) AS s
"""

_LINES = f"""
INSERT INTO {LINES_TABLE} (inventory_list_id, line_no, hs_code, name, quantity,
                           unit_price_cents, item_no)
SELECT l.id, n, (ARRAY['3304990099', '1901101000', '6403990090', '3304100000'])[1 + (l.id + n) %% 4],
       (ARRAY['face cream', 'milk powder', 'sneakers', 'lipstick'])[1 + (l.id + n) %% 4],
       1 + l.id %% 3, l.goods_cents / n / (1 + l.id %% 3), ''
FROM {LISTS_TABLE} l, generate_series(1, 1 + (l.id %% 3 = 0)::int) AS n
WHERE l.id BETWEEN %(low)s AND %(high)s
"""


def day_volumes(total: int, days: int = DAYS) -> list[int]:
    """Lists per day, oldest first: a weekly rhythm (weekends busier), the last fortnight
    busier, the last day the peak at ten times the mean; summing to `total`."""
    weights = []
    for day in range(days):
        weekly = 1.0 + 0.25 * math.sin(2 * math.pi * day / 7)
        ramp = 1.5 if day >= days - 15 else 1.0
        weights.append(weekly * ramp)
    weights[-1] = 10.0
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[-1] += total - sum(counts)
    return counts


def ensure_history(total: int) -> dict:
    """Fill the current database with `total` lists unless it has them; the build's times."""
    call_command("migrate", verbosity=0)
    ec = _world()
    have = _count()
    if have >= total:
        return {"built": False, "lists": have}
    if have:  # a half-built history (interrupted): start over
        with connection.cursor() as cursor:
            cursor.execute(
                f"TRUNCATE {LINES_TABLE}, {LISTS_TABLE}, ecommerce_decisionstat, "
                "ecommerce_sortingscan"
            )
    times: dict = {"built": True, "lists": total}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers in the load
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET synchronous_commit = off")
        indexes = _drop_secondary_indexes(cursor)
        times["lists_s"] = _load_lists(cursor, ec, total)
        began = time.perf_counter()
        cursor.execute(f"SELECT max(id) FROM {LISTS_TABLE}")
        top = cursor.fetchone()[0]
        for low in range(1, top + 1, 2_000_000):
            cursor.execute(_LINES, {"low": low, "high": low + 1_999_999})
        times["lines_s"] = round(time.perf_counter() - began, 1)
        began = time.perf_counter()
        _statistics_and_scans(cursor, total)
        times["stats_and_scans_s"] = round(time.perf_counter() - began, 1)
        began = time.perf_counter()
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        for statement in indexes:
            cursor.execute(statement)
        times["indexes_s"] = round(time.perf_counter() - began, 1)
        cursor.execute("SET session_replication_role = DEFAULT")
        began = time.perf_counter()
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{LISTS_TABLE}', 'id'), {top})")
        cursor.execute("VACUUM (ANALYZE) " + LISTS_TABLE)
        cursor.execute("VACUUM (ANALYZE) " + LINES_TABLE)
        cursor.execute("ANALYZE")
        times["analyze_s"] = round(time.perf_counter() - began, 1)
    times["total_s"] = round(time.perf_counter() - started, 1)
    return times


def _count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {LISTS_TABLE}")
        return cursor.fetchone()[0]


def _world():
    """The tests' world (alice, the site operator, an officer) and the other participants,
    once per database."""
    if Participant.objects.filter(code="DEC01").exists():
        names = dict(Organisation.objects.values_list("name", "pk"))
        return {
            "alice": names["Nansha Declaring Services"],
            "logistics": names["Cainiao Logistics"],
            "declarants": list(
                Participant.objects.filter(role="declarant")
                .exclude(code="DEC01")
                .order_by("pk")
                .values_list("organisation_id", flat=True)
            ),
            "platforms": _ids("platform"),
            "enterprises": _ids("enterprise"),
        }
    with transaction.atomic():
        ec = factories.world()
        for user in (ec.alice, ec.operator, ec.officer, ec.platform_user):
            user.set_password("bench-portwise")
            user.save(update_fields=["password"])
        for role, prefix, count in (
            (Participant.Role.DECLARANT, "HDEC", 23),
            (Participant.Role.PLATFORM, "HPLAT", 7),
            (Participant.Role.ENTERPRISE, "HENT", 29),
        ):
            for n in range(count):
                organisation = Organisation.objects.create(name=f"{prefix} {n:02d}")
                Participant.objects.create(
                    organisation=organisation, role=role, code=f"{prefix}{n:02d}"
                )
    return _world()


def _ids(role: str) -> list[int]:
    return list(
        Participant.objects.filter(role=role)
        .order_by("pk")
        .values_list("organisation_id", flat=True)
    )


def _drop_secondary_indexes(cursor) -> list[str]:
    """Drop the lists' and lines' indexes and unique constraints but their primary keys;
    return the statements that build them again."""
    statements = []
    for table in (LISTS_TABLE, LINES_TABLE):
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            statements.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f"DROP INDEX {name}")
            statements.append(definition)
    return statements


def _load_lists(cursor, ec: dict, total: int) -> float:
    from datetime import UTC, datetime, timedelta

    began = time.perf_counter()
    counts = day_volumes(total)
    now = datetime.now(UTC).replace(microsecond=0)
    first_day = now - timedelta(days=len(counts))
    cursor.execute("SELECT coalesce(max(id), 0) FROM ecommerce_batch")
    first_batch = cursor.fetchone()[0] + 1
    batches = (total + PER_BATCH - 1) // PER_BATCH
    cursor.execute(
        "INSERT INTO ecommerce_batch (id, organisation_id, kind, idempotency_key, submitted, "
        "filed, result, decided_at, created_at) SELECT b, %s, 'list', '', %s, %s, '{}', "
        "%s, %s FROM generate_series(%s, %s) b",
        [ec["alice"], PER_BATCH, PER_BATCH, now, now, first_batch, first_batch + batches - 1],
    )
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('ecommerce_batch', 'id'), %s)",
        [first_batch + batches - 1],
    )
    first_id, chunk = 1, 10
    for start in range(0, len(counts), chunk):
        part = counts[start : start + chunk]
        ids, acc = [], first_id
        for n in part:
            ids.append(acc)
            acc += n
        cursor.execute(
            _LISTS,
            {
                "alice": ec["alice"],
                "declarants": ec["declarants"],
                "nd": len(ec["declarants"]),
                "platforms": ec["platforms"],
                "np": len(ec["platforms"]),
                "enterprises": ec["enterprises"],
                "ne": len(ec["enterprises"]),
                "logistics": ec["logistics"],
                "first_batch": first_batch,
                "first_ids": ids,
                "counts": part,
                "starts": [first_day + timedelta(days=start + k) for k in range(len(part))],
                "last": [start + k == len(counts) - 1 for k in range(len(part))],
            },
        )
        first_id = acc
    return round(time.perf_counter() - began, 1)


def _statistics_and_scans(cursor, total: int) -> None:
    """One board statistics row per batch at its lists' last decision; the sorting line's
    scans of the last hour at 200 a second (the board counts the last 15 minutes')."""
    buckets = len(LATENCY_BUCKETS_MS) + 1
    cursor.execute(
        f"""INSERT INTO ecommerce_decisionstat (decided_at, lists, released, selected, refused,
                                              latency_histogram)
        SELECT max(decided_at), count(*), count(*) FILTER (WHERE status = 'released'),
               count(*) FILTER (WHERE status = 'selected'),
               count(*) FILTER (WHERE status = 'refused'),
               array_fill(0, ARRAY[{buckets}])
        FROM {LISTS_TABLE} GROUP BY batch_id"""
    )
    cursor.execute(
        "UPDATE ecommerce_decisionstat SET latency_histogram[1] = lists * 9 / 10, "
        "latency_histogram[2] = lists - lists * 9 / 10"
    )
    cursor.execute(
        f"""INSERT INTO ecommerce_sortingscan (waybill_no, instruction, scanned_at)
        SELECT 'HW' || ({total} - s), CASE WHEN s % 50 = 0 THEN 'inspection' ELSE 'release' END,
               now() - s * interval '5 milliseconds'
        FROM generate_series(0, 719999) s"""
    )
