"""Validation of a filing: every field, every cross-field rule, all errors at once, by the
same rules for a single filing and for each declaration of a batch (whose reference data is
read once for the whole batch: `declarations.reference`)."""

from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from declarations import bulk, reference
from declarations.models import Declaration, DeclarationItem
from port import identifiers, limits
from port.errors import InvalidInput
from port.models import Organisation, PortCall
from reference import queries as reference_queries

CENT = Decimal("0.01")
MAX_PACKAGES = 99_999_999
# Credit ratings that may use two-step declaration; certified (AEO) needs no guarantee.
TWO_STEP_RATINGS = (Organisation.CreditRating.CERTIFIED, Organisation.CreditRating.GENERAL)
# Choices as sets, built once: `TextChoices.values` builds a list on every call, which is
# a tenth of a batch's validation.
DIRECTIONS = frozenset(Declaration.Direction.values)
KINDS = frozenset(Declaration.Kind.values)
TRADE_MODES = frozenset(Declaration.TradeMode.values)
INCOTERMS = frozenset(Declaration.Incoterm.values)
UNITS = frozenset(DeclarationItem.Unit.values)


@dataclass(frozen=True)
class ItemInput:
    hs_code: str
    description: str
    quantity: Decimal | str
    value: Decimal | str
    origin_country: str
    unit: str = DeclarationItem.Unit.KG
    unit_price: Decimal | str | None = ""
    cas_number: str = ""
    certificate_number: str = ""


@dataclass(frozen=True)
class HeaderInput:
    """Header fields beyond the consignment itself; blank ones are left blank."""

    trade_mode: str = Declaration.TradeMode.GENERAL
    port_of_loading: str = ""
    port_of_discharge: str = ""
    trading_country: str = ""
    currency: str = "CNY"
    incoterm: str = ""
    invoice_total: Decimal | str | None = ""
    packages: int | str | None = ""
    gross_weight: Decimal | str | None = ""
    net_weight: Decimal | str | None = ""
    is_advance: bool = False
    direct_delivery: bool = False
    permits_involved: bool = False
    quarantine_involved: bool = False


# The header's field names, in order: what the form, the API and the ERP upload carry over.
HEADER_NAMES = [f.name for f in dataclass_fields(HeaderInput)]


@dataclass(frozen=True)
class FilingInput:
    """One declaration as it arrives from any way in."""

    enterprise_id: int | None
    port_call_id: int | None
    bl_number: str
    container_numbers: list[str]
    items: list[ItemInput]
    direction: str = Declaration.Direction.IMPORT
    kind: str = Declaration.Kind.FULL
    summary_id: int | None = None
    header: HeaderInput = field(default_factory=HeaderInput)


@dataclass
class Cleaned:
    header: dict
    container_numbers: list[str]
    items: list[dict]


def _messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


def validate_filing(*, user, filing: FilingInput, declaration=None) -> Cleaned:
    """Validate one declaration (an update or an amendment of `declaration`): the rules of
    `validate_against`, with its own reference data."""
    check_sizes(filing)
    ref = bulk.filing_reference(
        user=user, filings=[filing], exclude_declaration_id=declaration.pk if declaration else None
    )
    return validate_against(filing, ref, places_unlisted([filing], ref.today))


def places_unlisted(filings: list[FilingInput], on_date) -> tuple[set[str], str]:
    """The ports of loading and discharge the filings name that the UN/LOCODE edition in
    force on the filing date does not list, and its name: one statement for the batch."""
    named = {
        _place(getattr(f.header, name))
        for f in filings
        for name in ("port_of_loading", "port_of_discharge")
    }
    return reference_queries.unlocode_unknown(
        {c for c in named if identifiers.UNLOCODE_PATTERN.match(c)}, on_date
    )


def _place(value) -> str:
    return (value or "").strip().upper().replace(" ", "")


def validate_against(
    filing: FilingInput, ref: bulk.FilingReference, places: tuple[set[str], str] = (set(), "")
) -> Cleaned:
    """Every field and cross-field rule of a filing, all errors at once (InvalidInput),
    against reference data read once per batch: the one validation of every way in.
    The caller has checked the sizes of its lists (`check_sizes`)."""
    errors: dict = {}
    enterprise = _validate_enterprise(ref, filing, errors)
    port_call = _validate_port_call(ref, filing, errors)
    if filing.direction not in DIRECTIONS:
        errors["direction"] = [_("Direction is import or export.")]
    if filing.kind not in KINDS:
        errors["kind"] = [_("Kind is full or summary.")]
    bl = (filing.bl_number or "").strip().upper()
    if not bl:
        errors["bl_number"] = [_("The B/L number is required.")]
    elif not identifiers.BL_NUMBER_PATTERN.match(bl):
        errors["bl_number"] = [_("A B/L number has 4 to 35 letters, digits, - or /.")]
    numbers, container_errors = _validate_containers(filing.container_numbers)
    if not container_errors:
        container_errors = [
            _("%(container)s is on open declaration %(number)s.")
            % {"container": number, "number": ref.busy[number]}
            for number in sorted(set(numbers) & ref.busy.keys())
        ]
    if container_errors:
        errors["containers"] = container_errors
    cleaned_items, item_errors = _validate_items(filing.items, ref.today)
    if not filing.items:
        errors["items"] = [_("Declare at least one goods item.")]
    elif item_errors:
        errors["items"] = item_errors
    header = _validate_header(filing.header, port_call, filing.direction, places, errors)
    _validate_totals(header, cleaned_items, errors)
    _validate_two_step(ref, filing, enterprise, bl, header, errors)
    if errors:
        raise InvalidInput(errors)
    _estimate_duty(ref, cleaned_items, errors)
    if errors:
        raise InvalidInput(errors)
    header.update(
        enterprise=enterprise,
        port_call=port_call,
        direction=filing.direction,
        kind=filing.kind,
        summary_id=filing.summary_id,
        bl_number=bl,
    )
    return Cleaned(header=header, container_numbers=numbers, items=cleaned_items)


def check_sizes(filing: FilingInput) -> None:
    """Refuse lists no real filing reaches before validating any entry of them."""
    errors = {}
    for name, values, maximum in (
        ("containers", filing.container_numbers, limits.MAX_CONTAINERS),
        ("items", filing.items, limits.MAX_GOODS_LINES),
    ):
        message = limits.list_error(values, maximum=maximum)
        if message:
            errors[name] = [message]
    if errors:
        raise InvalidInput(errors)


def _validate_enterprise(ref, filing, errors):
    if filing.enterprise_id:
        enterprise = ref.enterprises.get(filing.enterprise_id)
        if enterprise is None:
            errors["enterprise"] = [_("You may not file for this enterprise.")]
        return enterprise
    # With one enterprise to file for (an importer filing its own), it need not be named.
    if len(ref.enterprises) == 1:
        return next(iter(ref.enterprises.values()))
    errors["enterprise"] = [_("Choose the enterprise whose goods these are.")]
    return None


def _validate_port_call(ref, filing, errors):
    if not filing.port_call_id:
        errors["port_call"] = [_("Choose the vessel call.")]
        return None
    port_call = ref.port_calls.get(filing.port_call_id)
    if port_call is None:
        errors["port_call"] = [_("There is no open port call with this id.")]
    return port_call


def _validate_header(raw: HeaderInput, port_call, direction, places, errors) -> dict:
    """The header's fields; `places` is (ports the UN/LOCODE edition in force does not list,
    its name), read once for the batch (`places_unlisted`)."""
    header: dict = {}
    trade_mode = raw.trade_mode or Declaration.TradeMode.GENERAL
    if trade_mode not in TRADE_MODES:
        errors["trade_mode"] = [_("Choose a trade mode from the list.")]
    header["trade_mode"] = trade_mode
    own_port = port_call.port.unlocode if port_call else ""
    for name in ("port_of_loading", "port_of_discharge"):
        code = _place(getattr(raw, name))
        if not code:
            # The port of this call is the discharge port of an import, the loading port
            # of an export.
            is_own = (name == "port_of_discharge") == (direction == Declaration.Direction.IMPORT)
            code = own_port if is_own else ""
        elif not identifiers.UNLOCODE_PATTERN.match(code) or not _country_exists(code[:2]):
            errors[name] = [
                _("%(code)s is not a UN/LOCODE (country code and three characters).")
                % {"code": code}
            ]
        elif code in places[0]:
            errors[name] = [
                _("%(code)s is not a place in %(edition)s.") % {"code": code, "edition": places[1]}
            ]
        header[name] = code
    if header["port_of_loading"] and header["port_of_loading"] == header["port_of_discharge"]:
        errors["port_of_discharge"] = [_("The port of discharge is the port of loading.")]
    country = (raw.trading_country or "").strip().upper()
    if country and not _country_exists(country):
        errors["trading_country"] = [
            _("%(code)s is not an ISO 3166 country code.") % {"code": country}
        ]
    header["trading_country"] = country
    currency = (raw.currency or "CNY").strip().upper()
    if not reference.is_currency(currency):
        errors["currency"] = [_("%(code)s is not an ISO 4217 currency code.") % {"code": currency}]
    header["currency"] = currency
    incoterm = (raw.incoterm or "").strip().upper()
    if incoterm and incoterm not in INCOTERMS:
        errors["incoterm"] = [
            _("%(code)s is not an Incoterms 2020 rule (%(rules)s).")
            % {"code": incoterm, "rules": ", ".join(Declaration.Incoterm.values)}
        ]
    header["incoterm"] = incoterm
    header["invoice_total"] = _optional_decimal(raw.invoice_total, "invoice_total", errors, 16, 2)
    header["gross_weight"] = _optional_decimal(raw.gross_weight, "gross_weight", errors, 14, 3)
    header["net_weight"] = _optional_decimal(raw.net_weight, "net_weight", errors, 14, 3)
    header["packages"] = _optional_count(raw.packages, errors)
    header["is_advance"] = bool(raw.is_advance)
    header["direct_delivery"] = bool(raw.direct_delivery)
    header["permits_involved"] = bool(raw.permits_involved)
    header["quarantine_involved"] = bool(raw.quarantine_involved)
    if header["is_advance"] and port_call and port_call.status != PortCall.Status.EXPECTED:
        errors["is_advance"] = [
            _("An advance declaration is filed before the vessel arrives; %(vessel)s has.")
            % {"vessel": port_call.vessel.name}
        ]
    if header["direct_delivery"] and not header["is_advance"]:
        errors["direct_delivery"] = [
            _("Direct pickup or loading needs an advance declaration, decided before berthing.")
        ]
    return header


def _validate_totals(header: dict, items: list[dict], errors: dict) -> None:
    gross, net = header.get("gross_weight"), header.get("net_weight")
    if gross is not None and net is not None and net > gross:
        errors["net_weight"] = [_("The net weight is above the gross weight.")]
    total = header.get("invoice_total")
    values = [i["value"] for i in items if i.get("value") is not None]
    if total is not None and "items" not in errors and len(values) == len(items):
        declared = sum(values, Decimal(0))
        if abs(declared - total) > CENT:
            errors["invoice_total"] = [
                _("The items add up to %(sum)s, not the invoice total %(total)s.")
                % {"sum": declared, "total": total}
            ]


def _validate_two_step(ref, filing, enterprise, bl, header, errors) -> None:
    if filing.kind == Declaration.Kind.SUMMARY:
        if filing.summary_id:
            errors["summary"] = [_("A summary declaration does not name another summary.")]
        if enterprise is not None and enterprise.credit_rating not in TWO_STEP_RATINGS:
            errors["enterprise"] = [
                _("Two-step declaration is open to enterprises of general credit or better.")
            ]
        if header.get("currency") != "CNY":
            errors["currency"] = [
                _("A summary declaration is valued in CNY, the currency of the guarantee.")
            ]
        return
    if not filing.summary_id:
        return
    summary = ref.summaries.get(filing.summary_id)
    if summary is None or enterprise is None or summary.enterprise_id != enterprise.pk:
        errors["summary"] = [_("There is no summary declaration of this enterprise with this id.")]
    elif summary.status != Declaration.Status.RELEASED:
        errors["summary"] = [
            _("Step 2 follows a released summary; this one is %(status)s.")
            % {"status": summary.get_status_display()}
        ]
    elif summary.bl_number != bl:
        errors["bl_number"] = [
            _("Step 2 carries the summary's B/L number %(bl)s.") % {"bl": summary.bl_number}
        ]
    elif summary.pk in ref.summaries_under_way:
        errors["summary"] = [_("This summary already has a full declaration under way.")]


def _validate_containers(raw_numbers: list[str]) -> tuple[list[str], list[str]]:
    numbers = [identifiers.normalise_container_number(n) for n in raw_numbers if n.strip()]
    if not numbers:
        return [], [_("List at least one container.")]
    errors: list[str] = []
    for number in numbers:
        try:
            identifiers.validate_container_number(number)
        except ValidationError as error:
            errors.extend(_messages(error))
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        errors.append(_("Listed twice: %(numbers)s.") % {"numbers": ", ".join(duplicates)})
    return numbers, errors


def _validate_items(items: list[ItemInput], today) -> tuple[list[dict], dict[str, dict]]:
    """Cleaned items, and errors keyed by the index of each bad item (as DRF reports them)."""
    cleaned, errors = [], {}
    for index, item in enumerate(items):
        fields, item_errors = _validate_item(item, today)
        cleaned.append(fields)
        if item_errors:
            errors[str(index)] = item_errors
    return cleaned, errors


def _validate_item(item: ItemInput, today) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    hs_code = (item.hs_code or "").strip()
    try:
        identifiers.validate_hs_code(hs_code, on_date=today)
    except ValidationError as error:
        errors["hs_code"] = _messages(error)
    description = (item.description or "").strip()
    if not description:
        errors["description"] = [_("Describe the goods.")]
    quantity, message = limits.decimal_error(
        item.quantity,
        max_digits=14,
        decimal_places=3,
        above_minimum=True,
        message=_("The quantity must be a number above zero."),
    )
    if message:
        errors["quantity"] = [message]
    value, message = limits.decimal_error(
        item.value,
        max_digits=16,
        decimal_places=2,
        message=_("The value must be a number, zero or more."),
    )
    if message:
        errors["value"] = [message]
    unit_price = None
    if item.unit_price not in (None, ""):
        unit_price, message = limits.decimal_error(
            item.unit_price,
            max_digits=16,
            decimal_places=4,
            message=_("The unit price must be a number, zero or more."),
        )
        if message:
            errors["unit_price"] = [message]
        elif quantity and value is not None and "quantity" not in errors:
            expected = (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
            if abs(expected - value) > CENT:
                errors["value"] = [
                    _("Quantity × unit price is %(expected)s, not %(value)s.")
                    % {"expected": expected, "value": value}
                ]
    origin = (item.origin_country or "").strip().upper()
    try:
        identifiers.validate_country(origin)
    except ValidationError as error:
        errors["origin_country"] = _messages(error)
    if item.unit not in UNITS:
        errors["unit"] = [_("Choose a unit from the list.")]
    cas = (item.cas_number or "").strip()
    if cas and not reference.is_cas_number(cas):
        errors["cas_number"] = [
            _("%(cas)s is not a CAS number (check digit or format is wrong).") % {"cas": cas}
        ]
    elif cas and "hs_code" not in errors:
        contradiction = reference.cas_contradiction(cas, hs_code)
        if contradiction:
            errors["cas_number"] = [contradiction]
    fields = {
        "hs_code": hs_code,
        "description": description,
        "quantity": quantity,
        "unit": item.unit,
        "value": value,
        "unit_price": unit_price,
        "origin_country": origin,
        "cas_number": cas,
        "certificate_number": (item.certificate_number or "").strip().upper(),
    }
    return fields, errors


def _estimate_duty(ref, items: list[dict], errors: dict) -> None:
    """Each item's MFN rate, preferential rate with a valid certificate, and estimate."""
    item_errors: dict[str, dict] = {}
    for index, item in enumerate(items):
        rates = ref.duty_rates[item["hs_code"]]
        item["mfn_rate"] = rates["mfn"]
        item["preferential_rate"] = None
        rate = rates["mfn"]
        if item["certificate_number"]:
            found = rates["preferential"].get(item["certificate_number"])
            if found is None:
                item_errors[str(index)] = {
                    "certificate_number": [
                        _("%(number)s is not a valid, issued certificate of origin.")
                        % {"number": item["certificate_number"]}
                    ]
                }
            elif found[1] is not None:
                item["preferential_rate"] = rate = found[1]
        item["duty_estimate"] = (
            (item["value"] * rate).quantize(CENT, rounding=ROUND_HALF_UP)
            if rate is not None
            else None
        )
    if item_errors:
        errors["items"] = item_errors


def _country_exists(code: str) -> bool:
    try:
        identifiers.validate_country(code)
    except ValidationError:
        return False
    return True


def _optional_decimal(
    raw, name: str, errors: dict, max_digits: int, decimal_places: int
) -> Decimal | None:
    if raw in (None, ""):
        return None
    number, message = limits.decimal_error(
        raw,
        max_digits=max_digits,
        decimal_places=decimal_places,
        message=_("Enter a number, zero or more."),
    )
    if message:
        errors[name] = [message]
    return number


def _optional_count(raw, errors: dict) -> int | None:
    if raw in (None, ""):
        return None
    try:
        count = int(str(raw).strip())
    except ValueError:
        count = -1
    if not 1 <= count <= MAX_PACKAGES:
        errors["packages"] = [_("The number of packages is a whole number above zero.")]
        return None
    return count
