from django import forms
from django.utils.translation import gettext_lazy as _

from port import uploads
from shipping.models import HEALTH_QUESTIONS, AgencyReview

DECISIONS = [
    (AgencyReview.Status.APPROVED, _("Approve")),
    (AgencyReview.Status.CORRECTION_REQUESTED, _("Ask for a correction")),
    (AgencyReview.Status.REJECTED, _("Reject")),
]


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Comment for the agent"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when you ask for a correction or reject."),
    )


class FilingForm(forms.Form):
    """FAL 1 and the health declaration; values are checked by the service every path shares."""

    master_name = forms.CharField(label=_("Master"), max_length=100)
    last_port = forms.CharField(
        label=_("Last port of call"), max_length=5, required=False, help_text=_("UN/LOCODE")
    )
    next_port = forms.CharField(
        label=_("Next port of call"), max_length=5, required=False, help_text=_("UN/LOCODE")
    )
    crew_count = forms.CharField(label=_("Number of crew"), max_length=4)
    passenger_count = forms.CharField(label=_("Number of passengers"), max_length=4, initial="0")
    cargo_description = forms.CharField(
        label=_("Brief cargo description"), max_length=250, required=False
    )
    remarks = forms.CharField(
        label=_("Remarks"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    health_notes = forms.CharField(
        label=_("Health declaration notes"), max_length=500, required=False
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, question in HEALTH_QUESTIONS.items():
            self.fields[f"health_{key}"] = forms.BooleanField(label=question, required=False)

    def health_fields(self):
        return [self[f"health_{key}"] for key in HEALTH_QUESTIONS]

    def health(self) -> dict:
        answers = {key: self.cleaned_data[f"health_{key}"] for key in HEALTH_QUESTIONS}
        return {**answers, "notes": self.cleaned_data["health_notes"]}

    @classmethod
    def initial_for(cls, filing) -> dict:
        initial = {
            name: getattr(filing, name)
            for name in (
                "master_name",
                "last_port",
                "next_port",
                "crew_count",
                "passenger_count",
                "cargo_description",
                "remarks",
            )
        }
        initial["health_notes"] = filing.health.get("notes", "")
        initial.update({f"health_{k}": bool(filing.health.get(k)) for k in HEALTH_QUESTIONS})
        return initial


class PersonForm(forms.Form):
    family_name = forms.CharField(label=_("Family name"), max_length=80)
    given_names = forms.CharField(label=_("Given names"), max_length=80)
    rank = forms.CharField(label=_("Rank or rating"), max_length=40, required=False)
    nationality = forms.CharField(label=_("Nationality"), max_length=2)
    date_of_birth = forms.CharField(
        label=_("Date of birth"), widget=forms.DateInput(attrs={"type": "date"})
    )
    document_number = forms.CharField(label=_("Document number"), max_length=20)


class DangerousGoodForm(forms.Form):
    container_number = forms.CharField(label=_("Container"), max_length=11)
    un_number = forms.CharField(label=_("UN number"), max_length=6)
    imdg_class = forms.CharField(label=_("IMDG class"), max_length=4)
    packing_group = forms.CharField(label=_("Packing group"), max_length=3, required=False)
    proper_shipping_name = forms.CharField(label=_("Proper shipping name"), max_length=200)
    stowage_position = forms.CharField(label=_("Stowage position"), max_length=7, required=False)
    gross_mass_kg = forms.CharField(label=_("Gross mass (kg)"), max_length=12)


CrewFormSet = forms.formset_factory(PersonForm, extra=2, max_num=200)
PassengerFormSet = forms.formset_factory(PersonForm, extra=1, max_num=2000)
DangerousGoodFormSet = forms.formset_factory(DangerousGoodForm, extra=2, max_num=500)


class BerthForm(forms.Form):
    berth = forms.ChoiceField(label=_("Berth"))

    def __init__(self, *args, call=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["berth"].choices = [(b.pk, b.code) for b in call.terminal.berths.all()]
        if call.berth_id:
            self.fields["berth"].initial = call.berth_id


class ManifestLineForm(forms.Form):
    bl_number = forms.CharField(label=_("B/L number"), max_length=35)
    container_number = forms.CharField(label=_("Container"), max_length=13)
    gross_weight_kg = forms.CharField(label=_("Gross weight (kg)"), max_length=14, required=False)
    seal_number = forms.CharField(label=_("Seal"), max_length=20, required=False)
    description = forms.CharField(label=_("Goods description"), max_length=250, required=False)
    hs_code = forms.CharField(label=_("Commodity code"), max_length=10, required=False)
    un_number = forms.CharField(label=_("UN number"), max_length=6, required=False)
    imdg_class = forms.CharField(label=_("IMDG class"), max_length=4, required=False)
    packing_group = forms.CharField(label=_("Packing group"), max_length=3, required=False)
    stowage_position = forms.CharField(label=_("Stowage position"), max_length=7, required=False)


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("UN/EDIFACT file"),
        help_text=_("BAPLIE bay plan, COPRAR or COARRI discharge list"),
        validators=[uploads.validate_edifact_file],
    )


class BoardingForm(forms.Form):
    scheduled_at = forms.CharField(
        label=_("Boarding time"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    purpose = forms.CharField(label=_("Purpose"), max_length=200)


class BoardingRequestForm(BoardingForm):
    """The shipping agent, or an enterprise with goods on the call, asks an agency to board."""

    agency = forms.ChoiceField(label=_("Agency"))
    field_order = ["agency", "scheduled_at", "purpose"]

    def __init__(self, *args, agencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].choices = [(a.pk, a.name) for a in agencies]


class ResolveForm(forms.Form):
    note = forms.CharField(label=_("How it was resolved"), max_length=300)


class CallForm(forms.Form):
    imo_number = forms.CharField(label=_("IMO number"), max_length=10)
    vessel_name = forms.CharField(label=_("Vessel name"), max_length=100)
    call_sign = forms.CharField(label=_("Call sign"), max_length=10, required=False)
    mmsi = forms.CharField(label=_("MMSI"), max_length=9, required=False)
    flag = forms.CharField(
        label=_("Flag"), max_length=2, required=False, help_text=_("ISO 3166 code, e.g. PA")
    )
    gross_tonnage = forms.CharField(label=_("Gross tonnage"), max_length=7, required=False)
    net_tonnage = forms.CharField(label=_("Net tonnage"), max_length=7, required=False)
    voyage = forms.CharField(label=_("Voyage"), max_length=20)
    terminal = forms.ChoiceField(label=_("Terminal"))
    eta = forms.CharField(
        label=_("ETA"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    etd = forms.CharField(
        label=_("ETD"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args, terminals=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["terminal"].choices = [(t.code, t.name) for t in terminals]
