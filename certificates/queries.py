"""Reads of certificates, scoped to who asks."""

import secrets

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from certificates.models import Certificate, CertificateItem
from port.models import Membership, Organisation, User
from port.queries import customs_office_ids_for, organisation_ids_for


def is_certificate_officer(user: User) -> bool:
    return bool(customs_office_ids_for(user))


def is_officer_for(user: User, certificate: Certificate) -> bool:
    """Whether the user is an officer of the office that issues this certificate."""
    return certificate.issuing_office_id in customs_office_ids_for(user)


def exporter_for(user: User) -> Organisation | None:
    """The enterprise the user applies for certificates for, if any."""
    return (
        Organisation.objects.filter(
            kind=Organisation.Kind.ENTERPRISE,
            memberships__user=user,
            memberships__role__in=[Membership.Role.DECLARANT, Membership.Role.MANAGER],
        )
        .order_by("pk")
        .first()
    )


def issuing_offices_for(exporter: Organisation | None) -> QuerySet[Organisation]:
    """The customs offices an exporter may apply to: those of its own port, by office code.

    The first is the default when the application names none.
    """
    if exporter is None or exporter.port_id is None:
        return Organisation.objects.none()
    return (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE, port_id=exporter.port_id)
        .exclude(office_code="")
        .order_by("office_code", "pk")
    )


def certificate_list(*, user: User) -> QuerySet[Certificate]:
    """An exporter's own certificates; for a customs officer, those of their office(s)."""
    return (
        Certificate.objects.filter(
            Q(exporter_id__in=organisation_ids_for(user))
            | Q(issuing_office_id__in=customs_office_ids_for(user))
        )
        .select_related("agreement", "exporter", "issuing_office")
        .order_by("-created_at", "-id")
    )


def certificate_review_queue(*, user: User) -> QuerySet[Certificate]:
    """Applications the automated review sent to the officer's office(s), oldest first."""
    return (
        Certificate.objects.filter(
            status=Certificate.Status.UNDER_REVIEW,
            issuing_office_id__in=customs_office_ids_for(user),
        )
        .select_related("agreement", "exporter", "issuing_office")
        .order_by("created_at", "id")
    )


def mailing_queue(*, user: User) -> QuerySet[Certificate]:
    """Issued certificates of the officer's office(s) whose exporter asked for the signed
    paper to be mailed."""
    return (
        Certificate.objects.filter(
            mailing__status="requested", issuing_office_id__in=customs_office_ids_for(user)
        )
        .select_related("agreement", "exporter", "issuing_office", "mailing")
        .order_by("mailing__created_at")
    )


def certificate_get_for_user(*, user: User, certificate_id: int) -> Certificate:
    """The certificate with its items; Http404 when it is not the user's."""
    try:
        return (
            certificate_list(user=user)
            .select_related("created_by", "replaces")
            .prefetch_related(
                Prefetch("items", queryset=CertificateItem.objects.order_by("line_number"))
            )
            .get(pk=certificate_id)
        )
    except (Certificate.DoesNotExist, ValueError, TypeError):
        raise Http404("No such certificate") from None


def certificate_get_for_exporter(*, user: User, certificate_id: int) -> Certificate:
    """The certificate for a member of its exporter; Http404 for anyone else, officers too."""
    certificate = certificate_get_for_user(user=user, certificate_id=certificate_id)
    if not is_exporter_member(user, certificate):
        raise Http404("No such certificate")
    return certificate


def is_exporter_member(user: User, certificate: Certificate) -> bool:
    return certificate.exporter_id in organisation_ids_for(user)


def mailing_for(certificate: Certificate):
    return getattr(certificate, "mailing", None)  # the reverse one-to-one raises when absent


def certificate_verify(*, number: str, code: str) -> Certificate | None:
    """The issued certificate with this number and verification code, or None.

    Both a wrong number and a wrong code give None, so the caller cannot tell which.
    """
    number, code = (number or "").strip().upper(), (code or "").strip().upper()
    if not number or not code:
        return None
    certificate = (
        Certificate.objects.filter(number=number)
        .select_related("agreement", "exporter", "issuing_office", "replaced_by")
        .prefetch_related("items")
        .first()
    )
    if certificate is None:
        secrets.compare_digest(code, "--------")  # the same work either way
        return None
    if not secrets.compare_digest(certificate.verification_code, code):
        return None
    return certificate


def duty_rates(*, hs_code: str, certificate_numbers: list[str], on_date) -> dict:
    """Tariff rates in force on `on_date` for a commodity code (the reference app's tariff
    edition), for the declarations app's duty estimate.

    Returns {"mfn": rate or None, "preferential": {certificate number: (agreement code,
    rate or None)}} where only certificates issued and valid on `on_date` appear.
    """
    from reference import queries as reference_queries

    rates = reference_queries.tariff_rates(hs_code, on_date)
    valid = (
        Certificate.objects.filter(
            number__in=[n for n in certificate_numbers if n],
            status=Certificate.Status.ISSUED,
            valid_until__gte=on_date,
        )
        .select_related("agreement")
        .only("number", "agreement__code")
    )
    return {
        "mfn": rates.get("MFN"),
        "preferential": {c.number: (c.agreement.code, rates.get(c.agreement.code)) for c in valid},
    }


def certificate_references(*, certificate_ids: list[int]) -> dict[int, dict]:
    """Each certificate's reference for messages (its number once issued, else its invoice
    number), with the locker and pickup code of its mailing, if any."""
    rows = Certificate.objects.filter(pk__in=certificate_ids).values(
        "pk", "number", "invoice_number", "mailing__locker", "mailing__pickup_code"
    )
    return {
        row["pk"]: {
            "reference": row["number"] or row["invoice_number"],
            "locker": row["mailing__locker"] or "",
            "pickup_code": row["mailing__pickup_code"] or "",
        }
        for row in rows
    }
