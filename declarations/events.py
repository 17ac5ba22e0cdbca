"""Live events about declarations, and the groups they go to."""

from typing import TypedDict

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
    organisations = {declaration.enterprise_id, declaration.declarant_id}
    return [declaration_group(declaration.pk)] + [
        live.organisation_group(org_id) for org_id in sorted(organisations)
    ]


def declaration_status_changed(declaration) -> DeclarationStatusChanged:
    return {
        "type": "declaration.status_changed",
        "id": declaration.pk,
        "number": declaration.number,
        "status": declaration.status,
        "status_label": str(declaration.get_status_display()),
    }
