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


def guarantee_blocked_reason(enterprise_id: int) -> str | None:
    """Why the enterprise may not draw on its guarantee now (an overdue bill), or None."""
    overdue = (
        TaxBill.objects.filter(enterprise_id=enterprise_id, status=TaxBill.Status.OVERDUE)
        .values_list("number", flat=True)
        .first()
    )
    if overdue is None:
        return None
    return _("Tax bill %(number)s is overdue: pay it before drawing on the guarantee again.") % {
        "number": overdue
    }
