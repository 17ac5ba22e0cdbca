"""Readable labels for the codes, and messages, that timeline events and reviews store."""

from django import template
from django.utils.translation import get_language

from certificates.models import Certificate, Mailing
from port.models import Organisation, PortCall
from shipping.models import AgencyReview, VesselFiling

register = template.Library()
_LABELS = {
    "agency": Organisation.Kind,
    "review": AgencyReview.Status,
    "filing": VesselFiling.Status,
    "call": PortCall.Status,
    "certificate": Certificate.Status,
    "mailing": Mailing.Status,
}


@register.filter
def label(value, kind: str) -> str:
    """`{{ event.data.to|label:"review" }}`: the translated label, or the code if unknown."""
    choices = _LABELS.get(kind)
    if choices is None or value not in choices.values:
        return value
    return str(choices(value).label)


@register.filter
def localised(entry: dict) -> str:
    """`{{ check|localised }}`: a stored message in the reader's language when it was stored in
    each ("messages"), else the one stored ("message")."""
    return entry.get("messages", {}).get(get_language(), entry.get("message", ""))
