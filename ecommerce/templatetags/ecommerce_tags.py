from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """Integer cents as CNY with two decimals: 123456 -> "1,234.56"."""
    if value in (None, ""):
        return "—"
    return f"{int(value) / 100:,.2f}"
