"""Dated reference data: editions of code lists with the date each takes effect, and rates.

An edition is immutable once loaded (reloading the same name replaces its rows). The edition
in force on a date is the latest one of its dataset whose effective date is on or before it;
where no edition of a dataset has been loaded, the one shipped with the code applies
(reference/builtin.py).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Edition(models.Model):
    class Dataset(models.TextChoices):
        HS = "hs", _("HS nomenclature (6-digit subheadings)")
        TARIFF = "tariff", _("National tariff lines with MFN and preferential rates")
        UNLOCODE = "unlocode", _("UN/LOCODE")
        UN_NUMBERS = "un_numbers", _("UN numbers with class")
        CAS = "cas", _("CAS numbers to HS subheadings")

    dataset = models.CharField(max_length=16, choices=Dataset.choices)
    name = models.CharField(max_length=60)
    effective_from = models.DateField()
    source = models.CharField(max_length=300, blank=True)
    licence = models.CharField(max_length=120, blank=True)
    complete = models.BooleanField(
        default=True, help_text="False for a sample: codes missing from it are not refused."
    )
    rows = models.PositiveIntegerField(default=0)
    changes = models.JSONField(default=dict, help_text="What changed against the edition before.")
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="edition_dataset_name_unique"),
            models.UniqueConstraint(
                fields=["dataset", "effective_from"], name="edition_dataset_effective_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (from {self.effective_from})"


class Entry(models.Model):
    """One code of an edition; `data` holds the dataset's other columns (rates, class...)."""

    edition = models.ForeignKey(Edition, on_delete=models.CASCADE, related_name="entries")
    code = models.CharField(max_length=20)
    description = models.TextField(blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["edition", "code"], name="entry_edition_code_unique")
        ]

    def __str__(self) -> str:
        return self.code


class ExchangeRate(models.Model):
    """CNY per one unit of a currency on a day (a reference rate, e.g. ECB's cross rate)."""

    currency = models.CharField(max_length=3)
    day = models.DateField()
    cny_per_unit = models.DecimalField(max_digits=18, decimal_places=8)
    source = models.CharField(max_length=60, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["currency", "day"], name="rate_currency_day_unique")
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.currency} {self.day}: {self.cny_per_unit}"
