"""The duty an exit to the domestic market carries: each line's value at the MFN rate of
the tariff line in force for its commodity code (the reference app's tariff edition), as
the declarations app estimates it. Goods leaving the zone for the domestic market are
imported at that moment, so the rate is the one in force on the day of filing."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from reference import queries as reference_queries
from zones.models import Movement

CENT = Decimal("0.01")


def apply(docs: list[dict]) -> dict:
    """Set each exit line's `duty_rate` and `duty` (None without a tariff line) and the
    document's `duty_amount`, `duty_declared`. Returns errors by document index: a declared
    duty that differs from the tariff's when every line has a rate."""
    errors: dict = {}
    for i, doc in enumerate(docs):
        declared = doc.pop("duty_amount", None)
        doc["duty_declared"] = declared if doc.get("duty_given") else None
        doc.pop("duty_given", None)
        if doc["kind"] != Movement.Kind.DOMESTIC_OUT:
            doc["duty_amount"] = Decimal(0)
            for line in doc["lines"]:
                line["duty_rate"] = line["duty"] = None
            continue
        total, complete = Decimal(0), True
        for line in doc["lines"]:
            rate = reference_queries.tariff_rates(line["hs_code"]).get("MFN")
            line["duty_rate"] = rate
            line["duty"] = (
                (line["value"] * rate).quantize(CENT, rounding=ROUND_HALF_UP)
                if rate is not None
                else None
            )
            if line["duty"] is None:
                complete = False
            else:
                total += line["duty"]
        given = doc["duty_declared"]
        if complete and given is not None and abs(given - total) >= CENT:
            errors[str(i)] = {
                "duty_amount": [
                    _("The tariff in force gives %(duty)s CNY of duty for these lines.")
                    % {"duty": total}
                ]
            }
        # Without a rate for every line, the declaration's own figure stands.
        doc["duty_amount"] = total if complete or given is None else given
    return errors
