from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import Payment


class PayForm(forms.Form):
    method = forms.ChoiceField(
        label=_("How to pay"), choices=Payment.Method.choices, widget=forms.RadioSelect
    )
    insurer = forms.CharField(
        label=_("Insurer"), required=False, max_length=120, help_text=_("Guarantee insurance only")
    )
    policy_number = forms.CharField(label=_("Policy number"), required=False, max_length=40)
    cover = forms.DecimalField(
        label=_("Cover (CNY)"), required=False, min_value=0, max_value=10**13, decimal_places=2
    )

    def payment(self) -> dict:
        data = self.cleaned_data
        cover = data.get("cover")
        return {
            "method": data["method"],
            "insurer": data.get("insurer") or "",
            "policy_number": data.get("policy_number") or "",
            "cover_cents": int(cover * 100) if cover is not None else None,
        }
