from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from port.models import TimeStampedModel


class Outcome(models.TextChoices):
    RELEASE = "release", _("Release")
    SCAN = "scan", _("Scan inspection")
    MANUAL = "manual", _("Manual inspection")
    QUARANTINE = "quarantine", _("Quarantine inspection")


class RiskRule(TimeStampedModel):
    """A targeting rule: goods whose commodity code starts with `hs_prefix` are selected."""

    name = models.CharField(_("name"), max_length=120)
    # What the filer's broker is told, in plain words, without the rule's internals.
    public_reason = models.CharField(_("reason shown to the filer"), max_length=200)
    hs_prefix = models.CharField(_("commodity code prefix"), max_length=10)
    action = models.CharField(_("action"), max_length=12, choices=Outcome.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hs_prefix__regex=r"^[0-9]{2,10}$"), name="risk_rule_prefix_digits"
            ),
            models.UniqueConstraint(fields=["name"], name="risk_rule_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Decision(TimeStampedModel):
    """What customs decided for one container of one declaration, and why."""

    declaration = models.ForeignKey(
        "declarations.Declaration", on_delete=models.PROTECT, related_name="decisions"
    )
    container = models.ForeignKey(
        "port.Container", on_delete=models.PROTECT, related_name="decisions"
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    # Every rule that hit: [{"rule": id, "name": ..., "reason": public reason, "action": ...}].
    rules_hit = models.JSONField(default=list)
    inspection_area = models.ForeignKey(
        "port.InspectionArea",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
    )

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "container"], name="decision_unique"),
        ]
        indexes = [
            # The officers' queue: WHERE inspection_area_id IN (...) AND outcome <> 'release'
            models.Index(
                fields=["inspection_area", "outcome", "created_at"], name="decision_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.container_id}: {self.outcome}"

    @property
    def requires_inspection(self) -> bool:
        return self.outcome != Outcome.RELEASE
