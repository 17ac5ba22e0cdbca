from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from port.models import Organisation
from port.queries import port_call_choices, user_organisation_kinds

K = Organisation.Kind
# Where each kind of organisation starts its day.
HOME_FOR_KIND = {
    K.ENTERPRISE: "declarations:list",
    K.CUSTOMS_BROKER: "declarations:list",
    K.CUSTOMS_OFFICE: "inspection:queue",
    K.TERMINAL_OPERATOR: "inspection:hoisting",
    K.SHIPPING_AGENT: "shipping:filings",
    K.MARITIME_SAFETY: "shipping:filings",
    K.BORDER_CONTROL: "shipping:filings",
    K.PORT_AUTHORITY: "analytics:dashboard",
}


# Who follows where a vessel's containers go: its terminal, customs and the port authority.
DIVERSION_KINDS = {K.TERMINAL_OPERATOR, K.CUSTOMS_OFFICE, K.PORT_AUTHORITY}


@login_required
def home(request):
    for kind in sorted(user_organisation_kinds(request.user)):
        if kind in HOME_FOR_KIND:
            return redirect(HOME_FOR_KIND[kind])
    return redirect("port_calls")


@login_required
def port_calls(request):
    calls = port_call_choices().select_related("berth")
    sees_diversion = bool(user_organisation_kinds(request.user) & DIVERSION_KINDS)
    return render(
        request, "port/port_calls.html", {"calls": calls, "sees_diversion": sees_diversion}
    )
