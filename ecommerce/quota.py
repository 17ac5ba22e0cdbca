"""Each buyer's annual limit (26,000 CNY), drawn race-free for a whole batch at once.

Two statements per batch, inside the decision's transaction:
1. make sure each buyer of the batch has a row for the year (INSERT … ON CONFLICT DO
   NOTHING), then lock those rows in a fixed order (SELECT … ORDER BY buyer_key FOR UPDATE),
   so that concurrent batches of the same buyers queue behind each other and never deadlock;
2. decide in Python which lists fit, in list order, and add what they draw (one UPDATE …
   FROM unnest).
No buyer is ever over the limit however many batches draw at once: a batch sees the amount
the previous holder of the lock committed.
"""

from ecommerce.db import bulk_cursor, int_array, text_array
from ecommerce.models import BuyerQuota

ANNUAL_LIMIT_CENTS = 2_600_000


def draw(requests: list[tuple[int, str, int, int]], *, limit: int = ANNUAL_LIMIT_CENTS) -> set[int]:
    """Draw for (list_id, buyer_key, year, cents) requests; returns the list ids that fit."""
    if not requests:
        return set()
    table = BuyerQuota._meta.db_table
    buyers = sorted({(key, year) for _id, key, year, _c in requests})
    keys, years = [b[0] for b in buyers], [b[1] for b in buyers]
    with bulk_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (buyer_key, year, used_cents) "  # noqa: S608 - our table
            "SELECT k, y, 0 FROM unnest(%s::text[], %s::int[]) AS b(k, y) "
            "ON CONFLICT (buyer_key, year) DO NOTHING",
            [text_array(keys), int_array(years)],
        )
        cursor.execute(
            f"SELECT q.buyer_key, q.year, q.used_cents FROM {table} q "  # noqa: S608
            "JOIN unnest(%s::text[], %s::int[]) AS b(k, y) ON q.buyer_key = b.k AND q.year = b.y "
            "ORDER BY q.buyer_key, q.year FOR UPDATE OF q",
            [text_array(keys), int_array(years)],
        )
        used = {(k, y): u for k, y, u in cursor.fetchall()}
        fitting, added = set(), {}
        for list_id, key, year, cents in sorted(requests):
            if used[(key, year)] + cents <= limit:
                used[(key, year)] += cents
                added[(key, year)] = added.get((key, year), 0) + cents
                fitting.add(list_id)
        if added:
            cursor.execute(
                f"UPDATE {table} q SET used_cents = q.used_cents + a.cents "  # noqa: S608
                "FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS a(k, y, cents) "
                "WHERE q.buyer_key = a.k AND q.year = a.y",
                [
                    text_array(k for k, _y in added),
                    int_array(y for _k, y in added),
                    int_array(added.values()),
                ],
            )
    return fitting


def give_back(buyer_key: str, year: int, cents: int) -> None:
    """A returned or sent-back list's draw goes back to the buyer's quota."""
    with bulk_cursor() as cursor:
        cursor.execute(
            f"UPDATE {BuyerQuota._meta.db_table} SET used_cents = GREATEST(used_cents - %s, 0) "  # noqa: S608
            "WHERE buyer_key = %s AND year = %s",
            [cents, buyer_key, year],
        )


def give_back_many(requests: list[tuple[str, int, int]]) -> None:
    """(buyer_key, year, cents) draws go back in one statement (lists refused after drawing)."""
    if not requests:
        return
    with bulk_cursor() as cursor:
        cursor.execute(
            f"UPDATE {BuyerQuota._meta.db_table} q "  # noqa: S608
            "SET used_cents = GREATEST(q.used_cents - a.cents, 0) "
            "FROM (SELECT k, y, sum(c) AS cents FROM unnest(%s::text[], %s::int[], %s::bigint[]) "
            "AS r(k, y, c) GROUP BY k, y) a WHERE q.buyer_key = a.k AND q.year = a.y",
            [
                text_array(k for k, _y, _c in requests),
                int_array(y for _k, y, _c in requests),
                int_array(c for _k, _y, c in requests),
            ],
        )
