"""The tax rates a bill applies beside the customs duty on each declaration line.

Customs duty comes from the line itself: the MFN rate the filing looked up, or the
preferential rate of a valid certificate of origin. Consumption tax (ad valorem, on the
composite base) and import VAT come from these schedules, by HS prefix, longest first.
They are a demonstration extract of China's schedules (VAT 9 % for agricultural goods,
13 % otherwise, from 2019-04-01, with the earlier rates by effective date; consumption tax on wine, spirits, tobacco, cosmetics, jewellery, watches
and cars); the national tariff edition, loaded as reference data, is the authority.
"""

import datetime
from decimal import Decimal

from django.utils import timezone

CONSUMPTION = {
    "2204": Decimal("0.10"),  # wine
    "2208": Decimal("0.20"),  # spirits (ad valorem part)
    "2402": Decimal("0.36"),  # cigars, cigarillos
    "3303": Decimal("0.15"),  # perfumes
    "3304": Decimal("0.15"),  # beauty and make-up preparations (high-end)
    "7113": Decimal("0.10"),  # jewellery
    "9101": Decimal("0.20"),  # precious-metal watches
    "8703": Decimal("0.09"),  # cars (1.5–2.0 l)
}
# Import VAT by effective date (the declaration's acceptance date decides, as for the duty):
# (in force from, standard rate, reduced rate for agricultural products, grains, edible
# oils). 2017-07-01 the 13 % tier went to 11 % (Caishui [2017] 37); 2018-05-01 17/11 → 16/10
# (Caishui [2018] 32); 2019-04-01 16/10 → 13/9 (MOF/STA/GACC announcement [2019] 39).
VAT_EDITIONS = [
    (datetime.date(2019, 4, 1), Decimal("0.13"), Decimal("0.09")),
    (datetime.date(2018, 5, 1), Decimal("0.16"), Decimal("0.10")),
    (datetime.date(2017, 7, 1), Decimal("0.17"), Decimal("0.11")),
    (datetime.date(1994, 1, 1), Decimal("0.17"), Decimal("0.13")),
]
STANDARD_VAT, REDUCED_VAT = VAT_EDITIONS[0][1], VAT_EDITIONS[0][2]
REDUCED_VAT_CHAPTERS = {f"{c:02d}" for c in (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15)}


def consumption_rate(hs_code: str) -> Decimal:
    for length in (6, 4):
        if hs_code[:length] in CONSUMPTION:
            return CONSUMPTION[hs_code[:length]]
    return Decimal(0)


def vat_rate(hs_code: str, on: datetime.date | None = None) -> Decimal:
    """The VAT rate in force on `on` (today when not given): the latest edition from then."""
    on = on or timezone.localdate()
    for effective_from, standard, reduced in VAT_EDITIONS:
        if effective_from <= on:
            return reduced if hs_code[:2] in REDUCED_VAT_CHAPTERS else standard
    raise ValueError(f"No VAT rate in force on {on}")


# Inspection fees per container (hoisting, moving and opening it for the officers), by the
# kind of inspection: a demonstration schedule in fen (cents of CNY). The government bears
# them for compliant goods; the enterprise pays when the inspection finds a problem.
INSPECTION_FEE_CENTS = {
    "scan": 30_000,  # 300.00 CNY: a pass through the scanner
    "manual": 80_000,  # 800.00 CNY: unloaded and opened
    "quarantine": 80_000,  # 800.00 CNY: opened for the quarantine officers
}


def inspection_fee_cents(outcome: str) -> int:
    return INSPECTION_FEE_CENTS.get(outcome, 0)
