"""Every write to certificates of origin, and every status change."""

import datetime
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from certificates import events, queries, review
from certificates.models import Agreement, Certificate, CertificateItem
from port import identifiers, limits, live
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Organisation, TimelineEvent, User
from port.queries import customs_office_ids_for
from port.timeline import timeline_record
from port.transitions import transition

S = Certificate.Status
MAX_PACKAGES = 99_999_999
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper
# Header fields an officer may correct when replacing a certificate.
CORRECTABLE_FIELDS = {
    "importer_name",
    "importer_address",
    "producer",
    "vessel_name",
    "port_of_discharge",
    "invoice_number",
}


@dataclass(frozen=True)
class ItemInput:
    hs_code: str
    description: str
    packages: int | str
    quantity: Decimal | str
    origin_criterion: str
    fob_value: Decimal | str | None = None
    rvc_percent: Decimal | str | None = None
    non_originating_inputs: list[str] = field(default_factory=list)
    marks: str = ""


@dataclass(frozen=True)
class ApplicationInput:
    agreement: str
    importer_name: str
    importing_country: str
    invoice_number: str
    invoice_date: datetime.date | str | None
    items: list[ItemInput]
    importer_address: str = ""
    producer: str = ""
    vessel_name: str = ""
    departure_date: datetime.date | str | None = None
    port_of_loading: str = ""
    port_of_discharge: str = ""
    third_party_invoicing: bool = False
    back_to_back: bool = False
    retroactive: bool = False
    # The issuing office's 4-digit code; blank for the first office of the exporter's port.
    issuing_office: str = ""


@transaction.atomic
def certificate_apply(
    *, user: User, application: ApplicationInput, idempotency_key: str = ""
) -> Certificate:
    """Apply for a certificate of origin and review it at once.

    Writes the application and its items, a timeline event for the application, and the
    review's outcome: issued at once when every check passes, otherwise queued for an
    officer of the issuing office. A repeat with the same idempotency key returns the first
    application. Raises InvalidInput with field-level messages; writes nothing then.
    """
    exporter = _exporter_for(user)
    if idempotency_key:
        earlier = Certificate.objects.filter(
            exporter=exporter, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            return earlier
    header, items = _validate_application(application, exporter=exporter)
    try:
        with transaction.atomic():  # a savepoint, so a concurrent twin can be recovered
            certificate = Certificate.objects.create(
                exporter=exporter, created_by=user, idempotency_key=idempotency_key, **header
            )
    except IntegrityError:
        return Certificate.objects.get(exporter=exporter, idempotency_key=idempotency_key)
    _write_items(certificate, items)
    timeline_record(
        subject=certificate,
        kind=TimelineEvent.Kind.CERTIFICATE_APPLIED,
        actor=user,
        organisation=exporter,
        data={"agreement": certificate.agreement.code, "items": len(items)},
    )
    return certificate_review(certificate_id=certificate.pk)


@transaction.atomic
def certificate_review(*, certificate_id: int) -> Certificate:
    """Run the automated review of a submitted application and record every reason.

    Issues the certificate when all checks pass, otherwise moves it to the officers'
    review queue. Raises TransitionNotAllowed when it is no longer submitted.
    """
    certificate = _locked(certificate_id)
    if certificate.status != S.SUBMITTED:
        raise TransitionNotAllowed(obj=certificate, old=certificate.status, new=S.ISSUED)
    checks = review.review_application(certificate, list(certificate.items.all()))
    certificate.review = checks
    if review.review_passed(checks):
        _issue(certificate, actor=None, extra_fields=["review"], data={"automatic": True})
    else:
        failed = [c["check"] for c in checks if not c["passed"]]
        _set_status(
            certificate,
            S.UNDER_REVIEW,
            actor=None,
            extra_fields=["review"],
            data={"failed": failed},
        )
    return certificate


@transaction.atomic
def certificate_approve(*, certificate_id: int, officer: User, note: str = "") -> Certificate:
    """An officer issues an application the automated review queued. Raises
    PermissionDenied for non-officers, NotYours for an officer of another office and
    TransitionNotAllowed unless under review."""
    _require_officer(officer)
    certificate = _locked_for_officer(certificate_id, officer)
    certificate.decision_note = note.strip()
    _issue(certificate, actor=officer, extra_fields=["decision_note"], data={"note": note})
    return certificate


@transaction.atomic
def certificate_reject(*, certificate_id: int, officer: User, reason: str) -> Certificate:
    """An officer rejects an application under review, with a reason."""
    return _decide_with_reason(certificate_id, officer, reason, S.REJECTED)


@transaction.atomic
def certificate_request_correction(
    *, certificate_id: int, officer: User, note: str, fields: Iterable[str] = ()
) -> Certificate:
    """An officer returns an application to the exporter to correct (退回修改).

    Writes the note and the boxes to correct (values of Certificate.Box) and the status
    change; after commit, pushes it to the exporter. Raises InvalidInput for a blank note
    or an unknown box, PermissionDenied for non-officers, NotYours for an officer of
    another office and TransitionNotAllowed unless submitted or under review.
    """
    _require_officer(officer)
    note = (note or "").strip()
    fields = [str(name).strip() for name in fields]
    errors = {}
    if not note:
        errors["note"] = [_("Tell the exporter what to correct.")]
    unknown = [name for name in fields if name not in Certificate.Box.values]
    if unknown:
        errors["fields"] = [_("No such box: %(names)s.") % {"names": ", ".join(unknown)}]
    if errors:
        raise InvalidInput(errors)
    certificate = _locked_for_officer(certificate_id, officer)
    certificate.decision_note = note
    certificate.correction_fields = [name for name in Certificate.Box.values if name in fields]
    _set_status(
        certificate,
        S.CORRECTION_REQUESTED,
        actor=officer,
        extra_fields=["decision_note", "correction_fields"],
        data={"note": note, "fields": certificate.correction_fields},
    )
    return certificate


@transaction.atomic
def certificate_resubmit(
    *, certificate_id: int, user: User, application: ApplicationInput
) -> Certificate:
    """The exporter corrects an application returned for correction and submits it again.

    Replaces the header and the items, clears the officer's note and boxes, records the
    status change and reviews it again as certificate_apply does. The issuing office stays,
    unless the officer named it as a box to correct. Raises NotYours outside the exporter
    organisation, TransitionNotAllowed unless returned for correction, and InvalidInput with
    field-level messages; writes nothing then.
    """
    certificate = _locked(certificate_id)
    if not queries.is_exporter_member(user, certificate):
        raise NotYours("No such certificate")
    if S.SUBMITTED not in Certificate.TRANSITIONS[certificate.status]:
        raise TransitionNotAllowed(obj=certificate, old=certificate.status, new=S.SUBMITTED)
    header, items = _validate_application(application, exporter=certificate.exporter)
    if (
        header["issuing_office"] != certificate.issuing_office
        and Certificate.Box.ISSUING_OFFICE not in certificate.correction_fields
    ):
        raise InvalidInput(
            {
                "issuing_office": [
                    _("The office that returned the application reviews it again: %(office)s.")
                    % {"office": certificate.issuing_office.name}
                ]
            }
        )
    for name, value in header.items():
        setattr(certificate, name, value)
    certificate.decision_note = ""
    certificate.correction_fields = []
    certificate.items.all().delete()
    _write_items(certificate, items)
    _set_status(
        certificate,
        S.SUBMITTED,
        actor=user,
        extra_fields=[*header, "decision_note", "correction_fields"],
        data={"items": len(items)},
    )
    return certificate_review(certificate_id=certificate.pk)


@transaction.atomic
def certificate_revoke(*, certificate_id: int, officer: User, reason: str) -> Certificate:
    """An officer revokes an issued certificate; the verification page shows it revoked."""
    return _decide_with_reason(certificate_id, officer, reason, S.REVOKED)


@transaction.atomic
def certificate_replace(
    *, certificate_id: int, officer: User, reason: str, corrections: dict | None = None
) -> Certificate:
    """Replace an issued certificate: the old one becomes replaced and a new one, with
    the corrections applied, is issued pointing to it. Returns the new certificate."""
    _require_officer(officer)
    reason = _required_reason(reason)
    corrections = corrections or {}
    unknown = set(corrections) - CORRECTABLE_FIELDS
    if unknown:
        raise InvalidInput({name: [_("This field cannot be corrected.")] for name in unknown})
    old = _locked_for_officer(certificate_id, officer)
    old.decision_note = reason
    _set_status(
        old, S.REPLACED, actor=officer, extra_fields=["decision_note"], data={"reason": reason}
    )
    new = _copy_for_replacement(old, corrections)
    timeline_record(
        subject=new,
        kind=TimelineEvent.Kind.CERTIFICATE_APPLIED,
        actor=officer,
        organisation=new.exporter,
        data={"agreement": new.agreement.code, "replaces": old.number},
    )
    _issue(new, actor=officer, data={"replaces": old.number, "reason": reason})
    return new


def _decide_with_reason(
    certificate_id: int, officer: User, reason: str, status: str
) -> Certificate:
    """Reject or revoke: the officer's reason is required and kept as the decision note."""
    _require_officer(officer)
    reason = _required_reason(reason)
    certificate = _locked_for_officer(certificate_id, officer)
    certificate.decision_note = reason
    _set_status(
        certificate, status, actor=officer, extra_fields=["decision_note"], data={"reason": reason}
    )
    return certificate


def _set_status(
    certificate: Certificate,
    new: str,
    *,
    actor: User | None,
    extra_fields: list[str] | tuple = (),
    data: dict | None = None,
) -> None:
    old = transition(certificate, new, extra_fields=extra_fields)
    timeline_record(
        subject=certificate,
        kind=TimelineEvent.Kind.CERTIFICATE_STATUS_CHANGED,
        actor=actor,
        organisation=certificate.exporter,
        data={"from": old, "to": new, **(data or {})},
    )
    live.publish_on_commit(
        groups=events.certificate_groups(certificate),
        event=events.certificate_status_changed(certificate),
    )


def _issue(
    certificate: Certificate,
    *,
    actor: User | None,
    extra_fields: list[str] | tuple = (),
    data: dict | None = None,
) -> None:
    if S.ISSUED not in Certificate.TRANSITIONS[certificate.status]:
        raise TransitionNotAllowed(obj=certificate, old=certificate.status, new=S.ISSUED)
    now = timezone.now()
    certificate.number = _next_number(certificate.agreement, now)
    certificate.verification_code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    certificate.issued_at = now
    certificate.valid_until = _add_months(
        timezone.localdate(now), certificate.agreement.validity_months
    )
    fields = ["number", "verification_code", "issued_at", "valid_until", *extra_fields]
    _set_status(
        certificate,
        S.ISSUED,
        actor=actor,
        extra_fields=fields,
        data={"number": certificate.number, **(data or {})},
    )


def _write_items(certificate: Certificate, items: list[dict]) -> None:
    """The validated goods lines of an application, numbered from 1."""
    CertificateItem.objects.bulk_create(
        CertificateItem(certificate=certificate, line_number=n, **fields)
        for n, fields in enumerate(items, start=1)
    )


def _copy_for_replacement(old: Certificate, corrections: dict) -> Certificate:
    copied = {
        f.name: getattr(old, f.name)
        for f in Certificate._meta.concrete_fields
        if f.name
        not in {
            "id",
            "created_at",
            "updated_at",
            "status",
            "number",
            "verification_code",
            "issued_at",
            "valid_until",
            "decision_note",
            "replaces",
            "idempotency_key",
        }
    }
    copied.update({k: str(v).strip() for k, v in corrections.items()})
    new = Certificate.objects.create(**copied, replaces=old)
    CertificateItem.objects.bulk_create(
        CertificateItem(
            certificate=new,
            **{
                f.name: getattr(item, f.name)
                for f in CertificateItem._meta.concrete_fields
                if f.name not in {"id", "certificate"}
            },
        )
        for item in old.items.all()
    )
    return new


def _locked(certificate_id: int) -> Certificate:
    return (
        Certificate.objects.select_for_update(of=("self",))
        .select_related("agreement", "exporter")
        .get(pk=certificate_id)
    )


def _locked_for_officer(certificate_id: int, officer: User) -> Certificate:
    certificate = _locked(certificate_id)
    # Another office's certificate is a 404, as in the pages and the API that scope by office.
    if not queries.is_officer_for(officer, certificate):
        raise NotYours("No such certificate")
    return certificate


def _next_number(agreement: Agreement, now: datetime.datetime) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('certificate_number_serial')")
        (serial,) = cursor.fetchone()
    return f"{agreement.number_prefix}{timezone.localdate(now).year % 100:02d}{serial:09d}"


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):  # 31 January + 1 month is the last of February
        try:
            return datetime.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _exporter_for(user: User) -> Organisation:
    organisation = queries.exporter_for(user)
    if organisation is None:
        raise InvalidInput({"exporter": [_("Only enterprises apply for certificates of origin.")]})
    return organisation


def _require_officer(user: User) -> None:
    if not customs_office_ids_for(user):
        raise PermissionDenied(_("Only customs officers may do this."))


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": [_("Give the reason.")]})
    return reason


def _messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


def _validate_application(
    application: ApplicationInput, *, exporter: Organisation
) -> tuple[dict, list[dict]]:
    errors: dict = {}
    office, office_errors = _issuing_office(exporter, application.issuing_office)
    if office_errors:
        errors["issuing_office"] = office_errors
    agreement = Agreement.objects.filter(code=(application.agreement or "").strip().upper()).first()
    if agreement is None:
        errors["agreement"] = [_("Choose an agreement: %(codes)s.") % {"codes": _agreement_codes()}]
    header = {
        "agreement": agreement,
        "importer_name": (application.importer_name or "").strip(),
        "importer_address": (application.importer_address or "").strip(),
        "importing_country": (application.importing_country or "").strip().upper(),
        "producer": (application.producer or "").strip(),
        "vessel_name": (application.vessel_name or "").strip(),
        "port_of_loading": (application.port_of_loading or "").strip().upper(),
        "port_of_discharge": (application.port_of_discharge or "").strip().upper(),
        "invoice_number": (application.invoice_number or "").strip(),
        "third_party_invoicing": bool(application.third_party_invoicing),
        "back_to_back": bool(application.back_to_back),
        "retroactive": bool(application.retroactive),
        "issuing_office": office,
    }
    for name in ("importer_name", "invoice_number"):
        if not header[name]:
            errors[name] = [_("This field is required.")]
    try:
        identifiers.validate_country(header["importing_country"])
    except ValidationError as error:
        errors["importing_country"] = _messages(error)
    for name in ("port_of_loading", "port_of_discharge"):
        if header[name]:
            try:
                identifiers.validate_unlocode(header[name])
            except ValidationError as error:
                errors[name] = _messages(error)
    header["invoice_date"] = limits.parse_day(application.invoice_date)
    if header["invoice_date"] is None:
        errors["invoice_date"] = [_("Enter the invoice date as YYYY-MM-DD.")]
    elif message := limits.date_error(header["invoice_date"]):
        errors["invoice_date"] = [message]
    header["departure_date"] = limits.parse_day(application.departure_date)
    if application.departure_date not in (None, "") and header["departure_date"] is None:
        errors["departure_date"] = [_("Enter the departure date as YYYY-MM-DD.")]
    elif header["departure_date"] and (message := limits.date_error(header["departure_date"])):
        errors["departure_date"] = [message]
    if message := limits.list_error(application.items, maximum=limits.MAX_GOODS_LINES):
        raise InvalidInput({**errors, "items": [message]})
    items, item_errors = [], {}
    for index, item in enumerate(application.items):
        fields, problems = _validate_item(item)
        items.append(fields)
        if problems:
            item_errors[str(index)] = problems
    if not application.items:
        errors["items"] = [_("List at least one goods item.")]
    elif item_errors:
        errors["items"] = item_errors
    if errors:
        raise InvalidInput(errors)
    return header, items


def _issuing_office(exporter: Organisation, code: str) -> tuple[Organisation | None, list[str]]:
    """The office the exporter chose by its code, or the first of its port's when blank."""
    offices = list(queries.issuing_offices_for(exporter))
    if not offices:
        return None, [_("No customs office of your port issues certificates of origin.")]
    code = (code or "").strip()
    if not code:
        return offices[0], []
    for office in offices:
        if office.office_code == code:
            return office, []
    choices = ", ".join(f"{o.office_code} ({o.name})" for o in offices)
    return None, [_("Choose an issuing office of your port: %(offices)s.") % {"offices": choices}]


def _validate_item(item: ItemInput) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    hs_code = (item.hs_code or "").strip()
    try:
        identifiers.validate_hs_code(hs_code)
    except ValidationError as error:
        errors["hs_code"] = _messages(error)
    description = (item.description or "").strip()
    if not description:
        errors["description"] = [_("Describe the goods.")]
    packages = limits.parse_decimal(item.packages)
    if packages is None or not 0 < packages <= MAX_PACKAGES or packages != int(packages):
        errors["packages"] = [_("The number of packages is a whole number above zero.")]
    quantity, message = limits.decimal_error(
        item.quantity,
        max_digits=14,
        decimal_places=3,
        above_minimum=True,
        message=_("The quantity must be a number above zero."),
    )
    if message:
        errors["quantity"] = [message]
    fob_value = None
    if item.fob_value is not None and str(item.fob_value).strip():
        fob_value, message = limits.decimal_error(
            item.fob_value,
            max_digits=16,
            decimal_places=2,
            message=_("The FOB value must be a number, zero or more."),
        )
        if message:
            errors["fob_value"] = [message]
    criterion = (item.origin_criterion or "").strip().upper()
    if criterion not in CertificateItem.Criterion.values:
        errors["origin_criterion"] = [
            _("Choose a criterion: %(codes)s.")
            % {"codes": ", ".join(CertificateItem.Criterion.values)}
        ]
    rvc = _optional_decimal(item.rvc_percent)
    if rvc is not None and rvc is not False:
        rvc = round(rvc, 2) if 0 <= rvc <= 100 else False
    if rvc is False:
        errors["rvc_percent"] = [_("The RVC is a percentage from 0 to 100.")]
    elif criterion == CertificateItem.Criterion.RVC and rvc is None:
        errors["rvc_percent"] = [_("An RVC claim states its percentage.")]
    inputs, input_errors = _validate_inputs(item.non_originating_inputs)
    if input_errors:
        errors["non_originating_inputs"] = input_errors
    fields = {
        "hs_code": hs_code,
        "description": description,
        "marks": (item.marks or "").strip(),
        "packages": int(packages) if packages is not None and not errors.get("packages") else 0,
        "quantity": quantity,
        "fob_value": fob_value,
        "origin_criterion": criterion,
        "rvc_percent": rvc if rvc is not False else None,
        "non_originating_inputs": inputs,
    }
    return fields, errors


def _validate_inputs(raw: list[str]) -> tuple[list[dict], list[str]]:
    inputs, errors = [], []
    if message := limits.list_error(raw or [], maximum=limits.MAX_LIST):
        return inputs, [message]
    for code in (c.strip() for c in raw or [] if c and c.strip()):
        if not (code.isdigit() and len(code) in (6, 8, 10)) or not identifiers.hs_subheading_exists(
            code[:6]
        ):
            errors.append(
                _("%(code)s is not an HS code (6, 8 or 10 digits of HS 2022).") % {"code": code}
            )
        inputs.append({"hs_code": code})
    return inputs, errors


def _agreement_codes() -> str:
    return ", ".join(Agreement.objects.values_list("code", flat=True))


def _optional_decimal(raw) -> Decimal | None | bool:
    """None when blank, False when not a number."""
    if raw is None or str(raw).strip() == "":
        return None
    number = limits.parse_decimal(raw)
    return False if number is None else number
