from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """12345 -> "123.45", with thousands separators."""
    if value is None:
        return ""
    return f"{value / 100:,.2f}"


@register.filter
def percent(rate) -> str:
    return f"{rate * 100:.1f} %".replace(".0 %", " %")
