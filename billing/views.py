from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from billing import queries, receipt, services
from billing.forms import PayForm
from port.errors import InvalidInput


@login_required
def bill_list(request):
    context = {
        "bills": queries.bill_list(user=request.user)[:200],
        "fees": queries.fees_summary(user=request.user),
    }
    return render(request, "billing/list.html", context)


@login_required
def bill_detail(request, bill_id: int):
    bill = queries.bill_get_for_user(user=request.user, bill_id=bill_id)
    form = PayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.bill_pay(bill_id=bill.pk, user=request.user, **form.payment())
        except InvalidInput as error:
            for field, problems in error.errors.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, _("Bill %(number)s is paid.") % {"number": bill.number})
            return redirect("billing:detail", bill_id=bill.pk)
    return render(request, "billing/detail.html", {"bill": bill, "form": form})


@login_required
def bill_receipt(request, bill_id: int):
    bill = queries.bill_get_for_user(user=request.user, bill_id=bill_id)
    payment = getattr(bill, "payment", None)
    if payment is None:
        raise Http404
    response = HttpResponse(receipt.receipt_pdf(payment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{payment.receipt_number}.pdf"'
    return response
