"""Live events about declarations, and the groups they go to."""

from typing import TypedDict

from declarations.models import Declaration
from port import live


class DeclarationStatusChanged(TypedDict):
    type: str
    id: int
    number: str | None
    status: str
    status_label: str


def declaration_group(declaration_id: int) -> str:
    return f"declaration.{declaration_id}"


def declaration_groups(declaration) -> list[str]:
    """The consignment's own group, and both organisations that may see it."""
    return declaration_groups_of(
        declaration.pk, declaration.enterprise_id, declaration.declarant_id
    )


def declaration_groups_of(declaration_id: int, enterprise_id: int, declarant_id: int) -> list[str]:
    return [declaration_group(declaration_id)] + [
        live.organisation_group(org_id) for org_id in sorted({enterprise_id, declarant_id})
    ]


def declaration_status_changed(declaration) -> DeclarationStatusChanged:
    return {
        "type": "declaration.status_changed",
        "id": declaration.pk,
        "number": declaration.number,
        "status": declaration.status,
        # The label of its choice (get_status_display translates every choice to find one).
        "status_label": str(Declaration.Status(declaration.status).label),
    }


class DeclarationStep2(TypedDict):
    type: str
    id: int
    number: str | None
    due: str | None
    is_overdue: bool


def declaration_step2(declaration) -> DeclarationStep2:
    """A summary's step 2 reminder or overdue flag."""
    return {
        "type": "declaration.step2",
        "id": declaration.pk,
        "number": declaration.number,
        "due": declaration.full_due_at.isoformat() if declaration.full_due_at else None,
        "is_overdue": declaration.is_overdue,
    }


class UploadProgress(TypedDict):
    type: str
    id: int
    status: str
    percent: int


def upload_group(upload_id: int) -> str:
    return f"erp_upload.{upload_id}"


def upload_progress(upload) -> UploadProgress:
    return {
        "type": "declaration.upload_progress",
        "id": upload.pk,
        "status": upload.status,
        "percent": upload.percent,
    }


class DeclarationsFiled(TypedDict):
    type: str
    ids: list[int]
    count: int


def organisation_groups(declaration) -> list[str]:
    """Both organisations that may see the declaration: whose goods, and who filed."""
    organisations = {declaration.enterprise_id, declaration.declarant_id}
    return [live.organisation_group(org_id) for org_id in sorted(organisations)]


def declarations_filed(declarations) -> DeclarationsFiled:
    """A batch filed (one declaration or thousands): one message per organisation, whose
    pages re-fetch their lists."""
    return {
        "type": "declaration.filed",
        "ids": [d.pk for d in declarations],
        "count": len(declarations),
    }
