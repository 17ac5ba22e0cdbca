from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from port.models import Organisation
from port.queries import user_organisation_kinds

K = Organisation.Kind

# Who has a dashboard: the port-wide view, or an enterprise's own (analytics.queries).
ANALYTICS_KINDS = {K.PORT_AUTHORITY, K.CUSTOMS_OFFICE, K.TERMINAL_OPERATOR, K.ENTERPRISE}

# Each entry: label, URL name, the organisation kinds whose members see it.
NAVIGATION = [
    (_("Declarations"), "declarations:list", {K.ENTERPRISE, K.CUSTOMS_BROKER}),
    (_("New declaration"), "declarations:new", {K.ENTERPRISE, K.CUSTOMS_BROKER}),
    (_("Inspection queue"), "inspection:queue", {K.CUSTOMS_OFFICE}),
    (_("Risk rules"), "inspection:rules", {K.CUSTOMS_OFFICE}),
    (_("Access stage"), "inspection:access", {K.CUSTOMS_OFFICE}),
    (_("Requests not to attend"), "inspection:attendance", {K.CUSTOMS_OFFICE}),
    (_("Hoisting jobs"), "inspection:hoisting", {K.TERMINAL_OPERATOR}),
    (_("Gate"), "inspection:gate", {K.TERMINAL_OPERATOR}),
    (_("Certificates of origin"), "certificates:list", {K.ENTERPRISE}),
    (_("Duties and taxes"), "billing:list", {K.ENTERPRISE}),
    (_("Certificate reviews"), "certificates:reviews", {K.CUSTOMS_OFFICE}),
    (
        _("Vessel filings"),
        "shipping:filings",
        {
            K.SHIPPING_AGENT,
            K.CUSTOMS_OFFICE,
            K.MARITIME_SAFETY,
            K.BORDER_CONTROL,
            K.PORT_AUTHORITY,
            K.TERMINAL_OPERATOR,
        },
    ),
    (_("Dangerous goods"), "shipping:dg_flags", {K.MARITIME_SAFETY}),
    (
        _("Boardings"),
        "shipping:boardings",
        {K.SHIPPING_AGENT, K.MARITIME_SAFETY, K.BORDER_CONTROL, K.PORT_AUTHORITY},
    ),
    (_("Alarms"), "alarms:board", {K.CUSTOMS_OFFICE}),
    # An agent's calls page lets it announce vessels and file for them.
    (_("Port calls"), "shipping:calls", {K.SHIPPING_AGENT}),
    (_("Port calls"), "port_calls", set(K) - {K.SHIPPING_AGENT}),
    (_("Dashboard"), "analytics:dashboard", ANALYTICS_KINDS),
    (_("Port map"), "analytics:map", ANALYTICS_KINDS),
]

# Entries that depend on more than an organisation's kind, added by apps in their ready():
# each a function of the user returning (label, URL name) pairs (zones: its members' pages).
EXTRA_NAVIGATION: list = []


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    kinds = set(K) if user.is_superuser else user_organisation_kinds(user)
    current = request.resolver_match.view_name if request.resolver_match else ""
    items, labels = [], set()
    for label, name, allowed in NAVIGATION:
        if kinds & allowed and str(label) not in labels:  # the first entry of a label wins
            labels.add(str(label))
            items.append({"label": label, "url": reverse(name), "active": name == current})
    for extra in EXTRA_NAVIGATION:
        for label, name in extra(user):
            items.append({"label": label, "url": reverse(name), "active": name == current})
    return {"navigation": items}
