from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The diversion plan and the terminal's feed live in a module of their own; imported here so
# that `inspection.models` still names every model of the app.
from inspection.diversion_models import Destination as Destination
from inspection.diversion_models import DiversionInstruction as DiversionInstruction
from inspection.diversion_models import WebhookDelivery as WebhookDelivery
from inspection.diversion_models import WebhookEndpoint as WebhookEndpoint
from port.models import TimeStampedModel


class Outcome(models.TextChoices):
    RELEASE = "release", _("Release")
    SCAN = "scan", _("Scan inspection")
    MANUAL = "manual", _("Manual inspection")
    QUARANTINE = "quarantine", _("Quarantine inspection")


class RiskRule(TimeStampedModel):
    """A targeting rule, edited by officers; it takes effect when a rule set is activated.

    Every criterion that is set must match (AND); a list criterion matches when any of its
    values does. A rule with a sampling rate below 1 selects only that share of what it
    matches, decided by a hash of the rule-set seed, the rule and the container, so the same
    input and seed always give the same selection.
    """

    name = models.CharField(_("name"), max_length=120)
    # What the filer's broker is told, in plain words, without the rule's internals.
    public_reason = models.CharField(_("reason shown to the filer"), max_length=200)
    hs_prefix = models.CharField(_("commodity code prefix"), max_length=10, blank=True)
    origin_countries = ArrayField(
        models.CharField(max_length=2), blank=True, default=list, verbose_name=_("origin countries")
    )
    credit_ratings = ArrayField(
        models.CharField(max_length=12), blank=True, default=list, verbose_name=_("credit ratings")
    )
    watched_enterprises = models.ManyToManyField(
        "port.Organisation", blank=True, related_name="+", verbose_name=_("watched enterprises")
    )
    watched_bl_numbers = ArrayField(
        models.CharField(max_length=35),
        blank=True,
        default=list,
        verbose_name=_("watched B/L numbers"),
    )
    value_per_kg_min = models.DecimalField(
        _("lowest plausible value per kg (CNY)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
    )
    value_per_kg_max = models.DecimalField(
        _("highest plausible value per kg (CNY)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
    )
    dangerous_goods = models.BooleanField(
        _("dangerous goods only"),
        default=False,
        help_text=_("Containers the manifest lists with a UN number or IMDG class."),
    )
    summary_declarations = models.BooleanField(
        _("summary declarations only"),
        default=False,
        help_text=_("Step 1 of a two-step declaration."),
    )
    action = models.CharField(_("action"), max_length=12, choices=Outcome.choices)
    sampling_rate = models.DecimalField(
        _("sampling rate"),
        max_digits=4,
        decimal_places=3,
        default=1,
        help_text=_("Share of matching containers selected: 1 selects all, 0.05 one in twenty."),
    )
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hs_prefix="") | Q(hs_prefix__regex=r"^[0-9]{2,10}$"),
                name="risk_rule_prefix_digits",
            ),
            models.CheckConstraint(
                condition=Q(sampling_rate__gt=0) & Q(sampling_rate__lte=1),
                name="risk_rule_sampling_rate_range",
            ),
            models.UniqueConstraint(fields=["name"], name="risk_rule_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class RuleSetVersion(models.Model):
    """An activated, immutable snapshot of the active rules that decisions point to."""

    number = models.PositiveIntegerField(unique=True)
    # [{"id", "name", "public_reason", "action", "priority", "sampling_rate", criteria...}]
    rules = models.JSONField()
    # The seed of random sampling: a decision can be replayed exactly.
    seed = models.CharField(max_length=32)
    # The sampling algorithm (inspection.engine.SAMPLING_*): versions activated before the
    # compiled engine keep SHA-256 (1), so that their decisions replay as they were made.
    sampling = models.PositiveSmallIntegerField(default=2, db_default=1)
    activated_at = models.DateTimeField(auto_now_add=True)
    activated_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"v{self.number}"


class Decision(TimeStampedModel):
    """What customs decided for one container of one declaration, and why."""

    # A vessel's assessment writes 14,000 decisions at once: each index and each foreign-key
    # check is paid per row (a deferred check about 15 µs at commit). So no index that
    # another one leads with (`decision_unique` leads with the declaration, `decision_queue`
    # with the area), and no database check on the rule-set version: versions are
    # immutable and never deleted (PROTECT keeps the ORM from it).
    declaration = models.ForeignKey(
        "declarations.Declaration",
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,
    )
    container = models.ForeignKey(
        "port.Container", on_delete=models.PROTECT, related_name="decisions"
    )
    rule_set_version = models.ForeignKey(
        RuleSetVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
        db_constraint=False,
        db_index=False,  # nothing looks decisions up by version; a vessel inserts 14,000
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
        db_index=False,
    )
    # An officer's override: the outcome the rules gave is kept beside the reason.
    overridden_outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    override_reason = models.CharField(_("override reason"), max_length=300, blank=True)
    # Not indexed: almost always empty, never looked up by officer (a vessel inserts 14,000).
    overridden_by = models.ForeignKey(
        "port.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # The seed the sampling was drawn with: the version's own, or, after a re-assessment
    # under a newer version, the seed of the first decision, so that a sampled rule both
    # versions hold picks the same containers again. Empty on rows older than the field:
    # their version's seed.
    sampling_seed = models.CharField(max_length=32, blank=True, db_default="")

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "container"], name="decision_unique"),
        ]
        indexes = [
            # The officers' selections: WHERE inspection_area_id IN (...) AND outcome <> 'release'
            models.Index(
                fields=["inspection_area", "outcome", "created_at"], name="decision_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.container_id}: {self.outcome}"

    @property
    def requires_inspection(self) -> bool:
        return self.outcome != Outcome.RELEASE

    @property
    def is_held(self) -> bool:
        """Selected and not yet released by its inspection (select_related "inspection")."""
        inspection = getattr(self, "inspection", None)
        return self.requires_inspection and (
            inspection is None or inspection.status != Inspection.Status.RELEASED
        )

    @property
    def is_overridden(self) -> bool:
        return self.overridden_by_id is not None or bool(self.overridden_outcome)


class Inspection(TimeStampedModel):
    """A selected container at the inspection area: a ticket with a call number, then the
    examination and its result. No appointment: reporting the container issues the ticket."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        CALLED = "called", _("Called")
        IN_PROGRESS = "in_progress", _("In progress")
        RELEASED = "released", _("Released")
        HELD = "held", _("Held")
        SEIZED = "seized", _("Seized")
        RETURNED = "returned", _("Returned")

    class Result(models.TextChoices):
        CONFORMING = "conforming", _("Conforming")
        NONCONFORMING = "nonconforming", _("Not conforming")

    class ImageVerdict(models.TextChoices):
        CLEAR = "clear", _("Clear")
        SUSPICIOUS = "suspicious", _("Suspicious")

    TRANSITIONS = {
        Status.QUEUED: {Status.CALLED},
        Status.CALLED: {Status.IN_PROGRESS, Status.QUEUED},
        Status.IN_PROGRESS: {Status.RELEASED, Status.HELD, Status.SEIZED, Status.RETURNED},
        Status.HELD: {Status.IN_PROGRESS},
        Status.RELEASED: set(),
        Status.SEIZED: set(),
        Status.RETURNED: set(),
    }
    FINISHED = {Status.RELEASED, Status.SEIZED, Status.RETURNED}

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="inspection")
    area = models.ForeignKey(
        "port.InspectionArea", on_delete=models.PROTECT, related_name="inspections"
    )
    queue_date = models.DateField()
    queue_number = models.PositiveIntegerField(_("call number"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    officer = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    called_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(_("result"), max_length=14, choices=Result.choices, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    scan_image = models.FileField(_("scan image"), upload_to="inspection/scans/%Y/%m/", blank=True)
    image_verdict = models.CharField(
        _("image review"), max_length=12, choices=ImageVerdict.choices, blank=True
    )

    class Meta:
        ordering = ["queue_date", "queue_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["area", "queue_date", "queue_number"], name="inspection_ticket_unique"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "queued",
                        "called",
                        "in_progress",
                        "released",
                        "held",
                        "seized",
                        "returned",
                    ]
                ),
                name="inspection_status_valid",
            ),
        ]
        indexes = [
            # Call next: WHERE area_id = ? AND status = 'queued' ORDER BY queue_date, queue_number
            models.Index(
                fields=["area", "status", "queue_date", "queue_number"], name="inspection_call_next"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.area.code}-{self.queue_number:03d}"

    @property
    def ticket(self) -> str:
        return f"{self.queue_number:03d}"

    @property
    def waiting_seconds(self) -> float | None:
        return (self.called_at - self.created_at).total_seconds() if self.called_at else None

    @property
    def inspecting_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class InspectionPhoto(models.Model):
    """A photo the officer took during the examination."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(_("photo"), upload_to="inspection/photos/%Y/%m/")
    taken_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.image.name


class ExpertConsultation(TimeStampedModel):
    """An officer asks a remote expert for an opinion on an inspection."""

    inspection = models.ForeignKey(
        Inspection, on_delete=models.CASCADE, related_name="consultations"
    )
    asked_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    question = models.TextField(_("question"))
    expert = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.inspection}: {self.question[:40]}"


class GateEvent(models.Model):
    """A container at a terminal gate; a gate-out of what customs has not released is refused."""

    class Direction(models.TextChoices):
        IN = "in", _("Gate-in")
        OUT = "out", _("Gate-out")

    container = models.ForeignKey(
        "port.Container", on_delete=models.PROTECT, related_name="gate_events"
    )
    terminal = models.ForeignKey(
        "port.Terminal", on_delete=models.PROTECT, related_name="gate_events"
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    truck_plate = models.CharField(_("truck plate"), max_length=16, blank=True)
    allowed = models.BooleanField(_("allowed"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    reported_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["terminal", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="gate_event_idempotency_key_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.container_id} {self.direction} {'ok' if self.allowed else 'refused'}"


class Alert(TimeStampedModel):
    """Something customs must look at: a refused gate-out, for one."""

    customs_office = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    container = models.ForeignKey("port.Container", on_delete=models.PROTECT, related_name="+")
    message = models.CharField(max_length=300)
    gate_event = models.OneToOneField(
        GateEvent, on_delete=models.PROTECT, null=True, related_name="alert"
    )
    acknowledged_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message


class AccessCheck(TimeStampedModel):
    """The access stage (两段准入) of a declaration whose goods involve quarantine or permits.

    Customs may release the declaration; the goods still stay in the port until the owner of
    this stage releases them too: quarantine officers (role `quarantine`) for quarantine,
    customs officers checking the licence for permits. The gate and the diversion read it.
    """

    class Kind(models.TextChoices):
        QUARANTINE = "quarantine", _("Quarantine")
        PERMITS = "permits", _("Permits")

    class Status(models.TextChoices):
        HELD = "held", _("Held at the access stage")
        RELEASED = "released", _("Released at the access stage")
        REFUSED = "refused", _("Refused at the access stage")

    TRANSITIONS = {
        Status.HELD: {Status.RELEASED, Status.REFUSED},
        # A refusal is reconsidered once the enterprise remedies it (treatment, a permit).
        Status.REFUSED: {Status.RELEASED},
        Status.RELEASED: set(),
    }

    declaration = models.ForeignKey(
        "declarations.Declaration", on_delete=models.PROTECT, related_name="access_checks"
    )
    kind = models.CharField(_("stage"), max_length=12, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.HELD
    )
    customs_office = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "kind"], name="access_check_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["held", "released", "refused"]),
                name="access_check_status_valid",
            ),
        ]
        indexes = [
            # The officers' list: WHERE customs_office_id = ? AND status = 'held' ORDER BY created_at
            models.Index(
                fields=["customs_office", "status", "created_at"], name="access_check_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.declaration_id} {self.kind}: {self.status}"


class AttendanceRequest(TimeStampedModel):
    """The enterprise asks not to attend (免于到场) the inspection of one ticket; an officer of
    the area's office decides. One request per ticket."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved: need not attend")
        REFUSED = "refused", _("Refused: attend the inspection")

    TRANSITIONS = {
        Status.REQUESTED: {Status.APPROVED, Status.REFUSED},
        Status.APPROVED: set(),
        Status.REFUSED: set(),
    }

    inspection = models.OneToOneField(
        Inspection, on_delete=models.CASCADE, related_name="attendance_request"
    )
    requested_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    decided_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("officer's note"), max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["requested", "approved", "refused"]),
                name="attendance_request_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.inspection_id}: {self.status}"


class InspectionBooking(TimeStampedModel):
    """A time the enterprise booked for the inspection of one ticket (预约查验), within the
    area's hours: a slot of `SLOT_MINUTES`, at most `SLOT_CAPACITY` tickets a slot and area.
    The officer confirms it or moves it to another slot; a booked ticket is called at its
    time ahead of the walk-in queue."""

    SLOT_MINUTES = 60
    SLOT_CAPACITY = 4

    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        CONFIRMED = "confirmed", _("Confirmed by customs")

    inspection = models.OneToOneField(Inspection, on_delete=models.CASCADE, related_name="booking")
    area = models.ForeignKey("port.InspectionArea", on_delete=models.PROTECT, related_name="+")
    slot_start = models.DateTimeField(_("booked for"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.BOOKED
    )
    booked_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["slot_start", "pk"]
        indexes = [models.Index(fields=["area", "slot_start"], name="booking_area_slot")]

    def __str__(self) -> str:
        return f"{self.inspection_id} at {self.slot_start:%Y-%m-%d %H:%M}"
