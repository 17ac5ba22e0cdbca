"""Alarms: every discrepancy customs must look at, worked to the end by its officers."""

from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from port.models import TimeStampedModel


class Alarm(TimeStampedModel):
    class Severity(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        CLOSED = "closed", _("Closed")

    # Changed only by alarms.services.
    TRANSITIONS = {
        Status.OPEN: {Status.ACKNOWLEDGED, Status.CLOSED},
        Status.ACKNOWLEDGED: {Status.CLOSED},
        Status.CLOSED: set(),
    }

    class Outcome(models.TextChoices):
        VIOLATION = "violation", _("Violation confirmed")
        CORRECTED = "corrected", _("Data corrected")
        FALSE_ALARM = "false_alarm", _("False alarm")
        NO_ACTION = "no_action", _("No action needed")

    class Kind(models.TextChoices):
        GATE_REFUSED = "gate.refused", _("Port gate-out refused")
        ZONE_GATE_STOP = "zone.gate_stop", _("Truck stopped at the zone gate")
        SEAL_MISMATCH = "transit.seal_mismatch", _("Electronic seal broken or different")
        MANIFEST_UNDECLARED = "recon.manifest_undeclared", _("On the manifest, never declared")
        DECLARED_NOT_MANIFESTED = (
            "recon.declared_not_manifested",
            _("Declared, not on the manifest"),
        )
        GATE_WITHOUT_RELEASE = "recon.gate_without_release", _("Gate-out without release")
        ZONE_STOCK_MISMATCH = "recon.zone_stock_mismatch", _("Zone stock differs from movements")
        DANGEROUS_AT_GATE = "recon.dangerous_at_gate", _("Dangerous goods at the gate")
        ZONE_HAZARD = "zone.hazard_at_gate", _("Hazardous chemicals at the zone gate")
        BILL_OVERDUE = "billing.overdue", _("Tax bill unpaid past its due date")

    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=14, choices=Status.choices, default=Status.OPEN
    )
    # The office whose officers work it; nobody else sees it.
    customs_office = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    # What it is about, as people say it: a container, a plate, a zone item.
    subject = models.CharField(_("subject"), max_length=60, blank=True)
    message = models.CharField(_("message"), max_length=400)
    data = models.JSONField(default=dict, blank=True)
    # One alarm per discrepancy: a rule that finds it again changes nothing.
    dedupe_key = models.CharField(max_length=120)
    assigned_to = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    # When the alarm last went up a severity for waiting unacknowledged (alarms_escalate).
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "dedupe_key"], name="alarm_dedupe_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "acknowledged", "closed"]),
                name="alarm_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["info", "warning", "high", "critical"]),
                name="alarm_severity_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | ~Q(outcome=""), name="alarm_closed_has_outcome"
            ),
        ]
        indexes = [
            # The board: WHERE customs_office_id = ? AND status <> 'closed' ORDER BY created_at
            models.Index(fields=["customs_office", "status", "created_at"], name="alarm_board"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

    @property
    def localized_message(self) -> str:
        """The message in the reader's language, when its source wrote it in each."""
        messages = (self.data or {}).get("messages") or {}
        return messages.get(translation.get_language() or "", self.message)

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED
