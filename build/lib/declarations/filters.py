from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from declarations.models import Declaration


class DeclarationFilter(filters.FilterSet):
    """The list's filters, shared by the page and the API."""

    status = filters.ChoiceFilter(label=_("Status"), choices=Declaration.Status.choices)
    direction = filters.ChoiceFilter(label=_("Direction"), choices=Declaration.Direction.choices)
    kind = filters.ChoiceFilter(label=_("Declaration"), choices=Declaration.Kind.choices)
    bl_number = filters.CharFilter(label=_("B/L number"), lookup_expr="iexact")
    container = filters.CharFilter(
        label=_("Container"), field_name="containers__number", lookup_expr="iexact", distinct=True
    )
    hs_code = filters.CharFilter(
        label=_("Commodity code"),
        field_name="items__hs_code",
        lookup_expr="startswith",
        distinct=True,
        help_text="The first digits of a commodity code",
    )
    enterprise = filters.NumberFilter(label=_("Enterprise"), field_name="enterprise_id")
    filed_after = filters.IsoDateTimeFilter(
        label=_("Filed from"), field_name="created_at", lookup_expr="gte"
    )
    filed_before = filters.IsoDateTimeFilter(
        label=_("Filed before"), field_name="created_at", lookup_expr="lt"
    )
    filed_on_or_after = filters.DateFilter(
        label=_("Filed from"),
        field_name="created_at__date",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    filed_on_or_before = filters.DateFilter(
        label=_("Filed until"),
        field_name="created_at__date",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    is_overdue = filters.BooleanFilter(label=_("Step 2 overdue"))

    class Meta:
        model = Declaration
        fields = ["status", "direction", "kind", "bl_number", "container", "hs_code", "enterprise"]
