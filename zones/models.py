"""The bonded zone (综保区): its enterprises' stock accounts, the one document that moves goods
in and out (goods movement + gate pass + stock change), the automated gate, and transits
under electronic seal to the port."""

from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from port.models import TimeStampedModel


class Zone(models.Model):
    code = models.CharField(_("code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_local = models.CharField(_("name in Chinese"), max_length=100, blank=True)
    port = models.ForeignKey("port.Port", on_delete=models.PROTECT, related_name="+")
    # The office that supervises the zone: its officers run the gate and work its alarms.
    customs_office = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The Chinese name to a reader in Chinese, when there is one."""
        chinese = translation.get_language() == "zh-hans" and self.name_local
        return self.name_local if chinese else self.name


class ZoneEnterprise(models.Model):
    """An enterprise registered in a zone: it holds a stock account there."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="enterprises")
    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["zone", "organisation"], name="zone_enterprise_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organisation} @ {self.zone}"


class ZoneGate(models.Model):
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="gates")
    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=100)
    name_local = models.CharField(_("name in Chinese"), max_length=100, blank=True)
    lanes = models.PositiveSmallIntegerField(_("lanes"), default=4)
    # A weighed truck further than this from the pass's declared weight is stopped.
    weight_tolerance_pct = models.DecimalField(
        _("weight tolerance (%)"), max_digits=4, decimal_places=1, default=10
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "code"], name="zone_gate_code_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The Chinese name to a reader in Chinese, when there is one."""
        chinese = translation.get_language() == "zh-hans" and self.name_local
        return self.name_local if chinese else self.name


class StockItem(TimeStampedModel):
    """One line of an enterprise's account (料号): what the system holds it has in the zone."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    item_no = models.CharField(_("item number"), max_length=30)
    hs_code = models.CharField(_("commodity code"), max_length=10)
    description = models.CharField(_("description"), max_length=200)
    unit = models.CharField(_("unit"), max_length=10)
    quantity = models.DecimalField(_("quantity"), max_digits=16, decimal_places=3, default=0)
    value = models.DecimalField(_("value (CNY)"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        ordering = ["item_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["zone", "organisation", "item_no"], name="stock_item_unique"
            ),
            # The last line of defence: no statement may leave a negative stock.
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="stock_quantity_not_negative"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="stock_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.item_no} {self.quantity} {self.unit}"


class Movement(TimeStampedModel):
    """The one document (3 forms in 1): the goods movement list (核注清单), its gate pass
    (核放单, a GatePass row) and the stock change (StockEntry rows)."""

    class Kind(models.TextChoices):
        DOMESTIC_IN = "domestic_in", _("Entry from the domestic market")
        DOMESTIC_OUT = "domestic_out", _("Exit to the domestic market")
        PORT_IN = "port_in", _("Entry from the port")
        PORT_OUT = "port_out", _("Exit to the port")
        TRANSFER = "transfer", _("Transfer to another zone enterprise")
        # Cross-border e-commerce bonded imports (1210): parcels released to buyers, and
        # parcels returned by buyers or sent back by customs (`zones.services.retail`).
        RETAIL_OUT = "retail_out", _("Exit of 1210 retail parcels")
        RETAIL_RETURN = "retail_return", _("1210 retail parcels back in stock")

    ENTRIES = (Kind.DOMESTIC_IN, Kind.PORT_IN)
    EXITS = (Kind.DOMESTIC_OUT, Kind.PORT_OUT)
    # Goods taken from the filer's account at filing (given back if cancelled or lapsed).
    TAKEN_AT_FILING = (Kind.DOMESTIC_OUT, Kind.PORT_OUT, Kind.TRANSFER)

    class Status(models.TextChoices):
        AT_GATE = "at_gate", _("Awaiting the gate")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Pass expired")

    # Amending keeps a movement at the gate; cancelling or expiry returns an exit's goods.
    TRANSITIONS = {
        Status.AT_GATE: {Status.COMPLETED, Status.CANCELLED, Status.EXPIRED},
        Status.COMPLETED: set(),
        Status.CANCELLED: set(),
        Status.EXPIRED: set(),
    }

    class Source(models.TextChoices):
        BROWSER = "browser", _("Browser")
        API = "api", _("API")
        UPLOAD = "upload", _("ERP file")
        LISTS = "lists", _("E-commerce lists")

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("number"), max_length=30, blank=True)
    kind = models.CharField(_("kind"), max_length=14, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    # A transfer's receiving zone enterprise: credited at filing, or, for a transfer carried
    # by truck, when the truck passes the gate.
    counterparty = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The customs declaration an exit to the domestic market (with its duty) or a movement
    # to or from the port goes with.
    declaration_number = models.CharField(_("declaration number"), max_length=18, blank=True)
    # An exit to the domestic market: the sum of its lines' duty at the tariff in force
    # (the declared figure when a line's code has no tariff line).
    duty_amount = models.DecimalField(_("duty (CNY)"), max_digits=14, decimal_places=2, default=0)
    duty_declared = models.DecimalField(
        _("duty declared (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    # The import taxes of an exit to the domestic market (lines with a tariff line), and
    # what the document owes in all: duty + consumption tax + VAT.
    consumption_tax_amount = models.DecimalField(
        _("consumption tax (CNY)"), max_digits=14, decimal_places=2, default=0
    )
    vat_amount = models.DecimalField(_("VAT (CNY)"), max_digits=14, decimal_places=2, default=0)
    tax_total = models.DecimalField(
        _("duty and taxes (CNY)"), max_digits=14, decimal_places=2, default=0
    )
    amended_count = models.PositiveSmallIntegerField(_("amendments"), default=0)
    # Null for the movements written by a decision, not a person (1210 retail parcels).
    created_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["at_gate", "completed", "cancelled", "expired"]),
                name="movement_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "created_at"], name="movement_org_time")]

    def __str__(self) -> str:
        return self.number or f"movement {self.pk}"


class MovementLine(models.Model):
    movement = models.ForeignKey(Movement, on_delete=models.CASCADE, related_name="lines")
    item_no = models.CharField(_("item number"), max_length=30)
    hs_code = models.CharField(_("commodity code"), max_length=10)
    description = models.CharField(_("description"), max_length=200)
    unit = models.CharField(_("unit"), max_length=10)
    quantity = models.DecimalField(_("quantity"), max_digits=16, decimal_places=3)
    value = models.DecimalField(_("value (CNY)"), max_digits=16, decimal_places=2)
    # Dangerous goods: the UN number (hazardous chemicals are flagged at the gate).
    un_number = models.CharField(_("UN number"), max_length=4, blank=True)
    # A chemical's CAS registry number, when the enterprise gives it: a listed hazardous
    # chemical is flagged at the gate, as one whose commodity code is a listed chemical's.
    cas_number = models.CharField(_("CAS number"), max_length=12, blank=True)
    # A certificate of origin: its preferential rate applies to an exit to the domestic
    # market when it is issued and valid.
    certificate_number = models.CharField(_("certificate of origin"), max_length=12, blank=True)
    # An exit to the domestic market: the duty rate (MFN of the tariff line in force, or the
    # certificate's preferential rate), the duty, consumption tax and VAT at the rates in
    # force; null when the tariff has no line for the code.
    duty_rate = models.DecimalField(
        _("duty rate"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    preferential = models.BooleanField(_("preferential rate"), default=False)
    duty = models.DecimalField(
        _("duty (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    consumption_rate = models.DecimalField(
        _("consumption tax rate"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    consumption_tax = models.DecimalField(
        _("consumption tax (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    vat_rate = models.DecimalField(
        _("VAT rate"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    vat = models.DecimalField(
        _("VAT (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )

    def __str__(self) -> str:
        return f"{self.item_no} × {self.quantity}"


class StockEntry(models.Model):
    """The ledger: every change of a stock item, signed. The account is its sum."""

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="entries")
    movement = models.ForeignKey(Movement, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=16, decimal_places=3)
    value = models.DecimalField(max_digits=16, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.stock_item_id} {self.quantity:+}"


class GatePass(TimeStampedModel):
    """The gate pass (核放单): the truck, its container and seal, and what it weighs loaded.
    Used once, by the first gate read that matches it."""

    class Direction(models.TextChoices):
        IN = "in", _("Into the zone")
        OUT = "out", _("Out of the zone")
        # A transfer carried by truck through the gate to the receiving enterprise.
        INTERNAL = "int", _("To another zone enterprise")

    class Status(models.TextChoices):
        OPEN = "open", _("Not yet used")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    movement = models.OneToOneField(Movement, on_delete=models.CASCADE, related_name="gate_pass")
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    truck_plate = models.CharField(_("truck plate"), max_length=12)
    container_number = models.CharField(_("container"), max_length=11, blank=True)
    seal_number = models.CharField(_("seal"), max_length=20, blank=True)
    declared_weight_kg = models.DecimalField(
        _("declared gross weight (kg)"), max_digits=8, decimal_places=1
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default="open")
    used_at = models.DateTimeField(null=True, blank=True)
    # Unused by then, the pass lapses: its movement expires and an exit's goods return.
    expires_at = models.DateTimeField(_("valid until"), null=True, blank=True)
    # Hazardous chemicals among its lines, for the gate's warning: "UN1993 (3)".
    hazard = models.CharField(_("hazardous goods"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "used", "expired", "cancelled"]),
                name="gate_pass_status_valid",
            ),
        ]
        indexes = [
            # The gate's match: WHERE zone_id = ? AND truck_plate = ? AND status = 'open'
            models.Index(fields=["zone", "truck_plate", "status"], name="gate_pass_match"),
            # The sweep: WHERE status = 'open' AND expires_at < now()
            models.Index(
                fields=["expires_at"], condition=Q(status="open"), name="gate_pass_open_expiry"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.truck_plate} {self.direction} {self.status}"


class GatePassage(models.Model):
    """One camera read at a zone gate and Portwise's answer to it."""

    class Decision(models.TextChoices):
        RELEASE = "release", _("Release")
        STOP = "stop", _("Stop")

    class Reason(models.TextChoices):
        MATCHED = "matched", _("Matches its gate pass")
        NO_PASS = "no_pass", _("No open gate pass for this plate")
        PASS_USED = "pass_used", _("The gate pass was already used")
        PASS_EXPIRED = "pass_expired", _("The gate pass has expired")
        CONTAINER = "container", _("Container differs from the gate pass")
        SEAL = "seal", _("Seal differs from the gate pass")
        WEIGHT = "weight", _("Weight far from the declared weight")

    gate = models.ForeignKey(ZoneGate, on_delete=models.PROTECT, related_name="passages")
    lane = models.PositiveSmallIntegerField(_("lane"))
    read_id = models.CharField(max_length=64, blank=True)
    truck_plate = models.CharField(_("truck plate"), max_length=12)
    container_numbers = models.JSONField(_("containers"), default=list, blank=True)
    seal_number = models.CharField(_("seal"), max_length=20, blank=True)
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=8, decimal_places=1)
    read_at = models.DateTimeField(_("read at"))
    decision = models.CharField(_("answer"), max_length=8, choices=Decision.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    # Hazardous chemicals on the pass: the officer's warning, "UN1993 (3), UN1090 (3)".
    hazard = models.CharField(_("hazardous goods"), max_length=200, blank=True)
    gate_pass = models.ForeignKey(
        GatePass, on_delete=models.PROTECT, null=True, blank=True, related_name="passages"
    )
    # Portwise's part: from the read reaching the service to the answer, in milliseconds.
    answer_ms = models.FloatField(_("answer time (ms)"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["gate", "read_id"], condition=~Q(read_id=""), name="gate_read_id_unique"
            ),
            # A pass releases one truck: the database refuses a second release on it.
            models.UniqueConstraint(
                fields=["gate_pass"],
                condition=Q(decision="release"),
                name="gate_pass_released_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.truck_plate} {self.decision}"


class Transit(TimeStampedModel):
    """Export transit to the port under an electronic seal (出口转关 + 电子关锁)."""

    class Status(models.TextChoices):
        IN_TRANSIT = "in_transit", _("In transit")
        WRITTEN_OFF = "written_off", _("Written off")
        SEAL_ALARM = "seal_alarm", _("Seal alarm")

    TRANSITIONS = {
        Status.IN_TRANSIT: {Status.WRITTEN_OFF, Status.SEAL_ALARM},
        Status.WRITTEN_OFF: set(),
        Status.SEAL_ALARM: set(),
    }

    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    container_number = models.CharField(_("container"), max_length=11)
    seal_number = models.CharField(_("electronic seal"), max_length=20)
    truck_plate = models.CharField(_("truck plate"), max_length=12, blank=True)
    origin = models.CharField(_("from"), max_length=100)
    # Where it is going; blank: any terminal of the port.
    terminal = models.ForeignKey(
        "port.Terminal", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    declaration_number = models.CharField(_("declaration number"), max_length=18, blank=True)
    movement = models.OneToOneField(
        Movement, on_delete=models.PROTECT, null=True, blank=True, related_name="transit"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.IN_TRANSIT
    )
    arrived_at = models.DateTimeField(null=True, blank=True)
    seal_read = models.CharField(_("seal read at the port"), max_length=20, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One transit under way per container.
            models.UniqueConstraint(
                fields=["container_number"],
                condition=Q(status="in_transit"),
                name="transit_one_open_per_container",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.container_number} {self.seal_number} {self.status}"


class ZoneUpload(TimeStampedModel):
    """An ERP file of zone documents (CSV or XLSX), filed by a Celery task with progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    TRANSITIONS = {
        Status.QUEUED: {Status.PROCESSING, Status.FAILED},
        Status.PROCESSING: {Status.DONE, Status.FAILED},
        Status.DONE: set(),
        Status.FAILED: set(),
    }

    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(_("file"), max_length=200)
    # The uploader's language: the worker writes the report's messages in it.
    language = models.CharField(max_length=10, default="en")
    # Kept in the database, so that any worker can read it.
    content = models.BinaryField()
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    total_documents = models.PositiveIntegerField(default=0)
    # Documents handled so far: written in the same transaction as their filing, so a task
    # run again after a lost worker resumes here and files nothing twice.
    processed_documents = models.PositiveIntegerField(default=0)
    filed = models.JSONField(default=list)  # [{"document", "id", "number"}]
    errors = models.JSONField(default=list)  # [{"row", "document", "message"}]

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "processing", "done", "failed"]),
                name="zone_upload_status_valid",
            )
        ]

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("zones:upload_detail", args=[self.pk])

    @property
    def percent(self) -> int:
        if not self.total_documents:
            return 100 if self.status in (self.Status.DONE, self.Status.FAILED) else 0
        return min(100, self.processed_documents * 100 // self.total_documents)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
