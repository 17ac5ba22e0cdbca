from django import forms
from django.utils.translation import gettext_lazy as _

from inspection.models import Inspection, Outcome, RiskRule
from port import limits, uploads
from port.models import Organisation


def _short_list(values: list[str]) -> None:
    if message := limits.list_error(values, maximum=limits.MAX_LIST):
        raise forms.ValidationError(message)


class CommaListField(forms.CharField):
    """A list typed as comma- or space-separated values, upper-cased."""

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        return [part.strip().upper() for part in text.replace(",", " ").split() if part.strip()]

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


class RiskRuleForm(forms.ModelForm):
    origin_countries = CommaListField(
        label=_("Origin countries"), required=False, help_text=_("ISO codes, e.g. AU, NZ")
    )
    watched_bl_numbers = CommaListField(label=_("Watched B/L numbers"), required=False)
    credit_ratings = forms.MultipleChoiceField(
        label=_("Credit ratings"),
        choices=Organisation.CreditRating.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = RiskRule
        fields = [
            "name",
            "public_reason",
            "action",
            "priority",
            "sampling_rate",
            "hs_prefix",
            "origin_countries",
            "credit_ratings",
            "watched_enterprises",
            "watched_bl_numbers",
            "valid_from",
            "valid_until",
            "is_active",
        ]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}),
            "valid_until": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["watched_enterprises"].queryset = Organisation.objects.filter(
            kind__in=Organisation.TRADING_KINDS
        )
        self.fields["watched_enterprises"].required = False
        for name in ("valid_from", "valid_until"):
            self.fields[name].validators.append(limits.validate_day)
        for name in ("origin_countries", "watched_bl_numbers"):
            self.fields[name].validators.append(_short_list)

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("value_per_kg_min"), cleaned.get("value_per_kg_max")
        if low is not None and high is not None and high < low:
            self.add_error("value_per_kg_max", _("The highest value must not be below the lowest."))
        valid_from, valid_until = cleaned.get("valid_from"), cleaned.get("valid_until")
        if valid_from and valid_until and valid_until < valid_from:
            self.add_error("valid_until", _("The rule must end after it starts."))
        return cleaned


class OverrideForm(forms.Form):
    outcome = forms.ChoiceField(label=_("New decision"), choices=Outcome.choices)
    reason = forms.CharField(
        label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReassessForm(forms.Form):
    """The rules page's "re-assess this vessel call": the calls with open declarations."""

    port_call = forms.ModelChoiceField(label=_("Vessel call"), queryset=None)

    def __init__(self, *args, port_calls, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["port_call"].queryset = port_calls
        self.fields["port_call"].label_from_instance = lambda call: (
            f"{call.vessel.name} {call.voyage} ({call.get_status_display()})"
        )


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.ImageField):
    """Several photos in one field; each is checked as an image."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleImageField, self).clean(file, initial) for file in files]


class RecordForm(forms.Form):
    result = forms.ChoiceField(
        label=_("Result"), choices=[("", "—"), *Inspection.Result.choices], required=False
    )
    findings = forms.CharField(
        label=_("Findings"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    scan_image = forms.ImageField(
        label=_("Scan image (H986)"),
        required=False,
        validators=[uploads.image_validator("scan")],
    )
    photos = MultipleImageField(
        label=_("Photos"), required=False, validators=[uploads.image_validator("photo")]
    )
    image_verdict = forms.ChoiceField(
        label=_("Image review"),
        choices=[("", "—"), *Inspection.ImageVerdict.choices],
        required=False,
    )


class QuestionForm(forms.Form):
    question = forms.CharField(
        label=_("Question for the expert"), widget=forms.Textarea(attrs={"rows": 2})
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("Your opinion"), widget=forms.Textarea(attrs={"rows": 2}))


class ContainerForm(forms.Form):
    container = forms.CharField(label=_("Container"), max_length=20)


class GateForm(forms.Form):
    container = forms.CharField(label=_("Container"), max_length=20)
    direction = forms.ChoiceField(
        label=_("Direction"), choices=[("out", _("Gate-out")), ("in", _("Gate-in"))]
    )
    truck_plate = forms.CharField(label=_("Truck plate"), max_length=16, required=False)
