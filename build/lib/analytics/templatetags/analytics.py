from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

register = template.Library()

DIRECTIONS = {"import": _("Import"), "export": _("Export")}


@register.simple_tag
def cell(row: dict, column: dict) -> str:
    """A table cell: numbers grouped, hours and per cent with their unit, a dash for none."""
    value = row.get(column["key"])
    if value is None or value == "":
        return "—"
    if column["key"] == "direction" or (column["key"] == "key" and value in DIRECTIONS):
        return str(DIRECTIONS.get(value, value))
    kind = column["kind"]
    if kind == "hours":
        return f"{number_format(value, 2)} h"
    if kind == "percent":
        return f"{'+' if value > 0 else ''}{number_format(value, 1)} %"
    if kind == "share":
        return f"{number_format(value, 1)} %"
    if kind == "number":
        return number_format(value, 0 if float(value).is_integer() else 2, force_grouping=True)
    return str(value)
