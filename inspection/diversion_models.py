"""The diversion plan at berthing and the terminal's feed of it: where each container of a
call goes (`inspection.diversion`), and the webhook deliveries that tell the terminal."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from port.models import TimeStampedModel


class Destination(models.TextChoices):
    SHIP_SIDE = "ship_side", _("Ship-side pickup")
    INSPECTION_AREA = "inspection_area", _("Inspection area")
    YARD = "yard", _("Yard")
    DIRECT_LOADING = "direct_loading", _("Direct loading")


class DiversionInstruction(TimeStampedModel):
    """Where one container goes when it comes off (or arrives for) a vessel.

    `sequence` grows every time the instruction is written, so a terminal that polls with
    the last sequence it saw as its cursor receives every new and every changed instruction.
    """

    port_call = models.ForeignKey(
        "port.PortCall", on_delete=models.PROTECT, related_name="diversion_instructions"
    )
    container = models.ForeignKey(
        "port.Container", on_delete=models.PROTECT, related_name="diversion_instructions"
    )
    destination = models.CharField(_("destination"), max_length=16, choices=Destination.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    sequence = models.BigIntegerField(null=True, db_index=True)
    acknowledged_sequence = models.BigIntegerField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # When the terminal reported the container off the ship (discharged).
    discharged_at = models.DateTimeField(_("discharged"), null=True, blank=True)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["port_call", "container"], name="diversion_instruction_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.container_id} → {self.destination}"

    @property
    def is_acknowledged(self) -> bool:
        return (
            self.acknowledged_sequence is not None and self.acknowledged_sequence == self.sequence
        )


class WebhookEndpoint(TimeStampedModel):
    """Where a terminal operator receives its instructions, signed with its secret."""

    organisation = models.OneToOneField(
        "port.Organisation", on_delete=models.CASCADE, related_name="webhook"
    )
    url = models.URLField(_("URL"))
    secret = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    MAX_ATTEMPTS = 6

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=48)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            # The sweeper: WHERE status = 'pending' AND next_attempt_at < now()
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} {self.status}"
