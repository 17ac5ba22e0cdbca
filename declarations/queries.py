from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from declarations import events
from declarations.filters import DeclarationFilter
from declarations.models import Declaration, DeclarationItem, ErpUpload, GuaranteeAccount
from port.models import User
from port.queries import enterprises_filable_by, organisation_ids_for


def declaration_list(*, user: User, filters: dict | None = None) -> QuerySet[Declaration]:
    """Declarations the user's organisations own or filed, newest first, filtered."""
    org_ids = organisation_ids_for(user)
    declarations = (
        Declaration.objects.filter(Q(enterprise_id__in=org_ids) | Q(declarant_id__in=org_ids))
        .select_related("enterprise", "declarant", "port_call__vessel")
        .prefetch_related("containers")
        .order_by("-created_at", "-id")
    )
    if filters is not None:
        declarations = DeclarationFilter(filters, queryset=declarations).qs
    return declarations


def declaration_filter_form(*, user: User, filters: dict):
    """The bound filter set, for the list page's filter form."""
    return DeclarationFilter(filters, queryset=declaration_list(user=user))


def summaries_awaiting_step2(*, user: User) -> QuerySet[Declaration]:
    """Released summaries the user may file step 2 for, soonest due first."""
    return (
        Declaration.objects.filter(
            kind=Declaration.Kind.SUMMARY,
            status=Declaration.Status.RELEASED,
            enterprise__in=enterprises_filable_by(user),
        )
        .select_related("enterprise")
        .order_by("full_due_at", "pk")
    )


def guarantee_accounts_for(*, user: User) -> QuerySet[GuaranteeAccount]:
    return GuaranteeAccount.objects.filter(
        enterprise__in=enterprises_filable_by(user)
    ).select_related("enterprise")


def erp_upload_list(*, user: User) -> QuerySet[ErpUpload]:
    return ErpUpload.objects.filter(declarant_id__in=organisation_ids_for(user)).defer("content")


def erp_upload_get_for_user(*, user: User, upload_id: int) -> ErpUpload:
    try:
        return erp_upload_list(user=user).get(pk=upload_id)
    except (ErpUpload.DoesNotExist, ValueError, TypeError):
        raise Http404("No such upload") from None


def erp_upload_live_group(user: User, key: str) -> str | None:
    if not key.isdigit() or not erp_upload_list(user=user).filter(pk=int(key)).exists():
        return None
    return events.upload_group(int(key))


def declaration_get_for_user(*, user: User, declaration_id: int) -> Declaration:
    """The declaration with its items and containers; Http404 when it is not the user's."""
    try:
        return (
            declaration_list(user=user)
            .select_related("port_call__terminal", "port_call__port", "created_by")
            .prefetch_related(
                Prefetch("items", queryset=DeclarationItem.objects.order_by("line_number"))
            )
            .get(pk=declaration_id)
        )
    except (Declaration.DoesNotExist, ValueError, TypeError):
        raise Http404("No such declaration") from None


def declaration_live_group(user: User, key: str) -> str | None:
    """The live group of a declaration, for a user allowed to watch it."""
    if not key.isdigit():
        return None
    if not declaration_list(user=user).filter(pk=int(key)).exists():
        return None
    return events.declaration_group(int(key))


def declaration_for_assessment(*, declaration_id: int) -> Declaration:
    return (
        Declaration.objects.select_related("port_call__terminal")
        .prefetch_related("items", "containers")
        .get(pk=declaration_id)
    )
