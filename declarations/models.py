from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from port import identifiers
from port.models import TimeStampedModel


class Declaration(TimeStampedModel):
    class Direction(models.TextChoices):
        IMPORT = "import", _("Import")
        EXPORT = "export", _("Export")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        RELEASED = "released", _("Released")
        INSPECTION_REQUIRED = "inspection_required", _("Inspection required")

    TRANSITIONS = {
        Status.DRAFT: {Status.SUBMITTED},
        Status.SUBMITTED: {Status.RELEASED, Status.INSPECTION_REQUIRED},
        Status.RELEASED: set(),
        Status.INSPECTION_REQUIRED: {Status.RELEASED},
    }

    # 18 digits: customs office (4), year (4), import 1 / export 0 (1), serial (9).
    number = models.CharField(_("declaration number"), max_length=18, unique=True, null=True)
    direction = models.CharField(
        _("direction"), max_length=6, choices=Direction.choices, default=Direction.IMPORT
    )
    # The consignee (import) or consignor (export): whose goods these are.
    enterprise = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="declarations"
    )
    # Who filed: the enterprise itself or a customs broker it authorised.
    declarant = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="declarations_filed"
    )
    created_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    port_call = models.ForeignKey(
        "port.PortCall", on_delete=models.PROTECT, related_name="declarations"
    )
    bl_number = models.CharField(_("B/L number"), max_length=35)
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
            models.UniqueConstraint(
                fields=["declarant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="declaration_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "submitted", "released", "inspection_required"]),
                name="declaration_status_valid",
            ),
        ]
        indexes = [
            # The filer's list: WHERE enterprise_id = ? ORDER BY created_at DESC
            models.Index(fields=["enterprise", "-created_at"], name="declaration_enterprise"),
            # A broker's list: WHERE declarant_id = ? ORDER BY created_at DESC
            models.Index(fields=["declarant", "-created_at"], name="declaration_declarant"),
        ]

    def __str__(self) -> str:
        return self.number or _("Declaration %(id)s") % {"id": self.pk}

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("declarations:detail", args=[self.pk])

    @property
    def is_decided(self) -> bool:
        return self.status in {self.Status.RELEASED, self.Status.INSPECTION_REQUIRED}


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

    class Meta:
        ordering = ["line_number"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "line_number"], name="item_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="item_quantity_positive"),
            models.CheckConstraint(condition=Q(value__gte=0), name="item_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.line_number}: {self.hs_code} {self.description}"
