from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """Integer cents as CNY with two decimals: 123456 -> "1,234.56"."""
    if value in (None, ""):
        return "—"
    return f"{int(value) / 100:,.2f}"


@register.filter
def percent_bp(value) -> str:
    """Basis points as a percentage: 1300 -> "13 %"."""
    return f"{int(value) / 100:g} %"


@register.filter
def rule_action(value: str) -> str:
    from ecommerce.forms import ACTIONS

    return str(dict(ACTIONS).get(value, value))
