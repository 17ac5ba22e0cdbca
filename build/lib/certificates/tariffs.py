"""DEMO TARIFF TABLE: illustrative duty rates for the demo's commodity headings only.

These figures are NOT the legal tariff of any country. They exist so the demo can show an
exporter what a certificate of origin is worth. A real deployment loads the importing
parties' MFN and preferential schedules from a licensed feed instead.
"""

from dataclasses import dataclass
from decimal import Decimal

# HS heading (4 digits) -> MFN rate and preferential rate per agreement code, as fractions.
DEMO_TARIFF: dict[str, dict[str, Decimal]] = {
    "6907": {"MFN": Decimal("0.30"), "ACFTA": Decimal("0.00"), "RCEP": Decimal("0.20")},
    "6911": {"MFN": Decimal("0.25"), "ACFTA": Decimal("0.00"), "RCEP": Decimal("0.15")},
    "0202": {"MFN": Decimal("0.20"), "ACFTA": Decimal("0.05"), "RCEP": Decimal("0.12")},
    "8471": {"MFN": Decimal("0.05"), "ACFTA": Decimal("0.00"), "RCEP": Decimal("0.00")},
    "9403": {"MFN": Decimal("0.20"), "ACFTA": Decimal("0.00"), "RCEP": Decimal("0.10")},
}

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
    """(MFN - preferential) x FOB for one item; None where the demo table has no rate."""
    rates = DEMO_TARIFF.get(hs_code[:4], {})
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
