"""The browser's zone document: plain fields; zones.validation checks them, as for the API."""

from django import forms
from django.utils.translation import gettext_lazy as _

from zones.models import Movement


class MovementForm(forms.Form):
    kind = forms.ChoiceField(label=_("Movement"), choices=Movement.Kind.choices)
    truck_plate = forms.CharField(label=_("Truck plate"), required=False, max_length=16)
    container = forms.CharField(label=_("Container"), required=False, max_length=20)
    seal = forms.CharField(label=_("Seal"), required=False, max_length=30)
    declared_weight_kg = forms.CharField(
        label=_("Gross weight, truck and load (kg)"), required=False, max_length=20
    )
    counterparty_uscc = forms.CharField(
        label=_("Receiving zone enterprise (USCC)"), required=False, max_length=18
    )
    declaration_number = forms.CharField(
        label=_("Declaration number"), required=False, max_length=30
    )
    duty_amount = forms.CharField(
        label=_("Duty (CNY)"),
        required=False,
        max_length=20,
        help_text=_("Computed from the tariff in force; give it to have it checked."),
    )


class AmendForm(MovementForm):
    """The corrected document: a movement keeps its kind and its receiver."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["kind"]
        del self.fields["counterparty_uscc"]


class LineForm(forms.Form):
    item_no = forms.CharField(label=_("Item number"), required=False, max_length=30)
    hs_code = forms.CharField(label=_("Commodity code"), required=False, max_length=10)
    description = forms.CharField(label=_("Description"), required=False, max_length=200)
    unit = forms.CharField(label=_("Unit"), required=False, max_length=10)
    quantity = forms.CharField(label=_("Quantity"), required=False, max_length=20)
    value = forms.CharField(label=_("Value (CNY)"), required=False, max_length=20)
    un_number = forms.CharField(label=_("UN number"), required=False, max_length=6)
    cas_number = forms.CharField(label=_("CAS number"), required=False, max_length=12)
    certificate_number = forms.CharField(
        label=_("Certificate of origin"), required=False, max_length=12
    )


LineFormSet = forms.formset_factory(LineForm, extra=3, max_num=100)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("ERP file (CSV or XLSX)"))


class GateReadForm(forms.Form):
    """For an officer to enter a read by hand (a camera that failed), through the same service."""

    lane = forms.IntegerField(label=_("Lane"), min_value=1, max_value=99)
    truck_plate = forms.CharField(label=_("Truck plate"), max_length=16)
    containers = forms.CharField(label=_("Containers"), required=False, max_length=30)
    seal = forms.CharField(label=_("Seal"), required=False, max_length=30)
    weight_kg = forms.CharField(label=_("Weight (kg)"), max_length=20)
