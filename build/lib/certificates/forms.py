from django import forms
from django.utils.translation import gettext_lazy as _

from certificates.models import Agreement, Certificate, CertificateItem


class CertificateForm(forms.Form):
    """The header of an application. Values are checked by the service every path shares."""

    agreement = forms.ChoiceField(label=_("Agreement"))
    importer_name = forms.CharField(label=_("Importer / consignee"), max_length=200)
    importer_address = forms.CharField(label=_("Importer address"), max_length=300, required=False)
    importing_country = forms.CharField(
        label=_("Importing country"),
        max_length=2,
        help_text=_("ISO 3166 code, e.g. VN"),
        widget=forms.TextInput(attrs={"placeholder": "VN"}),
    )
    producer = forms.CharField(label=_("Producer (if known)"), max_length=200, required=False)
    vessel_name = forms.CharField(label=_("Vessel"), max_length=100, required=False)
    departure_date = forms.CharField(
        label=_("Departure date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    port_of_loading = forms.CharField(
        label=_("Port of loading"),
        max_length=5,
        required=False,
        help_text=_("UN/LOCODE"),
        widget=forms.TextInput(attrs={"placeholder": "CNXMN"}),
    )
    port_of_discharge = forms.CharField(
        label=_("Port of discharge"),
        max_length=5,
        required=False,
        help_text=_("UN/LOCODE"),
        widget=forms.TextInput(attrs={"placeholder": "VNSGN"}),
    )
    invoice_number = forms.CharField(label=_("Invoice number"), max_length=40)
    invoice_date = forms.CharField(
        label=_("Invoice date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    third_party_invoicing = forms.BooleanField(label=_("Third-party invoicing"), required=False)
    back_to_back = forms.BooleanField(
        label=_("Back-to-back (movement certificate)"), required=False
    )
    retroactive = forms.BooleanField(label=_("Issued retroactively"), required=False)
    issuing_office = forms.ChoiceField(
        label=_("Issuing office"),
        required=False,
        help_text=_("The customs office of your port that reviews and issues the certificate."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, offices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agreement"].choices = [
            (a.code, str(a)) for a in Agreement.objects.order_by("code")
        ]
        # The first office is the default the service applies to a blank choice too.
        self.fields["issuing_office"].choices = [
            (o.office_code, f"{o.office_code} {o}") for o in offices
        ]

    @staticmethod
    def initial_for(certificate: Certificate) -> dict:
        """The certificate's current values, to correct it and resubmit."""
        initial = {name: getattr(certificate, name) for name in CertificateForm.base_fields}
        initial.update(
            agreement=certificate.agreement.code,
            issuing_office=certificate.issuing_office.office_code,
            invoice_date=certificate.invoice_date.isoformat(),
            departure_date=certificate.departure_date.isoformat()
            if certificate.departure_date
            else "",
            idempotency_key="",
        )
        return initial


class ItemForm(forms.Form):
    hs_code = forms.CharField(
        label=_("Commodity code"),
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "6907210000"}),
    )
    description = forms.CharField(label=_("Description"), max_length=250)
    marks = forms.CharField(label=_("Marks"), max_length=100, required=False)
    packages = forms.CharField(label=_("Packages"), max_length=10)
    quantity = forms.CharField(label=_("Quantity"), max_length=20)
    fob_value = forms.CharField(label=_("FOB value (USD)"), max_length=20, required=False)
    origin_criterion = forms.ChoiceField(
        label=_("Origin criterion"), choices=CertificateItem.Criterion.choices
    )
    rvc_percent = forms.CharField(label=_("RVC (%)"), max_length=10, required=False)
    non_originating_inputs = forms.CharField(
        label=_("Non-originating inputs"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "252910, 250700"}),
    )

    @staticmethod
    def initial_for(item: CertificateItem) -> dict:
        initial = {name: getattr(item, name) for name in ItemForm.base_fields}
        initial["non_originating_inputs"] = " ".join(
            entry["hs_code"] for entry in item.non_originating_inputs
        )
        return initial

    def input_codes(self) -> list[str]:
        raw = self.cleaned_data.get("non_originating_inputs", "")
        return [part for part in raw.replace(",", " ").split() if part]


ItemFormSet = forms.formset_factory(ItemForm, extra=0, min_num=1, validate_min=True, max_num=99)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class CorrectionForm(forms.Form):
    note = forms.CharField(
        label=_("What to correct"),
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Tell the exporter what to correct.")},
    )
    boxes = forms.MultipleChoiceField(
        label=_("Boxes to correct"),
        choices=Certificate.Box.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class MailingForm(forms.Form):
    recipient = forms.CharField(label=_("Recipient"), max_length=120)
    address = forms.CharField(label=_("Address"), max_length=300)
    phone = forms.CharField(label=_("Phone"), max_length=30)


class LockerForm(forms.Form):
    locker = forms.CharField(label=_("Locker"), max_length=20)


class VerifyForm(forms.Form):
    number = forms.CharField(label=_("Certificate number"), max_length=12)
    code = forms.CharField(label=_("Verification code"), max_length=8)
