"""Certificates of origin: the agreements they serve, applications, and courier mailing."""

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from port import identifiers
from port.models import TimeStampedModel


class Agreement(models.Model):
    """A preferential trade agreement, kept as data (rows come from migration 0002)."""

    code = models.CharField(_("code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=120)
    form_name = models.CharField(_("certificate form"), max_length=40)
    # The letter that begins every certificate number issued under this agreement.
    number_prefix = models.CharField(_("number prefix"), max_length=1, unique=True)
    parties = models.JSONField(_("parties (ISO 3166 alpha-2)"), default=list)
    origin_criteria = models.JSONField(_("accepted origin criteria"), default=list)
    rvc_threshold = models.DecimalField(
        _("regional value content threshold (%)"), max_digits=5, decimal_places=2
    )
    validity_months = models.PositiveSmallIntegerField(_("validity (months)"), default=12)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.form_name})"


class Certificate(TimeStampedModel):
    """An application for a certificate of origin and, once issued, the certificate itself."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        UNDER_REVIEW = "under_review", _("Under review")
        ISSUED = "issued", _("Issued")
        REJECTED = "rejected", _("Rejected")
        REVOKED = "revoked", _("Revoked")
        REPLACED = "replaced", _("Replaced")
        CORRECTION_REQUESTED = "correction_requested", _("Returned for correction")

    TRANSITIONS = {
        Status.SUBMITTED: {Status.ISSUED, Status.UNDER_REVIEW, Status.CORRECTION_REQUESTED},
        Status.UNDER_REVIEW: {Status.ISSUED, Status.REJECTED, Status.CORRECTION_REQUESTED},
        # The exporter corrects and resubmits; an application never corrected is rejected.
        Status.CORRECTION_REQUESTED: {Status.SUBMITTED, Status.REJECTED},
        Status.ISSUED: {Status.REVOKED, Status.REPLACED},
        Status.REJECTED: set(),
        Status.REVOKED: set(),
        Status.REPLACED: set(),
    }

    class Box(models.TextChoices):
        """The boxes of an application an officer may name when returning it for correction."""

        AGREEMENT = "agreement", _("Agreement")
        ISSUING_OFFICE = "issuing_office", _("Issuing office")
        IMPORTER_NAME = "importer_name", _("Importer / consignee")
        IMPORTER_ADDRESS = "importer_address", _("Importer address")
        IMPORTING_COUNTRY = "importing_country", _("Importing country")
        PRODUCER = "producer", _("Producer")
        VESSEL_NAME = "vessel_name", _("Vessel")
        DEPARTURE_DATE = "departure_date", _("Departure date")
        PORT_OF_LOADING = "port_of_loading", _("Port of loading")
        PORT_OF_DISCHARGE = "port_of_discharge", _("Port of discharge")
        INVOICE_NUMBER = "invoice_number", _("Invoice number")
        INVOICE_DATE = "invoice_date", _("Invoice date")
        ITEMS = "items", _("Goods")

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="+")
    exporter = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="certificates"
    )
    created_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")
    # The customs office (签证机构) that reviews, issues, revokes and mails this certificate:
    # one of the offices of the exporter's port, chosen by the exporter. Only its officers
    # see the certificate. Indexed by certificate_office below.
    issuing_office = models.ForeignKey(
        "port.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": "customs_office"},
        db_index=False,
        verbose_name=_("issuing office"),
    )
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.SUBMITTED
    )
    # Letter of the agreement, 2-digit year, 9-digit serial: E26000000001.
    number = models.CharField(_("certificate number"), max_length=12, unique=True, null=True)
    verification_code = models.CharField(_("verification code"), max_length=8, blank=True)
    importer_name = models.CharField(_("importer / consignee"), max_length=200)
    importer_address = models.CharField(_("importer address"), max_length=300, blank=True)
    importing_country = models.CharField(
        _("importing country"), max_length=2, validators=[identifiers.validate_country]
    )
    producer = models.CharField(_("producer"), max_length=200, blank=True)
    vessel_name = models.CharField(_("vessel"), max_length=100, blank=True)
    departure_date = models.DateField(_("departure date"), null=True, blank=True)
    port_of_loading = models.CharField(_("port of loading"), max_length=5, blank=True)
    port_of_discharge = models.CharField(_("port of discharge"), max_length=5, blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=40)
    invoice_date = models.DateField(_("invoice date"))
    third_party_invoicing = models.BooleanField(_("third-party invoicing"), default=False)
    back_to_back = models.BooleanField(_("back-to-back (movement certificate)"), default=False)
    retroactive = models.BooleanField(_("issued retroactively"), default=False)
    # The automated review: a list of {"check", "passed", "message"}, every reason kept.
    review = models.JSONField(default=list)
    decision_note = models.TextField(_("reason"), blank=True)
    # Values of Box the officer named when returning the application for correction.
    correction_fields = models.JSONField(_("boxes to correct"), default=list, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    idempotency_key = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["exporter", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="certificate_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "submitted",
                        "under_review",
                        "issued",
                        "rejected",
                        "revoked",
                        "replaced",
                        "correction_requested",
                    ]
                ),
                name="certificate_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(number__isnull=True) | ~Q(verification_code=""),
                name="certificate_number_has_code",
            ),
        ]
        indexes = [
            # The exporter's list: WHERE exporter_id = ? ORDER BY created_at DESC
            models.Index(fields=["exporter", "-created_at"], name="certificate_exporter"),
            # The officer's review queue: WHERE status = 'under_review' ORDER BY created_at
            models.Index(fields=["status", "created_at"], name="certificate_status"),
            # An office's certificates and its review queue: WHERE issuing_office_id IN (...)
            # [AND status = 'under_review'] ORDER BY created_at
            models.Index(
                fields=["issuing_office", "status", "created_at"], name="certificate_office"
            ),
        ]

    def __str__(self) -> str:
        return self.number or _("Application %(id)s") % {"id": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("certificates:detail", args=[self.pk])

    @property
    def is_issued(self) -> bool:
        return self.number is not None

    @property
    def correction_field_labels(self) -> list[str]:
        return [str(Certificate.Box(name).label) for name in self.correction_fields]


class CertificateItem(models.Model):
    class Criterion(models.TextChoices):
        WO = "WO", _("Wholly obtained")
        PE = "PE", _("Produced exclusively from originating materials")
        RVC = "RVC", _("Regional value content")
        CTC = "CTC", _("Change in tariff classification (chapter)")
        CTH = "CTH", _("Change in tariff heading")
        CTSH = "CTSH", _("Change in tariff subheading")
        PSR = "PSR", _("Product-specific rule")
        CR = "CR", _("Chemical reaction")
        ACU = "ACU", _("Accumulation")
        DMI = "DMI", _("De minimis")

    # Tariff-shift criteria and how many leading digits of the HS code must change.
    SHIFT_DIGITS = {Criterion.CTC: 2, Criterion.CTH: 4, Criterion.CTSH: 6}

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="items")
    line_number = models.PositiveSmallIntegerField(_("item"))
    hs_code = models.CharField(
        _("commodity code"), max_length=10, validators=[identifiers.validate_hs_code]
    )
    description = models.CharField(_("description"), max_length=250)
    marks = models.CharField(_("marks and numbers"), max_length=100, blank=True)
    packages = models.PositiveIntegerField(_("packages"))
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    fob_value = models.DecimalField(
        _("FOB value (USD)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    origin_criterion = models.CharField(
        _("origin criterion"), max_length=4, choices=Criterion.choices
    )
    rvc_percent = models.DecimalField(
        _("RVC (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    # Non-originating materials for a tariff-shift claim: [{"hs_code": "...", "description": ""}].
    non_originating_inputs = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["line_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["certificate", "line_number"], name="certificate_item_line_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="certificate_item_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_number}: {self.hs_code} {self.description}"


class Mailing(TimeStampedModel):
    """Courier self-mailing of the hand-signed paper certificate."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        IN_LOCKER = "in_locker", _("Signed, in the locker")
        COLLECTED = "collected", _("Collected by the courier")
        IN_TRANSIT = "in_transit", _("In transit")
        DELIVERED = "delivered", _("Delivered")

    TRANSITIONS = {
        Status.REQUESTED: {Status.IN_LOCKER},
        Status.IN_LOCKER: {Status.COLLECTED},
        Status.COLLECTED: {Status.IN_TRANSIT},
        Status.IN_TRANSIT: {Status.DELIVERED},
        Status.DELIVERED: set(),
    }

    certificate = models.OneToOneField(
        Certificate, on_delete=models.PROTECT, related_name="mailing"
    )
    recipient = models.CharField(_("recipient"), max_length=120)
    address = models.CharField(_("address"), max_length=300)
    phone = models.CharField(_("phone"), max_length=30)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED
    )
    locker = models.CharField(_("locker"), max_length=20, blank=True)
    pickup_code = models.CharField(_("pickup code"), max_length=6, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=40, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["requested", "in_locker", "collected", "in_transit", "delivered"]
                ),
                name="mailing_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.certificate}: {self.get_status_display()}"
