from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from declarations import services
from declarations.models import Declaration, DeclarationItem
from port.queries import enterprises_filable_by, port_call_choices


class PortCallChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, call) -> str:
        eta = timezone.localtime(call.eta)
        return f"{call.vessel.name} {call.voyage} · {call.terminal.name} · ETA {eta:%Y-%m-%d %H:%M}"


class DeclarationForm(forms.Form):
    """The header of a filing. Values are checked by the service, which every path shares."""

    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=Declaration.Direction.choices,
        initial="import",
        required=False,
    )
    kind = forms.ChoiceField(
        label=_("Declaration"),
        choices=Declaration.Kind.choices,
        initial="full",
        required=False,
        help_text=_("Two-step: file the summary first; the goods may leave once it is released."),
    )
    summary = forms.IntegerField(
        label=_("Completes summary (step 2)"),
        required=False,
        widget=forms.Select,
        help_text=_("For step 2 of a two-step declaration: the released summary it completes."),
    )
    # Not required here: the service names every missing or bad value at once.
    enterprise = forms.ModelChoiceField(
        queryset=None, label=_("Enterprise (consignee)"), required=False
    )
    port_call = PortCallChoiceField(queryset=None, label=_("Vessel and voyage"), required=False)
    bl_number = forms.CharField(label=_("B/L number"), max_length=35, required=False)
    containers = forms.CharField(
        label=_("Containers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "MSCU1234566\nCSQU3054383"}),
        help_text=_("ISO 6346 numbers, one per line or separated by commas."),
    )
    trade_mode = forms.ChoiceField(
        label=_("Trade mode"),
        choices=Declaration.TradeMode.choices,
        initial="0110",
        required=False,
    )
    port_of_loading = forms.CharField(
        label=_("Port of loading"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "AUMEL", "autocapitalize": "characters"}),
        help_text=_("UN/LOCODE"),
    )
    port_of_discharge = forms.CharField(
        label=_("Port of discharge"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "CNXMN", "autocapitalize": "characters"}),
        help_text=_("UN/LOCODE; blank: this port for an import."),
    )
    trading_country = forms.CharField(
        label=_("Country of origin / destination"),
        max_length=2,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "AU"}),
    )
    currency = forms.CharField(
        label=_("Currency"), max_length=3, initial="CNY", required=False, help_text="ISO 4217"
    )
    incoterm = forms.ChoiceField(
        label=_("Incoterm"),
        required=False,
        choices=[("", "—"), *Declaration.Incoterm.choices],
    )
    invoice_total = forms.CharField(
        label=_("Invoice total"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text=_("The item values must add up to it."),
    )
    packages = forms.CharField(
        label=_("Packages"),
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    gross_weight = forms.CharField(
        label=_("Gross weight (kg)"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    net_weight = forms.CharField(
        label=_("Net weight (kg)"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    is_advance = forms.BooleanField(
        label=_("Advance declaration (before the vessel arrives)"), required=False
    )
    direct_delivery = forms.BooleanField(
        label=_("Direct pickup at ship side / direct loading on arrival"), required=False
    )
    permits_involved = forms.BooleanField(label=_("Permits involved"), required=False)
    quarantine_involved = forms.BooleanField(label=_("Quarantine involved"), required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, summaries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enterprise"].queryset = enterprises_filable_by(user)
        self.fields["port_call"].queryset = port_call_choices()
        self.fields["summary"].widget.choices = [("", "—")] + [
            (s.pk, f"{s.number} · {s.bl_number}") for s in summaries
        ]
        if self.fields["enterprise"].queryset.count() == 1:
            self.fields["enterprise"].initial = self.fields["enterprise"].queryset.first()

    def container_numbers(self) -> list[str]:
        raw = self.cleaned_data.get("containers", "")
        return [part for part in raw.replace(",", "\n").split() if part]

    def filing_input(self, items) -> services.FilingInput:
        data = self.cleaned_data
        return services.FilingInput(
            enterprise_id=getattr(data.get("enterprise"), "pk", None),
            port_call_id=getattr(data.get("port_call"), "pk", None),
            bl_number=data["bl_number"],
            container_numbers=self.container_numbers(),
            items=[services.ItemInput(**item) for item in items.cleaned_data if item],
            direction=data.get("direction") or Declaration.Direction.IMPORT,
            kind=data.get("kind") or Declaration.Kind.FULL,
            summary_id=data.get("summary"),
            header=services.HeaderInput(
                **{name: data.get(name) for name in services.HEADER_NAMES},
            ),
        )


class ItemForm(forms.Form):
    hs_code = forms.CharField(
        label=_("Commodity code"),
        max_length=10,
        required=False,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "placeholder": "0202300090",
                "list": "hs-suggestions",
                "data-lookup": "hs",
                "autocomplete": "off",
            }
        ),
    )
    description = forms.CharField(label=_("Description"), max_length=250, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=14, decimal_places=3, required=False
    )
    unit = forms.ChoiceField(label=_("Unit"), choices=DeclarationItem.Unit.choices)
    unit_price = forms.DecimalField(
        label=_("Unit price"), max_digits=16, decimal_places=4, required=False
    )
    value = forms.DecimalField(label=_("Value"), max_digits=16, decimal_places=2, required=False)
    origin_country = forms.CharField(
        label=_("Origin"),
        max_length=2,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "AU"}),
    )
    cas_number = forms.CharField(
        label=_("CAS number"),
        max_length=12,
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": "67-64-1",
                "list": "cas-suggestions",
                "data-lookup": "cas",
                "autocomplete": "off",
            }
        ),
    )
    certificate_number = forms.CharField(
        label=_("Certificate of origin"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "E26000000001"}),
    )


ItemFormSet = forms.formset_factory(ItemForm, extra=0, min_num=1, validate_min=True, max_num=99)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,  # the service requires it, with its own message
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def initial_for(declaration: Declaration) -> tuple[dict, list[dict]]:
    """Form and formset initial data from a saved declaration (edit a draft, amend)."""
    header = {
        "direction": declaration.direction,
        "kind": declaration.kind,
        "summary": declaration.summary_id,
        "enterprise": declaration.enterprise_id,
        "port_call": declaration.port_call_id,
        "bl_number": declaration.bl_number,
        "containers": "\n".join(c.number for c in declaration.containers.all()),
        **{name: getattr(declaration, name) for name in services.HEADER_NAMES},
    }
    header = {k: ("" if v is None else v) for k, v in header.items()}
    items = [
        {
            "hs_code": i.hs_code,
            "description": i.description,
            "quantity": i.quantity,
            "unit": i.unit,
            "unit_price": i.unit_price,
            "value": i.value,
            "origin_country": i.origin_country,
            "cas_number": i.cas_number,
            "certificate_number": i.certificate_number,
        }
        for i in declaration.items.all()
    ]
    return header, items
