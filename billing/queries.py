from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _

from billing.models import InspectionFee, TaxBill
from port.models import User
from port.queries import organisation_ids_for


def bill_list(*, user: User):
    """The bills of the user's enterprises, newest first: nobody sees another's."""
    return TaxBill.objects.filter(enterprise_id__in=organisation_ids_for(user)).select_related(
        "declaration", "payment"
    )


def bill_get_for_user(*, user: User, bill_id: int) -> TaxBill:
    bill = bill_list(user=user).prefetch_related("lines", "fees").filter(pk=bill_id).first()
    if bill is None:
        raise Http404
    return bill


def fees_summary(*, user: User) -> dict:
    """Inspection fees on the user's enterprises' bills: what the government bore for their
    compliant goods, and what they paid for inspections that found a problem (CNY cents)."""
    totals = InspectionFee.objects.filter(
        bill__enterprise_id__in=organisation_ids_for(user)
    ).aggregate(
        waived_cents=Coalesce(Sum("amount_cents", filter=Q(borne_by="government")), 0),
        waived_count=Count("pk", filter=Q(borne_by="government")),
        charged_cents=Coalesce(Sum("amount_cents", filter=Q(borne_by="enterprise")), 0),
        charged_count=Count("pk", filter=Q(borne_by="enterprise")),
    )
    return {"currency": "CNY", **totals}


def guarantee_blocked_reasons(enterprise_ids: list[int]) -> dict[int, str]:
    """{enterprise id: why} for those of these enterprises with an overdue bill: they may not
    draw on their guarantee until it is paid (declarations.two_step.GUARANTEE_BLOCKERS)."""
    overdue = (
        TaxBill.objects.filter(enterprise_id__any=enterprise_ids, status=TaxBill.Status.OVERDUE)
        .order_by("enterprise_id", "due_at")
        .distinct("enterprise_id")
        .values_list("enterprise_id", "number")
    )
    return {
        enterprise_id: _(
            "Tax bill %(number)s is overdue: pay it before drawing on the guarantee again."
        )
        % {"number": number}
        for enterprise_id, number in overdue
    }
