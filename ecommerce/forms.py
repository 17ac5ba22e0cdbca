"""The officers' forms: a list risk rule, a watched buyer, a positive list entry."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from ecommerce.models import IMPORT_MODES, ListRiskRule, Participant, PositiveListEntry, TradeMode

ACTIONS = [
    ("scan", _("Scan (non-intrusive)")),
    ("manual", _("Manual inspection")),
    ("quarantine", _("Quarantine")),
]


class ListRiskRuleForm(forms.Form):
    name = forms.CharField(label=_("Rule name"), max_length=120)
    public_reason = forms.CharField(label=_("Reason shown to the filer"), max_length=200)
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS, initial="manual")
    sampling_rate = forms.DecimalField(
        label=_("Share selected (0.001 to 1)"),
        min_value=Decimal("0.001"),
        max_value=1,
        max_digits=4,
        decimal_places=3,
        initial=1,
    )
    hs_prefix = forms.RegexField(
        label=_("Commodity code starts with"),
        regex=r"^[0-9]{2,10}$",
        required=False,
        error_messages={"invalid": _("2 to 10 digits.")},
    )
    categories = forms.MultipleChoiceField(
        label=_("Goods categories"), required=False, widget=forms.CheckboxSelectMultiple
    )
    platforms = forms.TypedMultipleChoiceField(
        label=_("Platforms"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    watched_buyers = forms.BooleanField(label=_("Watched buyers only"), required=False)
    value_min = forms.DecimalField(
        label=_("Lowest value selected (CNY)"),
        required=False,
        min_value=0,
        max_value=5000,
        decimal_places=2,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = [
            (c, c)
            for c in PositiveListEntry.objects.values_list("category", flat=True)
            .distinct()
            .order_by("category")
        ]
        self.fields["platforms"].choices = list(
            Participant.objects.filter(role=Participant.Role.PLATFORM)
            .order_by("code")
            .values_list("organisation_id", "organisation__name")
        )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if ListRiskRule.objects.filter(name=name).exists():
            raise forms.ValidationError(_("A rule of this name exists."))
        return name

    def clean(self):
        data = super().clean()
        criteria = ("hs_prefix", "categories", "platforms", "watched_buyers", "value_min")
        if not self.errors and not any(data.get(c) not in (None, "", [], False) for c in criteria):
            raise forms.ValidationError(
                _("Give at least one criterion: a rule without any would select every list.")
            )
        return data

    def rule_fields(self) -> dict:
        data = self.cleaned_data
        value_min = data.get("value_min")
        return {
            "name": data["name"],
            "public_reason": data["public_reason"],
            "action": data["action"],
            "sampling_rate": data["sampling_rate"],
            "hs_prefix": data.get("hs_prefix") or "",
            "categories": data.get("categories") or [],
            "platforms": data.get("platforms") or [],
            "watched_buyers": bool(data.get("watched_buyers")),
            "value_min_cents": None if value_min is None else int(value_min * 100),
        }


class WatchedBuyerForm(forms.Form):
    # Never rendered back: a refused number is not echoed into the page.
    id_number = forms.CharField(
        label=_("Resident identity card number"),
        max_length=18,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class PositiveEntryForm(forms.Form):
    hs_prefix = forms.RegexField(
        label=_("Commodity code prefix"),
        regex=r"^[0-9]{2,10}$",
        error_messages={"invalid": _("2 to 10 digits of the commodity code.")},
    )
    category = forms.CharField(label=_("Category"), max_length=40)
    vat = forms.DecimalField(
        label=_("VAT (%)"), min_value=0, max_value=100, decimal_places=2, initial=13
    )
    consumption = forms.DecimalField(
        label=_("Consumption tax (%)"), min_value=0, max_value=99, decimal_places=2, initial=0
    )
    trade_modes = forms.MultipleChoiceField(
        label=_("Trade modes allowed"),
        choices=[(m.value, m.label) for m in TradeMode if m in IMPORT_MODES],
        widget=forms.CheckboxSelectMultiple,
        initial=[m.value for m in TradeMode if m in IMPORT_MODES],
    )

    def entry_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "hs_prefix": data["hs_prefix"],
            "category": data["category"].strip(),
            "vat_bp": int(data["vat"] * 100),
            "consumption_bp": int(data["consumption"] * 100),
            "trade_modes": sorted(data["trade_modes"]),
        }


class SummariseForm(forms.Form):
    """Summarise a past month's export lists (an officer: every enterprise)."""

    month = forms.RegexField(
        label=_("Month (YYYY-MM)"),
        regex=r"^(20\d\d)-(0[1-9]|1[0-2])$",
        max_length=7,
        error_messages={"invalid": _("A month as YYYY-MM.")},
    )
