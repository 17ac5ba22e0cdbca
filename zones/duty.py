"""The duty and import taxes an exit to the domestic market carries. Goods leaving the zone
for the domestic market are imported at that moment, so each line is taxed as a
declaration's line is billed, at the rates in force on the day of filing (or of the last
amendment): customs duty at the MFN rate of the tariff line in force for its commodity code,
or the preferential rate of the certificate of origin the line names when it is issued and
valid; consumption tax on the composite base; import VAT at the dated rate. The arithmetic
is `reference.duties.line_taxes`, the one billing uses."""

from datetime import date
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import queries as declaration_queries
from reference import duties
from zones.models import Movement

CENT = Decimal("0.01")
TAX_FIELDS = (
    "duty_rate",
    "preferential",
    "duty",
    "consumption_rate",
    "consumption_tax",
    "vat_rate",
    "vat",
)


def _amount(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def apply(docs: list[dict], *, on: date | None = None) -> dict:
    """Set each exit line's rates and amounts (None without a tariff line) and the
    document's `duty_amount`, `duty_declared`, `consumption_tax_amount`, `vat_amount` and
    `tax_total`. Returns errors by document index: a certificate of origin that is not
    issued and valid, a declared duty that differs from the tariff's when every line has a
    rate."""
    on = on or timezone.localdate()
    exits = [doc for doc in docs if doc["kind"] == Movement.Kind.DOMESTIC_OUT]
    rates = (
        declaration_queries.duty_rates_many(
            hs_codes=sorted({ln["hs_code"] for doc in exits for ln in doc["lines"]}),
            certificate_numbers=sorted(
                {ln["certificate_number"] for doc in exits for ln in doc["lines"]} - {""}
            ),
            on_date=on,
        )
        if exits
        else {}
    )
    errors: dict = {}
    for i, doc in enumerate(docs):
        declared = doc.pop("duty_amount", None)
        doc["duty_declared"] = declared if doc.pop("duty_given", False) else None
        if doc["kind"] != Movement.Kind.DOMESTIC_OUT:
            _untaxed(doc)
            continue
        found = _tax_lines(doc, rates, on)
        if found:
            errors[str(i)] = found
    return errors


def _untaxed(doc: dict) -> None:
    doc["duty_amount"] = doc["consumption_tax_amount"] = doc["vat_amount"] = Decimal(0)
    doc["tax_total"] = Decimal(0)
    for line in doc["lines"]:
        _clear(line)


def _clear(line: dict) -> None:
    line.update(dict.fromkeys(TAX_FIELDS), preferential=False)


def _tax_lines(doc: dict, rates: dict, on: date) -> dict:
    items, line_errors = [], {}
    for j, line in enumerate(doc["lines"]):
        found = rates[line["hs_code"]]
        preferential = None
        if line["certificate_number"]:
            certificate = found["preferential"].get(line["certificate_number"])
            if certificate is None:
                line_errors[str(j)] = {
                    "certificate_number": [
                        _("%(number)s is not a valid, issued certificate of origin.")
                        % {"number": line["certificate_number"]}
                    ]
                }
            else:
                preferential = certificate[1]
        _clear(line)
        if found["mfn"] is None and preferential is None:
            continue  # not in the tariff: the declared duty stands
        items.append(
            {
                "line_number": j,
                "hs_code": line["hs_code"],
                "description": line["description"],
                "value": line["value"],
                "mfn_rate": found["mfn"],
                "preferential_rate": preferential,
            }
        )
    if line_errors:
        return {"lines": line_errors}
    for taxed in duties.line_taxes(items, on=on):
        doc["lines"][taxed.line_number].update(
            duty_rate=taxed.tariff_rate,
            preferential=taxed.preferential,
            duty=_amount(taxed.tariff_cents),
            consumption_rate=taxed.consumption_rate,
            consumption_tax=_amount(taxed.consumption_cents),
            vat_rate=taxed.vat_rate,
            vat=_amount(taxed.vat_cents),
        )
    return _totals(doc, complete=len(items) == len(doc["lines"]))


def _totals(doc: dict, *, complete: bool) -> dict:
    lines = [line for line in doc["lines"] if line["duty"] is not None]
    duty = sum((line["duty"] for line in lines), Decimal(0))
    given = doc["duty_declared"]
    if complete and given is not None and abs(given - duty) >= CENT:
        return {
            "duty_amount": [
                _("The tariff in force gives %(duty)s CNY of duty for these lines.")
                % {"duty": duty}
            ]
        }
    # Without a rate for every line, the declaration's own duty figure stands.
    doc["duty_amount"] = duty if complete or given is None else given
    doc["consumption_tax_amount"] = sum((line["consumption_tax"] for line in lines), Decimal(0))
    doc["vat_amount"] = sum((line["vat"] for line in lines), Decimal(0))
    doc["tax_total"] = doc["duty_amount"] + doc["consumption_tax_amount"] + doc["vat_amount"]
    return {}
