"""The automated review of a certificate application: every rule, every reason.

Each rule returns one check {"check", "passed", "message"}; an application passes when all
of them pass. The rules read the application only, so they run the same on a saved row and
on one being built. The stored review carries each message in every language of the site
("messages"), so every reader sees the reasons in their own.
"""

from collections.abc import Callable, Sequence
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from certificates.models import Certificate, CertificateItem
from port import identifiers
from port.models import Organisation

Check = dict[str, object]
C = CertificateItem.Criterion

ACCEPTED_RATINGS = {Organisation.CreditRating.CERTIFIED, Organisation.CreditRating.GENERAL}
COMPLETE_FIELDS = (
    "importer_name",
    "importer_address",
    "importing_country",
    "vessel_name",
    "departure_date",
    "port_of_loading",
    "port_of_discharge",
    "invoice_number",
    "invoice_date",
)


def _percent(value) -> str:
    return "—" if value is None else f"{Decimal(value).normalize():f}"


def _check(name: str, problems: list[str], ok_message: str) -> Check:
    if problems:
        return {"check": name, "passed": False, "message": " ".join(problems)}
    return {"check": name, "passed": True, "message": ok_message}


def check_complete(certificate: Certificate, items: Sequence[CertificateItem]) -> Check:
    missing = [
        str(Certificate._meta.get_field(name).verbose_name)
        for name in COMPLETE_FIELDS
        if not getattr(certificate, name)
    ]
    problems = []
    if missing:
        problems.append(_("Missing: %(fields)s.") % {"fields": ", ".join(missing)})
    if not items:
        problems.append(_("The application lists no goods."))
    for item in items:
        if not item.description or not item.packages or not item.quantity:
            problems.append(
                _("Item %(line)s lacks a description, packages or quantity.")
                % {"line": item.line_number}
            )
    return _check("complete", problems, _("Every box of the form is filled in."))


def check_exporter(certificate: Certificate, items: Sequence[CertificateItem]) -> Check:
    exporter = certificate.exporter
    problems = []
    if exporter.kind != Organisation.Kind.ENTERPRISE:
        problems.append(_("Only enterprises are issued certificates of origin."))
    elif exporter.credit_rating not in ACCEPTED_RATINGS:
        problems.append(
            _("The exporter's credit rating (%(rating)s) does not allow automatic issue.")
            % {"rating": exporter.get_credit_rating_display() or _("none")}
        )
    return _check(
        "exporter",
        problems,
        _("The exporter is an enterprise rated %(rating)s.")
        % {"rating": exporter.get_credit_rating_display()},
    )


def check_commodity_codes(certificate: Certificate, items: Sequence[CertificateItem]) -> Check:
    problems = []
    for item in items:
        try:
            identifiers.validate_hs_code(item.hs_code)
        except ValidationError as error:
            problems.append(
                _("Item %(line)s: %(error)s")
                % {"line": item.line_number, "error": " ".join(error.messages)}
            )
    return _check("commodity_codes", problems, _("Every commodity code exists in HS 2022."))


def check_importing_country(certificate: Certificate, items: Sequence[CertificateItem]) -> Check:
    country, agreement = certificate.importing_country, certificate.agreement
    problems = []
    if country == "CN":
        problems.append(_("China cannot be the importing country of a Chinese certificate."))
    elif country not in agreement.parties:
        problems.append(
            _("%(country)s is not a party to %(agreement)s.")
            % {"country": country, "agreement": agreement.code}
        )
    return _check(
        "importing_country",
        problems,
        _("%(country)s is a party to %(agreement)s.")
        % {"country": country, "agreement": agreement.code},
    )


def check_criteria(certificate: Certificate, items: Sequence[CertificateItem]) -> Check:
    accepted = certificate.agreement.origin_criteria
    problems = [
        _("Item %(line)s: %(agreement)s does not accept the criterion %(criterion)s.")
        % {
            "line": item.line_number,
            "agreement": certificate.agreement.code,
            "criterion": item.origin_criterion,
        }
        for item in items
        if item.origin_criterion not in accepted
    ]
    return _check(
        "origin_criteria",
        problems,
        _("Every origin criterion is one %(agreement)s accepts.")
        % {"agreement": certificate.agreement.code},
    )


def check_rvc(certificate: Certificate, items: Sequence[CertificateItem]) -> Check:
    threshold = certificate.agreement.rvc_threshold
    problems = []
    for item in (i for i in items if i.origin_criterion == C.RVC):
        if item.fob_value is None:
            problems.append(
                _("Item %(line)s: an RVC claim needs the FOB value.") % {"line": item.line_number}
            )
        if item.rvc_percent is None or Decimal(item.rvc_percent) < threshold:
            problems.append(
                _("Item %(line)s: RVC %(rvc)s%% is below the %(threshold)s%% threshold.")
                % {
                    "line": item.line_number,
                    "rvc": _percent(item.rvc_percent),
                    "threshold": _percent(threshold),
                }
            )
    return _check(
        "regional_value_content",
        problems,
        _("Every RVC claim reaches %(threshold)s%% with its FOB value.")
        % {"threshold": _percent(threshold)},
    )


def check_tariff_shift(certificate: Certificate, items: Sequence[CertificateItem]) -> Check:
    problems = []
    for item in items:
        digits = CertificateItem.SHIFT_DIGITS.get(item.origin_criterion)
        if digits is None:
            continue
        inputs = item.non_originating_inputs or []
        if not inputs:
            problems.append(
                _("Item %(line)s: a %(criterion)s claim must list its non-originating inputs.")
                % {"line": item.line_number, "criterion": item.origin_criterion}
            )
            continue
        same = sorted(
            {i["hs_code"] for i in inputs if i["hs_code"][:digits] == item.hs_code[:digits]}
        )
        if same:
            problems.append(
                _(
                    "Item %(line)s: inputs %(codes)s share the first %(digits)s digits "
                    "of %(product)s, so no %(criterion)s change happens."
                )
                % {
                    "line": item.line_number,
                    "codes": ", ".join(same),
                    "digits": digits,
                    "product": item.hs_code[:digits],
                    "criterion": item.origin_criterion,
                }
            )
    return _check(
        "tariff_shift",
        problems,
        _("Every tariff-shift claim changes classification from all its inputs."),
    )


RULES: list[Callable[[Certificate, Sequence[CertificateItem]], Check]] = [
    check_complete,
    check_exporter,
    check_commodity_codes,
    check_importing_country,
    check_criteria,
    check_rvc,
    check_tariff_shift,
]


def review_application(certificate: Certificate, items: Sequence[CertificateItem]) -> list[Check]:
    """Every rule's check: "message" in the site's default language, "messages" in each."""
    by_language = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            by_language[code] = [rule(certificate, items) for rule in RULES]
    checks = by_language[settings.LANGUAGE_CODE]
    for index, check in enumerate(checks):
        check["messages"] = {code: run[index]["message"] for code, run in by_language.items()}
    return checks


def review_passed(checks: list[Check]) -> bool:
    return all(check["passed"] for check in checks)
