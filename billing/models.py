"""Duties and taxes: a bill per released import declaration, line by line, paid once.

Money is integer cents of the bill's currency (CNY), with the exchange rate of the day the
declared values were converted at; no sum ever mixes currencies.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from port.models import TimeStampedModel


class TaxBill(TimeStampedModel):
    class Status(models.TextChoices):
        UNPAID = "unpaid", _("Unpaid")
        PAID = "paid", _("Paid")
        OVERDUE = "overdue", _("Overdue")

    TRANSITIONS = {
        Status.UNPAID: {Status.PAID, Status.OVERDUE},
        Status.OVERDUE: {Status.PAID},
        Status.PAID: set(),
    }

    declaration = models.OneToOneField(
        "declarations.Declaration", on_delete=models.PROTECT, related_name="tax_bill"
    )
    enterprise = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("bill number"), max_length=20, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    exchange_rate = models.DecimalField(_("exchange rate to CNY"), max_digits=12, decimal_places=6)
    tariff_cents = models.BigIntegerField(_("customs duty"))
    consumption_cents = models.BigIntegerField(_("consumption tax"))
    vat_cents = models.BigIntegerField(_("import VAT"))
    # Inspection fees the enterprise pays (an inspection that found a problem), and those
    # the government bears (compliant goods); only the first is in the total.
    fees_cents = models.BigIntegerField(_("inspection fees"), default=0, db_default=0)
    fees_waived_cents = models.BigIntegerField(
        _("inspection fees borne by the government"), default=0, db_default=0
    )
    total_cents = models.BigIntegerField(_("total"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UNPAID)
    due_at = models.DateTimeField(_("due"))
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    total_cents=models.F("tariff_cents")
                    + models.F("consumption_cents")
                    + models.F("vat_cents")
                    + models.F("fees_cents")
                ),
                name="bill_total_is_its_parts_and_fees",
            ),
            models.CheckConstraint(condition=Q(total_cents__gte=0), name="bill_total_not_negative"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="bill_due")]

    def __str__(self) -> str:
        return self.number


class TaxBillLine(models.Model):
    bill = models.ForeignKey(TaxBill, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    hs_code = models.CharField(max_length=10)
    description = models.CharField(max_length=250)
    customs_value_cents = models.BigIntegerField()
    tariff_rate = models.DecimalField(max_digits=6, decimal_places=4)
    preferential = models.BooleanField(default=False)  # the rate of a certificate of origin
    tariff_cents = models.BigIntegerField()
    consumption_rate = models.DecimalField(max_digits=6, decimal_places=4)
    consumption_cents = models.BigIntegerField()
    vat_rate = models.DecimalField(max_digits=6, decimal_places=4)
    vat_cents = models.BigIntegerField()

    class Meta:
        ordering = ["line_number"]
        constraints = [
            models.UniqueConstraint(fields=["bill", "line_number"], name="bill_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.bill_id}:{self.line_number}"


class InspectionFee(models.Model):
    """The fee of one container's inspection: billed to the enterprise when the inspection
    found the goods not conforming, borne by the government when they conformed."""

    class BorneBy(models.TextChoices):
        GOVERNMENT = "government", _("Government (compliant goods)")
        ENTERPRISE = "enterprise", _("Enterprise (the inspection found a problem)")

    bill = models.ForeignKey(TaxBill, on_delete=models.CASCADE, related_name="fees")
    inspection_id = models.BigIntegerField(unique=True)  # inspection.Inspection, billed once
    container = models.CharField(max_length=11)
    outcome = models.CharField(max_length=12)  # scan, manual, quarantine
    result = models.CharField(max_length=14)  # conforming, nonconforming
    amount_cents = models.BigIntegerField()
    borne_by = models.CharField(max_length=10, choices=BorneBy.choices)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(borne_by__in=["government", "enterprise"]),
                name="inspection_fee_borne_by_valid",
            ),
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="inspection_fee_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.container} {self.outcome}: {self.borne_by}"


class Payment(TimeStampedModel):
    """How a bill was settled: one per bill (the bill is paid once, however many try)."""

    class Method(models.TextChoices):
        BANK = "bank", _("Online bank payment")
        GUARANTEE = "guarantee", _("Drawn on the duty guarantee")
        INSURANCE = "insurance", _("Customs duty guarantee insurance")

    bill = models.OneToOneField(TaxBill, on_delete=models.PROTECT, related_name="payment")
    method = models.CharField(max_length=10, choices=Method.choices)
    amount_cents = models.BigIntegerField()
    receipt_number = models.CharField(max_length=24, unique=True)
    bank_reference = models.CharField(max_length=40, blank=True)
    insurer = models.CharField(max_length=120, blank=True)
    policy_number = models.CharField(max_length=40, blank=True)
    paid_by = models.ForeignKey("port.User", on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return self.receipt_number
