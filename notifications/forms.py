from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.rules import KINDS


class PreferencesForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone for SMS"),
        required=False,
        max_length=20,
        help_text=_("International form, e.g. +8613800138000"),
    )
    language = forms.ChoiceField(label=_("Language of e-mails and SMS"), choices=settings.LANGUAGES)

    def __init__(self, *args, contact, rows, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"].initial = contact.phone
        self.fields["language"].initial = contact.language
        for row in rows:
            for channel in ("email", "sms"):
                self.fields[f"{row['kind']}:{channel}"] = forms.BooleanField(
                    required=False, initial=row[channel], label=row["label"]
                )

    def clean_phone(self) -> str:
        phone = "".join(self.cleaned_data["phone"].split())
        if phone and not (phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16):
            raise forms.ValidationError(
                _("Give the number in international form, e.g. +8613800138000.")
            )
        return phone

    def rows(self) -> list[dict]:
        return [
            {"label": KINDS[kind].label, "email": self[f"{kind}:email"], "sms": self[f"{kind}:sms"]}
            for kind in KINDS
        ]

    def choices(self) -> dict:
        data = self.cleaned_data
        return {
            "choices": {kind: (data[f"{kind}:email"], data[f"{kind}:sms"]) for kind in KINDS},
            "phone": data["phone"],
            "language": data["language"],
        }
