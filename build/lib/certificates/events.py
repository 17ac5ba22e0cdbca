"""Live events about certificates, and the groups they go to."""

from typing import TypedDict

from port import live


class CertificateStatusChanged(TypedDict):
    type: str
    id: int
    number: str | None
    status: str
    status_label: str


def certificate_groups(certificate) -> list[str]:
    """The exporter's organisation: the only one that watches its certificates live."""
    return [live.organisation_group(certificate.exporter_id)]


def certificate_status_changed(certificate) -> CertificateStatusChanged:
    return {
        "type": "certificate.status_changed",
        "id": certificate.pk,
        "number": certificate.number,
        "status": certificate.status,
        "status_label": str(certificate.get_status_display()),
    }
