"""Vessel filings to five agencies, their reviews, the cargo manifest and dangerous-goods flags.

Vessels and port calls live in port.models (declarations name them too); this app owns
their lifecycle (shipping.services.port_call_mark_berthed / _departed).
"""

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from port.models import Organisation, TimeStampedModel

K = Organisation.Kind
# The agencies every arrival and departure filing goes to, at once (file once, reach everyone).
REVIEWING_KINDS = (
    K.CUSTOMS_OFFICE,
    K.MARITIME_SAFETY,
    K.BORDER_CONTROL,
    K.PORT_AUTHORITY,
    K.TERMINAL_OPERATOR,
)


class VesselFiling(TimeStampedModel):
    """An arrival or departure filing: FAL 1, FAL 5/6, FAL 7 and the health declaration."""

    class Direction(models.TextChoices):
        ARRIVAL = "arrival", _("Arrival")
        DEPARTURE = "departure", _("Departure")

    class Status(models.TextChoices):
        UNDER_REVIEW = "under_review", _("Under review")
        CORRECTION_REQUESTED = "correction_requested", _("Correction requested")
        CLEARED = "cleared", _("Cleared")
        REJECTED = "rejected", _("Rejected")

    TRANSITIONS = {
        Status.UNDER_REVIEW: {Status.CLEARED, Status.CORRECTION_REQUESTED, Status.REJECTED},
        Status.CORRECTION_REQUESTED: {Status.UNDER_REVIEW, Status.REJECTED},
        Status.CLEARED: set(),
        Status.REJECTED: set(),
    }

    port_call = models.ForeignKey("port.PortCall", on_delete=models.PROTECT, related_name="filings")
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    agent = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="vessel_filings"
    )
    created_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.UNDER_REVIEW
    )
    # Incremented on each resubmission after a correction request.
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    # FAL 1, the general declaration.
    master_name = models.CharField(_("master"), max_length=100)
    last_port = models.CharField(_("last port of call"), max_length=5, blank=True)
    next_port = models.CharField(_("next port of call"), max_length=5, blank=True)
    crew_count = models.PositiveSmallIntegerField(_("number of crew"))
    passenger_count = models.PositiveSmallIntegerField(_("number of passengers"), default=0)
    cargo_description = models.CharField(_("brief cargo description"), max_length=250, blank=True)
    remarks = models.TextField(_("remarks"), blank=True)
    # The Maritime Declaration of Health: {question: bool} for HEALTH_QUESTIONS, plus notes.
    health = models.JSONField(_("maritime declaration of health"), default=dict)
    idempotency_key = models.CharField(max_length=100, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="vessel_filing_idempotency_key_unique",
            ),
            # One live filing per call and direction; a rejected one may be filed again.
            models.UniqueConstraint(
                fields=["port_call", "direction"],
                condition=~Q(status="rejected"),
                name="vessel_filing_one_per_direction",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["under_review", "correction_requested", "cleared", "rejected"]
                ),
                name="vessel_filing_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["arrival", "departure"]),
                name="vessel_filing_direction_valid",
            ),
        ]
        indexes = [
            # The agent's list: WHERE agent_id = ? ORDER BY created_at DESC
            models.Index(fields=["agent", "-created_at"], name="vessel_filing_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.port_call_id}/{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("shipping:filing", args=[self.pk])


HEALTH_QUESTIONS = {
    "deaths": _("Has any person died on board otherwise than as a result of accident?"),
    "infectious_disease": _("Is there on board any case of disease suspected to be infectious?"),
    "ill_above_normal": _("Has the total number of ill passengers been greater than normal?"),
    "ill_now": _("Is there any ill person on board now?"),
    "medical_consulted": _("Was a medical practitioner consulted?"),
    "spreading_condition": _("Is there any condition on board that may spread disease?"),
    "sanitary_measure": _("Has any sanitary measure been applied on board?"),
    "stowaways": _("Have any stowaways been found on board?"),
    "sick_animal": _("Is there a sick animal or pet on board?"),
}


class FilingPerson(models.Model):
    """A line of the crew list (FAL 5) or the passenger list (FAL 6)."""

    class Role(models.TextChoices):
        CREW = "crew", _("Crew")
        PASSENGER = "passenger", _("Passenger")

    filing = models.ForeignKey(VesselFiling, on_delete=models.CASCADE, related_name="people")
    role = models.CharField(_("list"), max_length=10, choices=Role.choices)
    family_name = models.CharField(_("family name"), max_length=80)
    given_names = models.CharField(_("given names"), max_length=80)
    rank = models.CharField(_("rank or rating"), max_length=40, blank=True)
    nationality = models.CharField(_("nationality"), max_length=2)
    date_of_birth = models.DateField(_("date of birth"))
    document_number = models.CharField(_("identity document number"), max_length=20)

    class Meta:
        ordering = ["role", "id"]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_names}"

    @property
    def document_masked(self) -> str:
        """The document number as pages and the API show it: never whole."""
        return mask_document(self.document_number)


def mask_document(number: str) -> str:
    """A document number as people may see it: its last two characters."""
    number = number or ""
    return "•" * max(len(number) - 2, 2) + number[-2:] if len(number) > 2 else "•••"


class FilingDangerousGood(models.Model):
    """A line of the dangerous goods manifest (FAL 7)."""

    filing = models.ForeignKey(
        VesselFiling, on_delete=models.CASCADE, related_name="dangerous_goods"
    )
    container_number = models.CharField(_("container"), max_length=11)
    un_number = models.CharField(_("UN number"), max_length=4)
    imdg_class = models.CharField(_("IMDG class"), max_length=4)
    packing_group = models.CharField(_("packing group"), max_length=3, blank=True)
    proper_shipping_name = models.CharField(_("proper shipping name"), max_length=200)
    stowage_position = models.CharField(_("stowage position"), max_length=7, blank=True)
    gross_mass_kg = models.DecimalField(_("gross mass (kg)"), max_digits=10, decimal_places=1)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"UN{self.un_number} in {self.container_number}"


class AgencyReview(TimeStampedModel):
    """One agency's review of one filing; the five run in parallel."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        CORRECTION_REQUESTED = "correction_requested", _("Correction requested")
        REJECTED = "rejected", _("Rejected")

    TRANSITIONS = {
        Status.PENDING: {Status.APPROVED, Status.CORRECTION_REQUESTED, Status.REJECTED},
        # The agent resubmitted: the agency looks again.
        Status.CORRECTION_REQUESTED: {Status.PENDING},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
    }

    filing = models.ForeignKey(VesselFiling, on_delete=models.CASCADE, related_name="reviews")
    agency = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="vessel_reviews"
    )
    agency_kind = models.CharField(_("agency"), max_length=24, choices=Organisation.Kind.choices)
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.PENDING
    )
    comment = models.TextField(_("comment"), blank=True)
    decided_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agency_kind"]
        constraints = [
            models.UniqueConstraint(fields=["filing", "agency"], name="agency_review_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "correction_requested", "rejected"]),
                name="agency_review_status_valid",
            ),
        ]
        indexes = [
            # An agency's queue: WHERE agency_id = ? AND status = ? ORDER BY created_at
            models.Index(fields=["agency", "status", "created_at"], name="agency_review_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.agency} on {self.filing_id}: {self.status}"


class ManifestEntry(TimeStampedModel):
    """One container of one bill of lading on a call's cargo manifest."""

    class Source(models.TextChoices):
        BROWSER = "browser", _("Entered in the browser")
        API = "api", _("API")
        EDIFACT = "edifact", _("UN/EDIFACT import")

    port_call = models.ForeignKey(
        "port.PortCall", on_delete=models.PROTECT, related_name="manifest_entries"
    )
    # The company whose manifest this line comes from (lines from several are merged).
    submitted_by = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="manifest_entries"
    )
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    bl_number = models.CharField(_("B/L number"), max_length=35)
    container_number = models.CharField(_("container"), max_length=11)
    size_type = models.CharField(_("size-type code"), max_length=4, blank=True)
    seal_number = models.CharField(_("seal"), max_length=20, blank=True)
    gross_weight_kg = models.DecimalField(
        _("gross weight (kg)"), max_digits=10, decimal_places=1, null=True, blank=True
    )
    description = models.CharField(_("goods description"), max_length=250, blank=True)
    hs_code = models.CharField(_("commodity code"), max_length=10, blank=True)
    un_number = models.CharField(_("UN number"), max_length=4, blank=True)
    imdg_class = models.CharField(_("IMDG class"), max_length=4, blank=True)
    packing_group = models.CharField(_("packing group"), max_length=3, blank=True)
    stowage_position = models.CharField(_("stowage position"), max_length=7, blank=True)

    class Meta:
        ordering = ["bl_number", "container_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["port_call", "submitted_by", "bl_number", "container_number"],
                name="manifest_entry_unique",
            ),
        ]
        indexes = [
            # The cross-check: WHERE port_call_id = ? (merged by container)
            models.Index(fields=["port_call", "container_number"], name="manifest_call_container"),
        ]

    def __str__(self) -> str:
        return f"{self.bl_number} {self.container_number}"

    @property
    def is_dangerous(self) -> bool:
        return bool(self.un_number or self.imdg_class)


class ManifestConsignment(TimeStampedModel):
    """One bill of lading of a call's cargo report (CUSCAR, FAL 2): its parties and goods.

    Its containers are lines of the manifest (ManifestEntry) under the same B/L."""

    port_call = models.ForeignKey(
        "port.PortCall", on_delete=models.PROTECT, related_name="manifest_consignments"
    )
    submitted_by = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="manifest_consignments"
    )
    bl_number = models.CharField(_("B/L number"), max_length=35)
    shipper = models.CharField(_("shipper"), max_length=120, blank=True)
    consignee = models.CharField(_("consignee"), max_length=120, blank=True)
    notify_party = models.CharField(_("notify party"), max_length=120, blank=True)
    port_of_loading = models.CharField(_("port of loading"), max_length=5, blank=True)
    port_of_discharge = models.CharField(_("port of discharge"), max_length=5, blank=True)
    # [{"number", "packages", "package_kind", "description", "gross_weight_kg", "marks",
    #   "hs_code", "un_number", "imdg_class", "containers": [...]}]
    goods = models.JSONField(_("goods items"), default=list)
    containers = models.JSONField(_("containers"), default=list)

    class Meta:
        ordering = ["bl_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["port_call", "submitted_by", "bl_number"],
                name="manifest_consignment_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.bl_number


class EdifactImport(TimeStampedModel):
    """An uploaded UN/EDIFACT file, processed by Celery with progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    port_call = models.ForeignKey(
        "port.PortCall", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=200)
    content = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    summary = models.JSONField(default=dict)
    # Times the stuck-import sweeper queued it again
    # (shipping.edifact_imports.edifact_import_requeue_stuck).
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "processing", "done", "failed"]),
                name="edifact_import_status_valid",
            ),
        ]
        indexes = [
            # The stuck-import sweep: status in (queued, processing) and updated_at < cutoff.
            models.Index(
                fields=["updated_at"],
                condition=Q(status__in=["queued", "processing"]),
                name="edifact_import_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return self.file_name


class DangerousGoodsFlag(TimeStampedModel):
    """A disagreement the dangerous-goods cross-check found, in the maritime officers' queue."""

    class Kind(models.TextChoices):
        NOT_DECLARED_EVERYWHERE = "not_everywhere", _("Dangerous in one source, not another")
        CLASS_MISMATCH = "class_mismatch", _("Class does not match the UN number")
        UN_NUMBER_MISMATCH = "un_mismatch", _("Sources give different UN numbers")
        WEIGHT_MISMATCH = "weight_mismatch", _("Weights differ")
        NO_MARITIME_APPROVAL = "no_approval", _("No maritime approval")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    TRANSITIONS = {Status.OPEN: {Status.RESOLVED}, Status.RESOLVED: set()}

    port_call = models.ForeignKey("port.PortCall", on_delete=models.PROTECT, related_name="+")
    container_number = models.CharField(_("container"), max_length=11)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    message = models.CharField(_("finding"), max_length=300)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default="open")
    resolved_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "container_number", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "resolved"]), name="dg_flag_status_valid"
            ),
            # One open flag per finding, so re-running the check does not duplicate.
            models.UniqueConstraint(
                fields=["port_call", "container_number", "kind"],
                condition=Q(status="open"),
                name="dg_flag_open_unique",
            ),
        ]
        indexes = [
            # The maritime queue: WHERE status = 'open' ORDER BY created_at
            models.Index(fields=["status", "created_at"], name="dg_flag_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.container_number}: {self.get_kind_display()}"


class BoardingAppointment(TimeStampedModel):
    """An agency officer's boarding (登临) of a vessel during a call.

    The agency books it itself, or it is requested (by the call's shipping agent, or by an
    enterprise with goods on the call) and the agency confirms. Booking (created_at) → boarding (completed_at) → release (released_at: the
    agency lets the vessel go on after the boarding) are measured, by who booked.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        BOOKED = "booked", _("Booked")
        COMPLETED = "completed", _("Boarded")
        RELEASED = "released", _("Released")
        CANCELLED = "cancelled", _("Cancelled")

    TRANSITIONS = {
        Status.REQUESTED: {Status.BOOKED, Status.CANCELLED},
        Status.BOOKED: {Status.COMPLETED, Status.CANCELLED},
        Status.COMPLETED: {Status.RELEASED},
        Status.RELEASED: set(),
        Status.CANCELLED: set(),
    }

    port_call = models.ForeignKey(
        "port.PortCall", on_delete=models.PROTECT, related_name="boardings"
    )
    agency = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    booked_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    # The organisation that requested it (the call's shipping agent, or an enterprise with
    # goods on the call); empty when the agency booked it itself.
    requested_by = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    scheduled_at = models.DateTimeField(_("boarding time"))
    purpose = models.CharField(_("purpose"), max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    class Meta:
        ordering = ["scheduled_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["requested", "booked", "completed", "released", "cancelled"]
                ),
                name="boarding_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} boarding {self.port_call_id} at {self.scheduled_at:%Y-%m-%d %H:%M}"

    @property
    def booking_to_release_seconds(self) -> float | None:
        if self.released_at is None:
            return None
        return (self.released_at - self.created_at).total_seconds()
