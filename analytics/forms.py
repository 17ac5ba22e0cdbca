from django import forms
from django.utils.translation import gettext_lazy as _

from analytics.dashboard import Filters
from port import limits
from port.models import Terminal


class DashboardFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        choices=[("day", _("Day")), ("week", _("Week"))],
        initial="day",
        required=False,
    )
    on = forms.DateField(
        label=_("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[limits.validate_day],
        help_text=_("The day, or a day of the week, to show; today when empty."),
    )
    terminal = forms.ModelChoiceField(
        label=_("Terminal"),
        queryset=Terminal.objects.order_by("code"),
        required=False,
        empty_label=_("All terminals"),
    )
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[
            ("", _("Imports and exports")),
            ("import", _("Imports")),
            ("export", _("Exports")),
        ],
        required=False,
    )

    def filters(self) -> Filters:
        """The chosen filters; the defaults when the form is unbound or invalid."""
        if not self.is_bound or not self.is_valid():
            return Filters()
        data = self.cleaned_data
        return Filters(
            period=data["period"] or "day",
            on=data["on"],
            terminal_id=data["terminal"].pk if data["terminal"] else None,
            direction=data["direction"],
        )
