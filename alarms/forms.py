from django import forms
from django.utils.translation import gettext_lazy as _

from alarms.models import Alarm


class AlarmFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("active", _("Open or acknowledged")), ("", _("All")), *Alarm.Status.choices],
    )
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[("", _("All")), *Alarm.Severity.choices]
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All")), *Alarm.Kind.choices]
    )
    assigned = forms.ChoiceField(
        label=_("Assigned"), required=False, choices=[("", _("Anyone")), ("me", _("To me"))]
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=60)
