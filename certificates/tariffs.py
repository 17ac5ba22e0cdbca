"""What a certificate of origin is worth: MFN minus preferential rate, from the tariff
edition in force (reference app; the shipped edition is a DEMO table for five headings, not
any country's legal tariff: a deployment loads its own with `manage.py load_reference tariff`).
"""

from dataclasses import dataclass
from decimal import Decimal

from reference import queries as reference_queries

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ItemPreference:
    line_number: int
    mfn_rate: Decimal | None
    preferential_rate: Decimal | None
    duty_saved: Decimal | None


@dataclass(frozen=True)
class Preference:
    items: list[ItemPreference]
    total: Decimal


def item_preference(*, agreement_code: str, hs_code: str, fob_value, line_number: int):
    """(MFN - preferential) x FOB for one item; None where the tariff has no rate."""
    rates = reference_queries.tariff_rates(hs_code)
    mfn, preferential = rates.get("MFN"), rates.get(agreement_code)
    if mfn is None or preferential is None or fob_value is None:
        return ItemPreference(line_number, mfn, preferential, None)
    saved = ((mfn - preferential) * Decimal(fob_value)).quantize(CENT)
    return ItemPreference(line_number, mfn, preferential, saved)


def preference_for(certificate, items) -> Preference:
    """The duty each item saves in the importing country, and the total."""
    lines = [
        item_preference(
            agreement_code=certificate.agreement.code,
            hs_code=item.hs_code,
            fob_value=item.fob_value,
            line_number=item.line_number,
        )
        for item in items
    ]
    total = sum((line.duty_saved for line in lines if line.duty_saved is not None), Decimal(0))
    return Preference(items=lines, total=Decimal(total).quantize(CENT))
