"""The shared core: who works here, the port's reference data, and the timeline."""

import datetime

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from port import identifiers


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Organisation(TimeStampedModel):
    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("Enterprise")
        CUSTOMS_BROKER = "customs_broker", _("Customs broker")
        CUSTOMS_OFFICE = "customs_office", _("Customs office")
        TERMINAL_OPERATOR = "terminal_operator", _("Terminal operator")
        MARITIME_SAFETY = "maritime_safety", _("Maritime safety administration")
        BORDER_CONTROL = "border_control", _("Border control")
        PORT_AUTHORITY = "port_authority", _("Port authority")
        SHIPPING_AGENT = "shipping_agent", _("Shipping agent")

    class CreditRating(models.TextChoices):
        CERTIFIED = "certified", _("Certified (AEO)")
        GENERAL = "general", _("General credit")
        LOWER = "lower", _("Lower credit")
        DISHONEST = "dishonest", _("Dishonest")

    # Kinds that trade and so carry enterprise identifiers and a credit rating.
    TRADING_KINDS = (Kind.ENTERPRISE, Kind.CUSTOMS_BROKER)

    name = models.CharField(_("name"), max_length=200)
    name_local = models.CharField(_("name in Chinese"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    uscc = models.CharField(
        _("Unified Social Credit Code"),
        max_length=18,
        blank=True,
        validators=[identifiers.validate_uscc],
    )
    customs_code = models.CharField(
        _("customs code"), max_length=10, blank=True, validators=[identifiers.validate_customs_code]
    )
    credit_rating = models.CharField(
        _("credit rating"), max_length=12, choices=CreditRating.choices, blank=True
    )
    # A customs office's 4-digit code (关区代码); it begins every declaration number it assigns.
    office_code = models.CharField(_("customs office code"), max_length=4, blank=True)
    port = models.ForeignKey(
        "port.Port", on_delete=models.PROTECT, null=True, blank=True, related_name="organisations"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["uscc"], condition=~Q(uscc=""), name="organisation_uscc_unique"
            ),
            models.UniqueConstraint(
                fields=["customs_code"],
                condition=~Q(customs_code=""),
                name="organisation_customs_code_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["enterprise", "customs_broker"]) | Q(credit_rating=""),
                name="organisation_rating_only_for_traders",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind in self.TRADING_KINDS and not self.uscc:
            raise ValidationError(
                {"uscc": _("An enterprise needs its Unified Social Credit Code.")}
            )


class User(AbstractUser):
    """A person; what they may do comes from their memberships."""

    class Meta:
        ordering = ["username"]


class Membership(TimeStampedModel):
    class Role(models.TextChoices):
        DECLARANT = "declarant", _("Declarant")
        MANAGER = "manager", _("Manager")
        OFFICER = "officer", _("Customs officer")
        SUPERVISOR = "supervisor", _("Customs supervisor")
        OPERATOR = "operator", _("Operator")
        REVIEWER = "reviewer", _("Agency reviewer")
        # Customs' quarantine officers: they own the quarantine access stage (两段准入).
        QUARANTINE = "quarantine", _("Quarantine officer")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


class BrokerAuthorisation(TimeStampedModel):
    """An enterprise's authority for a customs broker to file on its behalf."""

    enterprise = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="broker_authorisations"
    )
    broker = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="authorised_by")
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "broker"], name="broker_authorisation_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.broker} for {self.enterprise}"


class Port(models.Model):
    unlocode = models.CharField(
        "UN/LOCODE", max_length=5, unique=True, validators=[identifiers.validate_unlocode]
    )
    name = models.CharField(_("name"), max_length=100)
    name_local = models.CharField(_("name in Chinese"), max_length=100, blank=True)

    class Meta:
        ordering = ["unlocode"]

    def __str__(self) -> str:
        return f"{self.name} ({self.unlocode})"


class Terminal(models.Model):
    port = models.ForeignKey(Port, on_delete=models.PROTECT, related_name="terminals")
    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=100)
    operator = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="terminals"
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["port", "code"], name="terminal_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Berth(models.Model):
    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="berths")
    code = models.CharField(_("code"), max_length=10)
    length_m = models.PositiveIntegerField(_("length (m)"))
    depth_m = models.DecimalField(_("depth (m)"), max_digits=4, decimal_places=1)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["terminal", "code"], name="berth_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.terminal.code} {self.code}"


class YardBlock(models.Model):
    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="yard_blocks")
    code = models.CharField(_("code"), max_length=10)
    capacity_teu = models.PositiveIntegerField(_("capacity (TEU)"))

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["terminal", "code"], name="yard_block_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.terminal.code} {self.code}"


class InspectionArea(models.Model):
    """Where selected containers are examined; it belongs to one customs office."""

    terminal = models.ForeignKey(
        Terminal, on_delete=models.PROTECT, related_name="inspection_areas"
    )
    customs_office = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="inspection_areas"
    )
    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=100)
    bays = models.PositiveSmallIntegerField(_("inspection bays"), default=4)
    # Opening hours, shown to the enterprises whose containers wait there.
    opens_at = models.TimeField(_("opens at"), default=datetime.time(8, 30))
    closes_at = models.TimeField(_("closes at"), default=datetime.time(17, 30))

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["terminal", "code"], name="inspection_area_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Container(models.Model):
    number = models.CharField(
        _("container number"),
        max_length=11,
        unique=True,
        validators=[identifiers.validate_container_number],
    )
    size_type = models.CharField(_("size-type code"), max_length=4, default="22G1")

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class Vessel(models.Model):
    imo_number = models.CharField(
        _("IMO number"), max_length=7, unique=True, validators=[identifiers.validate_imo_number]
    )
    name = models.CharField(_("name"), max_length=100)
    call_sign = models.CharField(_("call sign"), max_length=10, blank=True)
    flag = models.CharField(
        _("flag"), max_length=2, blank=True, validators=[identifiers.validate_country]
    )
    mmsi = models.CharField(
        _("MMSI"), max_length=9, blank=True, validators=[identifiers.validate_mmsi]
    )
    gross_tonnage = models.PositiveIntegerField(_("gross tonnage"), null=True, blank=True)
    net_tonnage = models.PositiveIntegerField(_("net tonnage"), null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PortCall(TimeStampedModel):
    class Status(models.TextChoices):
        EXPECTED = "expected", _("Expected")
        BERTHED = "berthed", _("Berthed")
        DEPARTED = "departed", _("Departed")

    # Changed only by shipping.services (port_call_mark_berthed, port_call_mark_departed).
    TRANSITIONS = {
        Status.EXPECTED: {Status.BERTHED},
        Status.BERTHED: {Status.DEPARTED},
        Status.DEPARTED: set(),
    }

    vessel = models.ForeignKey(Vessel, on_delete=models.PROTECT, related_name="port_calls")
    port = models.ForeignKey(Port, on_delete=models.PROTECT, related_name="port_calls")
    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="port_calls")
    berth = models.ForeignKey(
        Berth, on_delete=models.PROTECT, null=True, blank=True, related_name="port_calls"
    )
    voyage = models.CharField(_("voyage"), max_length=20)
    eta = models.DateTimeField(_("ETA"))
    etd = models.DateTimeField(_("ETD"), null=True, blank=True)
    ata = models.DateTimeField(_("ATA"), null=True, blank=True)
    atd = models.DateTimeField(_("ATD"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.EXPECTED
    )
    # The shipping agent that announced the call and files for the vessel.
    agent = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agent_port_calls",
        verbose_name=_("shipping agent"),
    )

    class Meta:
        ordering = ["-eta"]
        constraints = [
            models.UniqueConstraint(fields=["vessel", "port", "voyage"], name="port_call_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["expected", "berthed", "departed"]),
                name="port_call_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vessel.name} {self.voyage}"


class TimelineEvent(models.Model):
    """One business event, append-only: never updated, never deleted.

    A database trigger (migration 0002) refuses UPDATE and DELETE, so the record holds
    even against code that bypasses the model.
    """

    class Kind(models.TextChoices):
        DECLARATION_FILED = "declaration.filed", _("Declaration filed")
        DECLARATION_STATUS_CHANGED = "declaration.status_changed", _("Declaration status changed")
        DECLARATION_UPDATED = "declaration.updated", _("Declaration draft edited")
        DECLARATION_GUARANTEE_DRAWN = "declaration.guarantee_drawn", _("Guarantee drawn")
        DECLARATION_GUARANTEE_RESTORED = (
            "declaration.guarantee_restored",
            _("Guarantee restored"),
        )
        DECLARATION_STEP2_REMINDER = "declaration.step2_reminder", _("Step 2 reminder")
        DECLARATION_STEP2_OVERDUE = "declaration.step2_overdue", _("Step 2 overdue")
        CONTAINER_DECIDED = "inspection.container_decided", _("Container decided")
        CERTIFICATE_APPLIED = "certificate.applied", _("Certificate applied for")
        CERTIFICATE_STATUS_CHANGED = (
            "certificate.status_changed",
            _("Certificate status changed"),
        )
        CERTIFICATE_MAILING_CHANGED = (
            "certificate.mailing_changed",
            _("Certificate mailing changed"),
        )
        DECISION_OVERRIDDEN = "inspection.decision_overridden", _("Decision overridden")
        DECISION_REASSESSED = "inspection.decision_reassessed", _("Decision re-assessed")
        PORT_CALL_REASSESSMENT_REQUESTED = (
            "inspection.port_call_reassessment_requested",
            _("Vessel call re-assessment requested"),
        )
        INSPECTION_QUEUED = "inspection.queued", _("Inspection ticket issued")
        INSPECTION_STATUS_CHANGED = "inspection.status_changed", _("Inspection status changed")
        INSPECTION_RECORDED = "inspection.recorded", _("Inspection result recorded")
        EXPERT_CONSULTED = "inspection.expert_consulted", _("Expert consulted")
        ATTENDANCE_REQUESTED = (
            "inspection.attendance_requested",
            _("Asked not to attend the inspection"),
        )
        ATTENDANCE_DECIDED = (
            "inspection.attendance_decided",
            _("Request not to attend decided"),
        )
        INSPECTION_BOOKED = "inspection.booked", _("Inspection time booked")
        ACCESS_HELD = "inspection.access_held", _("Held at the access stage")
        ACCESS_DECIDED = "inspection.access_decided", _("Access stage decided")
        GATE_PASSED = "gate.passed", _("Gate passed")
        GATE_REFUSED = "gate.refused", _("Gate refused")
        CONTAINER_DISCHARGED = "terminal.container_discharged", _("Container discharged")
        PORT_CALL_STATUS_CHANGED = (
            "shipping.port_call_status_changed",
            _("Port call status changed"),
        )
        FILING_SUBMITTED = "shipping.filing_submitted", _("Vessel filing submitted")
        FILING_REVIEW_DECIDED = "shipping.review_decided", _("Agency review decided")
        FILING_STATUS_CHANGED = "shipping.filing_status_changed", _("Vessel filing status changed")
        MANIFEST_CHANGED = "shipping.manifest_changed", _("Manifest changed")
        DG_CHECKED = "shipping.dg_checked", _("Dangerous goods cross-checked")
        DG_FLAG_RESOLVED = "shipping.dg_flag_resolved", _("Dangerous-goods flag resolved")
        BOARDING_CHANGED = "shipping.boarding_changed", _("Boarding appointment changed")
        ALARM_RAISED = "alarm.raised", _("Alarm raised")
        ALARM_ACKNOWLEDGED = "alarm.acknowledged", _("Alarm acknowledged")
        ALARM_ASSIGNED = "alarm.assigned", _("Alarm assigned")
        ALARM_ANNOTATED = "alarm.annotated", _("Alarm annotated")
        ALARM_CLOSED = "alarm.closed", _("Alarm closed")
        ALARM_HANDED_OVER = "alarm.handed_over", _("Alarm handed over to another office")
        ALARM_ESCALATED = "alarm.escalated", _("Alarm escalated")
        ZONE_MOVEMENT_FILED = "zone.movement_filed", _("Zone movement filed")
        ZONE_GATE_RELEASED = "zone.gate_released", _("Zone gate: truck released")
        ZONE_GATE_STOPPED = "zone.gate_stopped", _("Zone gate: truck stopped")
        ZONE_MOVEMENT_AMENDED = "zone.movement_amended", _("Zone movement amended")
        ZONE_MOVEMENT_CANCELLED = "zone.movement_cancelled", _("Zone movement cancelled")
        ZONE_PASS_EXPIRED = "zone.pass_expired", _("Zone gate pass expired")
        TRANSIT_OPENED = "zone.transit_opened", _("Transit under e-seal opened")
        TRANSIT_WRITTEN_OFF = "zone.transit_written_off", _("Transit written off")
        TRANSIT_SEAL_MISMATCH = "zone.transit_seal_mismatch", _("Transit seal mismatch")
        BILL_ISSUED = "bill.issued", _("Tax bill issued")
        BILL_PAID = "bill.paid", _("Tax bill paid")
        BILL_OVERDUE = "bill.overdue", _("Tax bill overdue")
        ECOMMERCE_LISTS_DECIDED = "ecommerce.lists_decided", _("E-commerce lists decided")
        ECOMMERCE_LIST_STATUS_CHANGED = (
            "ecommerce.list_status_changed",
            _("E-commerce list status changed"),
        )
        ECOMMERCE_POSITIVE_LIST_CHANGED = (
            "ecommerce.positive_list_changed",
            _("E-commerce positive list changed"),
        )
        ECOMMERCE_MONTH_SUMMARISED = (
            "ecommerce.month_summarised",
            _("E-commerce export lists summarised"),
        )

    # From Kind, checked by timeline_record; not DB choices, so that an app adding a kind
    # needs no migration of this table.
    kind = models.CharField(max_length=48)
    # No database foreign keys on the timeline (PROTECT still holds in the ORM): an
    # append-only log written tens of thousands of rows at a time (a vessel's decisions),
    # where each key checked per row at commit cost a fifth of the vessel assessment.
    actor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    # The organisation whose consignment this is; scopes who may read the event.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    subject_type = models.CharField(max_length=48)
    subject_id = models.BigIntegerField()
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # A consignment's timeline: WHERE subject_type = ? AND subject_id = ? ORDER BY created_at
            models.Index(
                fields=["subject_type", "subject_id", "created_at"], name="timeline_subject"
            ),
            # Dashboards and rollups: WHERE kind = ? AND created_at >= ?
            models.Index(fields=["kind", "created_at"], name="timeline_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}#{self.subject_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Timeline events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Timeline events are append-only")

    @property
    def kind_label(self) -> str:
        return self.Kind(self.kind).label if self.kind in self.Kind.values else self.kind


class IdempotencyRecord(models.Model):
    """The first response to an API create sent with an Idempotency-Key, for replay."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    # A hash of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_record_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class OutboxMessage(models.Model):
    """A task to queue, written in the transaction of the change that asks for it, so the
    work is queued exactly when the change commits, whether or not the broker is up then.
    `port.outbox` writes and relays these rows; the relay marks each one sent."""

    task_name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            # The relay's scan: unsent rows in order; stays as small as the backlog.
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_unsent"),
            # The purge of sent rows past their retention.
            models.Index(
                fields=["sent_at"], condition=Q(sent_at__isnull=False), name="outbox_sent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk}"
