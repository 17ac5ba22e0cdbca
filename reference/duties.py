"""Duty and import taxes on goods entering the domestic market, line by line: the
arithmetic a tax bill (billing) and an exit from the bonded zone (zones) both carry.

Customs duty comes from the line itself: its MFN rate, or the preferential rate of a valid
certificate of origin. Consumption tax (ad valorem, on the composite base) and import VAT
come from the schedules below, by HS prefix, longest first. They are a demonstration
extract of China's schedules (VAT 9 % for agricultural goods, 13 % otherwise, from
2019-04-01, with the earlier rates by effective date; consumption tax on wine, spirits,
tobacco, cosmetics, jewellery, watches and cars); the national tariff edition, loaded as
reference data, is the authority for the duty rates.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

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


def cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class LineTaxes:
    line_number: int
    hs_code: str
    description: str
    customs_value_cents: int
    tariff_rate: Decimal
    preferential: bool
    tariff_cents: int
    consumption_rate: Decimal
    consumption_cents: int
    vat_rate: Decimal
    vat_cents: int


def line_taxes(
    items: list[dict], *, exchange_rate: Decimal = Decimal(1), on: datetime.date | None = None
) -> list[LineTaxes]:
    """Each line's duty and taxes in cents: duty on the customs value (its
    `preferential_rate` when not None, else its `mfn_rate`, else nothing); consumption tax on
    the composite base (value + duty) / (1 - rate); VAT on value + duty + consumption tax,
    at the rate in force on `on` (the declaration's acceptance date; today when not given).
    Each amount rounded half up to the cent, line by line."""
    lines = []
    for item in items:
        value = cents(Decimal(item["value"]) * exchange_rate * 100)
        preferential = item.get("preferential_rate") is not None
        rate = Decimal(item["preferential_rate"] if preferential else item.get("mfn_rate") or 0)
        duty = cents(value * rate)
        consumption = consumption_rate(item["hs_code"])
        consumption_cents = (
            cents((value + duty) / (1 - consumption) * consumption) if consumption else 0
        )
        vat = vat_rate(item["hs_code"], on)
        lines.append(
            LineTaxes(
                line_number=item["line_number"],
                hs_code=item["hs_code"],
                description=item["description"],
                customs_value_cents=value,
                tariff_rate=rate,
                preferential=preferential,
                tariff_cents=duty,
                consumption_rate=consumption,
                consumption_cents=consumption_cents,
                vat_rate=vat,
                vat_cents=cents((value + duty + consumption_cents) * vat),
            )
        )
    return lines
