from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from declarations.models import DeclarationItem
from port.queries import enterprises_filable_by, port_call_choices


class PortCallChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, call) -> str:
        eta = timezone.localtime(call.eta)
        return f"{call.vessel.name} {call.voyage} · {call.terminal.name} · ETA {eta:%Y-%m-%d %H:%M}"


class DeclarationForm(forms.Form):
    """The header of a filing. Formats are checked by the service, which every path shares."""

    enterprise = forms.ModelChoiceField(queryset=None, label=_("Enterprise (consignee)"))
    port_call = PortCallChoiceField(queryset=None, label=_("Vessel and voyage"))
    bl_number = forms.CharField(label=_("B/L number"), max_length=35)
    containers = forms.CharField(
        label=_("Containers"),
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "MSCU1234565\nCSQU3054383"}),
        help_text=_("ISO 6346 numbers, one per line or separated by commas."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enterprise"].queryset = enterprises_filable_by(user)
        self.fields["port_call"].queryset = port_call_choices()
        if self.fields["enterprise"].queryset.count() == 1:
            self.fields["enterprise"].initial = self.fields["enterprise"].queryset.first()

    def container_numbers(self) -> list[str]:
        raw = self.cleaned_data.get("containers", "")
        return [part for part in raw.replace(",", "\n").split() if part]


class ItemForm(forms.Form):
    hs_code = forms.CharField(
        label=_("Commodity code"),
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "0202300090"}),
    )
    description = forms.CharField(label=_("Description"), max_length=250)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=14, decimal_places=3)
    unit = forms.ChoiceField(label=_("Unit"), choices=DeclarationItem.Unit.choices)
    value = forms.DecimalField(label=_("Value (CNY)"), max_digits=16, decimal_places=2)
    origin_country = forms.CharField(
        label=_("Origin"), max_length=2, widget=forms.TextInput(attrs={"placeholder": "AU"})
    )


ItemFormSet = forms.formset_factory(ItemForm, extra=0, min_num=1, validate_min=True, max_num=99)
