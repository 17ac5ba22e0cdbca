"""The comprehensive tax on retail imports (跨境电商综合税), in integer cents.

Within the limits the tariff is 0, and import VAT and consumption tax are due at 70 % of
their statutory amounts. For each goods line, the dutiable value is its price times
quantity plus its share of the freight (shared by value, the remainder on the last line):

    consumption = value × c / (1 − c)          (consumption tax is levied on a price that includes it)
    vat         = (value + consumption) × v
    due         = 70 % of each, summed over the list, rounded half up to the cent

Rates come from the positive list (`PositiveListEntry`), by the longest matching prefix.
Exact fractions until the one rounding, so a list's tax never depends on line order.
"""

from fractions import Fraction

SHARE = Fraction(7, 10)
BASIS = 10_000


def positive_list_index(entries) -> dict[str, tuple[str, int, int]]:
    """{hs_prefix: (category, vat_bp, consumption_bp)}"""
    return {e.hs_prefix: (e.category, e.vat_bp, e.consumption_bp) for e in entries}


def rate_for(hs_code: str, index: dict) -> tuple[str, int, int] | None:
    for length in range(len(hs_code), 1, -1):
        found = index.get(hs_code[:length])
        if found is not None:
            return found
    return None


def list_tax(lines: list[tuple[str, int, int]], freight_cents: int, index: dict) -> tuple[int, int]:
    """(vat_cents, consumption_cents) due for lines of (hs_code, quantity, unit_price_cents)."""
    values = [quantity * price for _hs, quantity, price in lines]
    total = sum(values)
    shares, given = [], 0
    for position, value in enumerate(values):
        if position == len(values) - 1:
            share = freight_cents - given
        else:
            share = freight_cents * value // total if total else 0
        given += share
        shares.append(share)
    # consumption = base × c / (1 − c) and vat = (base + consumption) × v = base × v / (1 − c):
    # integer sums per consumption rate, one exact fraction per tax (py-spy: a Fraction per
    # line was a quarter of a decision's time).
    vat_by_rate: dict[int, int] = {}
    consumption_by_rate: dict[int, int] = {}
    for (hs_code, _q, _p), value, share in zip(lines, values, shares, strict=True):
        _category, vat_bp, consumption_bp = rate_for(hs_code, index) or ("", 1300, 0)
        base = value + share
        vat_by_rate[consumption_bp] = vat_by_rate.get(consumption_bp, 0) + base * vat_bp
        consumption_by_rate[consumption_bp] = (
            consumption_by_rate.get(consumption_bp, 0) + base * consumption_bp
        )
    return _due(vat_by_rate), _due(consumption_by_rate)


def _due(numerators: dict[int, int]) -> int:
    """70 % of Σ numerator / (BASIS − rate), in cents, rounded half up."""
    numerator, denominator = 0, 1
    for rate, amount in numerators.items():
        numerator = numerator * (BASIS - rate) + amount * denominator
        denominator *= BASIS - rate
    return _round(numerator * SHARE.numerator, denominator * SHARE.denominator)


def _round(numerator: int, denominator: int) -> int:
    """numerator / denominator half up, to the cent (amounts are never negative), in
    integers: floor(n/d + 1/2) = (2n + d) // 2d (py-spy: a Fraction here was a tenth of a
    decision)."""
    return (2 * numerator + denominator) // (2 * denominator)
