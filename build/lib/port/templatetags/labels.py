"""Readable labels for the codes, and messages, that timeline events and reviews store."""

from django import template
from django.apps import apps
from django.utils.translation import get_language

register = template.Library()


@register.filter
def label(value, field: str) -> str:
    """`{{ event.data.to|label:"shipping.AgencyReview.status" }}`: the translated label of that
    model field's choice, or the code if it is not one. Any app's field, no import of its models."""
    app_label, model_name, field_name = field.split(".")
    model = apps.get_model(app_label, model_name)
    return str(dict(model._meta.get_field(field_name).flatchoices).get(value, value))


@register.filter
def localised(entry: dict) -> str:
    """`{{ check|localised }}`: a stored message in the reader's language when it was stored in
    each ("messages"), else the one stored ("message")."""
    return entry.get("messages", {}).get(get_language(), entry.get("message", ""))
