"""What reaches a person: one notification per event and recipient, and how each person
wants each kind (in the app always; by e-mail and SMS as they choose)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class Contact(models.Model):
    """A person's address book entry for notifications: phone and language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_contact"
    )
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    language = models.CharField(
        _("language of notifications"), max_length=10, choices=settings.LANGUAGES, default="en"
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.language})"


class Preference(models.Model):
    """Whether a person gets a kind of notification by e-mail and by SMS (absent: defaults)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=48)
    email = models.BooleanField(default=True)
    sms = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}"


class Notification(models.Model):
    """One event told to one person: made once (unique per event and recipient), sent by
    each channel at most once (a channel's time is claimed before sending)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event_id = models.BigIntegerField()  # the timeline event it tells of
    kind = models.CharField(max_length=48)
    subject_type = models.CharField(max_length=48)
    subject_id = models.BigIntegerField()
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    sms_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "event_id"], name="notification_once_per_event"
            )
        ]
        indexes = [
            # The bell: WHERE recipient = ? AND read_at IS NULL
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}"


class Cursor(models.Model):
    """How far notifications have read the timeline; its row is the reader's lock."""

    name = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_event_id}"
