from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from port import identifiers
from port.models import TimeStampedModel


class Declaration(TimeStampedModel):
    class Direction(models.TextChoices):
        IMPORT = "import", _("Import")
        EXPORT = "export", _("Export")

    class Kind(models.TextChoices):
        FULL = "full", _("Full declaration")
        # Step 1 of a two-step declaration (概要申报); step 2 is a FULL one naming it.
        SUMMARY = "summary", _("Summary declaration (step 1)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        AMENDED = "amended", _("Amended")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        RELEASED = "released", _("Released")
        INSPECTION_REQUIRED = "inspection_required", _("Inspection required")
        # A released summary whose full declaration (step 2) has been released.
        COMPLETED = "completed", _("Completed (step 2 released)")

    TRANSITIONS = {
        Status.DRAFT: {Status.SUBMITTED, Status.WITHDRAWN},
        Status.SUBMITTED: {
            Status.RELEASED,
            Status.INSPECTION_REQUIRED,
            Status.AMENDED,
            Status.WITHDRAWN,
        },
        Status.AMENDED: {
            Status.RELEASED,
            Status.INSPECTION_REQUIRED,
            Status.AMENDED,
            Status.WITHDRAWN,
        },
        # An inspection that finds nothing releases the goods (inspection app).
        Status.INSPECTION_REQUIRED: {Status.RELEASED, Status.AMENDED, Status.WITHDRAWN},
        Status.RELEASED: {Status.COMPLETED},
        Status.WITHDRAWN: set(),
        Status.COMPLETED: set(),
    }
    # Statuses in which a declaration still holds its containers (a second one may not).
    OPEN_STATUSES = (Status.SUBMITTED, Status.AMENDED, Status.INSPECTION_REQUIRED)
    # Statuses from which the filer may amend or withdraw (until release).
    AMENDABLE_STATUSES = (Status.SUBMITTED, Status.AMENDED, Status.INSPECTION_REQUIRED)

    class TradeMode(models.TextChoices):
        GENERAL = "0110", _("0110 General trade")
        PROCESSING_SUPPLIED = "0214", _("0214 Processing with supplied materials")
        PROCESSING_IMPORTED = "0615", _("0615 Processing with imported materials")
        BONDED_LOGISTICS = "1233", _("1233 Bonded warehouse goods")
        ECOMMERCE = "9610", _("9610 Cross-border e-commerce")
        ECOMMERCE_BONDED = "1210", _("1210 Bonded cross-border e-commerce")
        ECOMMERCE_B2B_EXPORT = "9710", _("9710 Cross-border e-commerce B2B direct export")
        ECOMMERCE_WAREHOUSE_EXPORT = (
            "9810",
            _("9810 Cross-border e-commerce export to overseas warehouse"),
        )

    class Incoterm(models.TextChoices):  # Incoterms 2020: all eleven rules
        EXW = "EXW", "EXW"
        FCA = "FCA", "FCA"
        CPT = "CPT", "CPT"
        CIP = "CIP", "CIP"
        DAP = "DAP", "DAP"
        DPU = "DPU", "DPU"
        DDP = "DDP", "DDP"
        FAS = "FAS", "FAS"
        FOB = "FOB", "FOB"
        CFR = "CFR", "CFR"
        CIF = "CIF", "CIF"

    # 18 digits: customs office (4), year (4), import 1 / export 0 (1), serial (9).
    # Unique by a constraint, not `unique=True`: that also builds a pattern-ops index for
    # LIKE 'prefix%', which nothing asks and every filing and status change would write.
    number = models.CharField(_("declaration number"), max_length=18, null=True)
    direction = models.CharField(
        _("direction"), max_length=6, choices=Direction.choices, default=Direction.IMPORT
    )
    # The consignee (import) or consignor (export): whose goods these are.
    # Not indexed alone: `declaration_enterprise` and `declaration_declarant` lead with them
    # (each index costs every filing and every status change of a vessel's 7,000 rows).
    enterprise = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="declarations", db_index=False
    )
    # Who filed: the enterprise itself or a customs broker it authorised.
    declarant = models.ForeignKey(
        "port.Organisation",
        on_delete=models.PROTECT,
        related_name="declarations_filed",
        db_index=False,
    )
    # Null for a monthly summary of e-commerce export lists filed by the beat task. Not
    # indexed: nothing lists declarations by the user who filed them (users are deactivated,
    # not deleted), and each index costs every filing and every status change.
    created_by = models.ForeignKey(
        "port.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Null for a monthly summary of e-commerce export lists (汇总申报): its parcels left one
    # by one, on many vessels, each cleared by its list (`list_summaries_file`).
    port_call = models.ForeignKey(
        "port.PortCall",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="declarations",
    )
    bl_number = models.CharField(_("B/L number"), max_length=35)
    kind = models.CharField(
        _("kind"), max_length=8, choices=Kind.choices, default=Kind.FULL, db_default="full"
    )
    # Step 2 names the released summary (step 1) it completes.
    summary = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="full_declarations",
        db_index=False,  # `declaration_summary`: only the few that name one
    )
    trade_mode = models.CharField(
        _("trade mode"),
        max_length=4,
        choices=TradeMode.choices,
        default=TradeMode.GENERAL,
        db_default="0110",
    )
    port_of_loading = models.CharField(
        _("port of loading"), max_length=5, blank=True, db_default=""
    )
    port_of_discharge = models.CharField(
        _("port of discharge"), max_length=5, blank=True, db_default=""
    )
    # Country of origin (import) or destination (export), ISO 3166 alpha-2.
    trading_country = models.CharField(
        _("trading country"), max_length=2, blank=True, db_default=""
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY", db_default="CNY")
    incoterm = models.CharField(
        _("incoterm"), max_length=3, choices=Incoterm.choices, blank=True, db_default=""
    )
    invoice_total = models.DecimalField(
        _("invoice total"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    packages = models.PositiveIntegerField(_("packages"), null=True, blank=True)
    gross_weight = models.DecimalField(
        _("gross weight (kg)"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    net_weight = models.DecimalField(
        _("net weight (kg)"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    # Advance declaration (提前申报): filed before the vessel arrives.
    is_advance = models.BooleanField(_("advance declaration"), default=False, db_default=False)
    # Direct pickup at ship side (imports) or direct loading on arrival (exports).
    direct_delivery = models.BooleanField(
        _("direct pickup / direct loading"), default=False, db_default=False
    )
    # Summary declarations: whether permits or quarantine are involved.
    permits_involved = models.BooleanField(_("permits involved"), default=False, db_default=False)
    quarantine_involved = models.BooleanField(
        _("quarantine involved"), default=False, db_default=False
    )
    # The guarantee a summary drew from its enterprise's quota (0 when certified, AEO).
    guarantee_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0, db_default=0)
    guarantee_restored = models.BooleanField(default=False, db_default=False)
    # A released summary's step 2 deadline, reminders sent and the overdue flag (beat).
    full_due_at = models.DateTimeField(_("step 2 due"), null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0, db_default=0)
    is_overdue = models.BooleanField(_("step 2 overdue"), default=False, db_default=False)
    containers = models.ManyToManyField(
        "port.Container", through="DeclarationContainer", related_name="declarations"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    idempotency_key = models.CharField(max_length=100, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="declaration_number_unique"),
            models.UniqueConstraint(
                fields=["declarant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="declaration_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "draft",
                        "submitted",
                        "amended",
                        "withdrawn",
                        "released",
                        "inspection_required",
                        "completed",
                    ]
                ),
                name="declaration_status_valid",
            ),
        ]
        indexes = [
            # The filer's list: WHERE enterprise_id = ? ORDER BY created_at DESC
            models.Index(fields=["enterprise", "-created_at"], name="declaration_enterprise"),
            # A broker's list: WHERE declarant_id = ? ORDER BY created_at DESC
            models.Index(fields=["declarant", "-created_at"], name="declaration_declarant"),
            # Step 2 declarations of a summary: WHERE summary_id = ANY(...)
            models.Index(
                fields=["summary"],
                condition=Q(summary__isnull=False),
                name="declaration_summary",
            ),
            # The step 2 sweep: WHERE kind = 'summary' AND status = 'released' (beat, each hour)
            models.Index(
                fields=["full_due_at"],
                condition=Q(kind="summary", status="released"),
                name="declaration_step2_due",
            ),
        ]

    def __str__(self) -> str:
        return self.number or _("Declaration %(id)s") % {"id": self.pk}

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("declarations:detail", args=[self.pk])

    @property
    def is_decided(self) -> bool:
        return self.status in {self.Status.RELEASED, self.Status.INSPECTION_REQUIRED}

    @property
    def is_summary(self) -> bool:
        return self.kind == self.Kind.SUMMARY

    @property
    def is_amendable(self) -> bool:
        return self.status in self.AMENDABLE_STATUSES

    @property
    def is_withdrawable(self) -> bool:
        return self.status == self.Status.DRAFT or self.status in self.AMENDABLE_STATUSES


class DeclarationContainer(models.Model):
    declaration = models.ForeignKey(Declaration, on_delete=models.CASCADE)
    container = models.ForeignKey("port.Container", on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["declaration", "container"], name="declaration_container_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.declaration_id}: {self.container_id}"


class DeclarationItem(models.Model):
    class Unit(models.TextChoices):
        KG = "kg", _("kilogram")
        PCS = "pcs", _("piece")
        SET = "set", _("set")
        L = "l", _("litre")
        M = "m", _("metre")
        M2 = "m2", _("square metre")
        PAIR = "pair", _("pair")

    declaration = models.ForeignKey(Declaration, on_delete=models.CASCADE, related_name="items")
    line_number = models.PositiveSmallIntegerField(_("line"))
    hs_code = models.CharField(
        _("commodity code"), max_length=10, validators=[identifiers.validate_hs_code]
    )
    description = models.CharField(_("description"), max_length=250)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=4, choices=Unit.choices, default=Unit.KG)
    value = models.DecimalField(_("value (CNY)"), max_digits=16, decimal_places=2)
    origin_country = models.CharField(
        _("country of origin"), max_length=2, validators=[identifiers.validate_country]
    )
    unit_price = models.DecimalField(
        _("unit price"), max_digits=16, decimal_places=4, null=True, blank=True
    )
    cas_number = models.CharField(_("CAS number"), max_length=12, blank=True, db_default="")
    certificate_number = models.CharField(
        _("certificate of origin"), max_length=12, blank=True, db_default=""
    )
    # The duty estimate shown to the filer: MFN, or preferential with a valid certificate.
    mfn_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    preferential_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    duty_estimate = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["line_number"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "line_number"], name="item_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="item_quantity_positive"),
            models.CheckConstraint(condition=Q(value__gte=0), name="item_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.line_number}: {self.hs_code} {self.description}"


class GuaranteeAccount(TimeStampedModel):
    """An enterprise's duty guarantee quota for two-step declarations.

    Step 1 draws on it, step 2's release restores it; `used` only ever changes by a
    conditional F() update, so concurrent filings cannot overdraw it (the check
    constraint is the last line of defence).
    """

    enterprise = models.OneToOneField(
        "port.Organisation", on_delete=models.PROTECT, related_name="guarantee_account"
    )
    quota = models.DecimalField(_("guarantee quota (CNY)"), max_digits=16, decimal_places=2)
    used = models.DecimalField(_("drawn (CNY)"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(used__gte=0) & Q(used__lte=models.F("quota")),
                name="guarantee_never_overdrawn",
            )
        ]

    def __str__(self) -> str:
        return f"{self.enterprise}: {self.used} / {self.quota}"

    @property
    def available(self):
        return self.quota - self.used


class ErpUpload(TimeStampedModel):
    """An ERP file (CSV or XLSX) of declarations, processed by a Celery task."""

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

    declarant = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(_("file"), max_length=200)
    # Kept in the database, so that any worker on any machine can read it.
    content = models.BinaryField()
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    total_declarations = models.PositiveIntegerField(default=0)
    processed_declarations = models.PositiveIntegerField(default=0)
    filed = models.JSONField(default=list)  # [{"reference", "id", "number"}]
    # Every bad row: [{"row", "reference", "field", "reason"}]
    errors = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "processing", "done", "failed"]),
                name="erp_upload_status_valid",
            )
        ]

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("declarations:upload_detail", args=[self.pk])

    @property
    def percent(self) -> int:
        if not self.total_declarations:
            return 100 if self.status == self.Status.DONE else 0
        return round(100 * self.processed_declarations / self.total_declarations)
