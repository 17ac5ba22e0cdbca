"""Cross-border e-commerce (跨境电商零售进出口): who takes part, the three documents
(order, payment record, waybill), the inventory lists (申报清单) matched against them, each
buyer's annual quota, the positive list, and the batches they all arrive in.

Rows here are written in bulk (COPY) by `ecommerce.intake` and decided in sets by
`ecommerce.decision`; nothing in this module runs per row.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from port.models import TimeStampedModel


class Participant(models.Model):
    """An organisation's role in e-commerce; one organisation may hold several (a platform
    that also sells, a logistics enterprise that also declares)."""

    class Role(models.TextChoices):
        PLATFORM = "platform", _("E-commerce platform")
        ENTERPRISE = "enterprise", _("E-commerce enterprise")
        PAYMENT = "payment", _("Payment enterprise")
        LOGISTICS = "logistics", _("Logistics enterprise")
        DECLARANT = "declarant", _("Declaring enterprise")
        SITE_OPERATOR = "site_operator", _("Supervision-site operator")

    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.CASCADE, related_name="ecommerce_roles"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # The code documents name the participant by (电商平台代码 and the like).
    code = models.CharField(_("code"), max_length=18)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "role"], name="ec_participant_unique"),
            models.UniqueConstraint(fields=["role", "code"], name="ec_participant_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.role})"


class Batch(models.Model):
    """One API request's worth of documents of one kind: the unit of intake, of the
    decision task and of the live message."""

    class Kind(models.TextChoices):
        ORDER = "order", _("Orders")
        PAYMENT = "payment", _("Payment records")
        WAYBILL = "waybill", _("Waybills")
        LIST = "list", _("Inventory lists")

    organisation = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=100, blank=True)
    submitted = models.PositiveIntegerField(default=0)
    filed = models.PositiveIntegerField(default=0)
    # The first response, replayed for a repeat of the same key.
    result = models.JSONField(default=dict)
    decided_at = models.DateTimeField(null=True, blank=True)
    # When a decider took it (`ecommerce.decision`): deciders in parallel each take batches
    # of their own; a claim older than a minute (its decider died) may be taken again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="ec_batch_idempotency",
            )
        ]
        indexes = [
            # The deciders' queue: WHERE decided_at IS NULL ORDER BY id
            models.Index(fields=["id"], condition=Q(decided_at__isnull=True), name="ec_batch_open")
        ]

    def __str__(self) -> str:
        return f"{self.kind} batch {self.pk}"


class Order(models.Model):
    """The platform's order (订单)."""

    platform = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    enterprise = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    order_no = models.CharField(max_length=60)
    # Keyed hashes (ecommerce.personal): matchable, never reversible. See docs/ecommerce.md.
    buyer_key = models.CharField(max_length=32)
    buyer_name_key = models.CharField(max_length=16)
    goods_cents = models.BigIntegerField()
    freight_cents = models.BigIntegerField()
    # A digest of the sorted goods lines (HS code, quantity, unit price).
    goods_digest = models.CharField(max_length=16)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "order_no"], name="ec_order_unique")
        ]

    def __str__(self) -> str:
        return self.order_no


class Payment(models.Model):
    """The payment enterprise's payment record (支付单) for one order."""

    payment_enterprise = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    platform = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    order_no = models.CharField(max_length=60)
    payment_no = models.CharField(max_length=60)
    buyer_key = models.CharField(max_length=32)
    buyer_name_key = models.CharField(max_length=16)
    amount_cents = models.BigIntegerField()
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "order_no"], name="ec_payment_unique")
        ]

    def __str__(self) -> str:
        return self.payment_no


class Waybill(models.Model):
    """The logistics enterprise's waybill (运单); its number is what the sorting line scans."""

    logistics = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    platform = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    waybill_no = models.CharField(max_length=40, unique=True)
    order_no = models.CharField(max_length=60)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.waybill_no


class TradeMode(models.TextChoices):
    DIRECT = "9610", _("9610 direct purchase")
    BONDED = "1210", _("1210 bonded import")
    B2B_EXPORT = "9710", _("9710 B2B direct export")
    WAREHOUSE_EXPORT = "9810", _("9810 export to overseas warehouse")


IMPORT_MODES = {TradeMode.DIRECT, TradeMode.BONDED}


class InventoryList(models.Model):
    """The declaring enterprise's inventory list (申报清单) for one parcel."""

    class Direction(models.TextChoices):
        IMPORT = "I", _("Import")
        EXPORT = "E", _("Export")

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for documents")
        REFUSED = "refused", _("Refused")
        RELEASED = "released", _("Released")
        SELECTED = "selected", _("Selected for inspection")
        HELD = "held", _("Held")
        SENT_BACK = "sent_back", _("Returned by customs")
        REFUNDED = "refunded", _("Returned by the buyer")

    # Changed only by ecommerce.decision (in sets) and ecommerce.services (officers, returns).
    TRANSITIONS = {
        Status.WAITING: {Status.REFUSED, Status.RELEASED, Status.SELECTED},
        Status.SELECTED: {Status.RELEASED, Status.HELD, Status.SENT_BACK},
        Status.HELD: {Status.RELEASED, Status.SENT_BACK},
        Status.RELEASED: {Status.REFUNDED},
        Status.REFUSED: set(),
        Status.SENT_BACK: set(),
        Status.REFUNDED: set(),
    }
    DECIDED = (Status.REFUSED, Status.RELEASED, Status.SELECTED, Status.HELD, Status.SENT_BACK)

    # No single-column index where a composite one below leads with the column (declarant,
    # platform, enterprise), nor a pattern index on waybill_no (only looked up by equality,
    # through its unique constraint): every list writes each index twice, on COPY and on
    # its decision (which changes indexed columns, so it is never a HOT update).
    declarant = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    platform = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    enterprise = models.ForeignKey(
        "port.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    logistics = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    list_no = models.CharField(max_length=40)
    order_no = models.CharField(max_length=60)
    waybill_no = models.CharField(max_length=40)
    trade_mode = models.CharField(max_length=4, choices=TradeMode.choices)
    direction = models.CharField(max_length=1, choices=Direction.choices)
    buyer_key = models.CharField(max_length=32)
    buyer_name_key = models.CharField(max_length=16)
    # What a person may see of the buyer: "张*", "1101**********123X".
    buyer_name_masked = models.CharField(max_length=40)
    buyer_id_masked = models.CharField(max_length=18)
    goods_cents = models.BigIntegerField()
    freight_cents = models.BigIntegerField()
    goods_digest = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    # Why a list was refused: a code and the field that differs ("payment.amount").
    reason = models.CharField(max_length=32, blank=True)
    reason_field = models.CharField(max_length=40, blank=True)
    vat_cents = models.BigIntegerField(default=0)
    consumption_cents = models.BigIntegerField(default=0)
    quota_cents = models.BigIntegerField(default=0)  # drawn from the buyer's annual quota
    quota_year = models.PositiveSmallIntegerField(null=True)
    # The tax drawn from the e-commerce enterprise's guarantee (declarations' account).
    guarantee_cents = models.BigIntegerField(default=0, db_default=0)
    rule_set_version = models.PositiveIntegerField(null=True)
    rules_hit = models.JSONField(default=list)
    # A 1210 (bonded) list: the zone enterprise whose account holds its goods; they leave
    # it when the list is released or selected (zones.services.retail_draw_set).
    zone_enterprise = models.ForeignKey(
        "zones.ZoneEnterprise",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # a partial index below: the 9610 lists (most) write no entry
    )
    # An export list (9610 E, 9710, 9810): the destination country (ISO 3166 alpha-2), and
    # for 9710 the B2B order number, for 9810 the overseas warehouse it goes to.
    destination = models.CharField(max_length=2, blank=True, default="", db_default="")
    export_reference = models.CharField(max_length=60, blank=True, default="", db_default="")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["declarant", "list_no"], name="ec_list_no_unique"),
            # A parcel has one list; the sorting line reads it by this index.
            models.UniqueConstraint(fields=["waybill_no"], name="ec_list_waybill_unique"),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "waiting",
                        "refused",
                        "released",
                        "selected",
                        "held",
                        "sent_back",
                        "refunded",
                    ]
                ),
                name="ec_list_status_valid",
            ),
        ]
        indexes = [
            # The enterprise's list page: WHERE declarant_id = ? ORDER BY id DESC
            models.Index(fields=["declarant", "-id"], name="ec_list_declarant"),
            models.Index(fields=["platform", "-id"], name="ec_list_platform"),
            # Matching a document batch: WHERE platform_id = ? AND order_no = ? (waiting lists)
            models.Index(
                fields=["platform", "order_no"],
                condition=Q(status="waiting"),
                name="ec_list_waiting_order",
            ),
            # The officers' queue: WHERE status IN ('selected', 'held')
            models.Index(
                fields=["status", "id"],
                condition=Q(status__in=["selected", "held"]),
                name="ec_list_queue",
            ),
            # The export list page, per side of the filer, newest first (queries.export_list_page):
            # only export lists have entries, so the imports (most lists) write none.
            *(
                models.Index(
                    fields=[side, "-id"],
                    condition=Q(direction="E"),
                    name=f"ec_list_export_{side}",
                )
                for side in ("declarant", "platform", "enterprise")
            ),
            # The monthly tax bill: WHERE enterprise_id = ? AND decided_at in the month
            models.Index(fields=["enterprise", "decided_at"], name="ec_list_enterprise_month"),
            # Deleting a zone enterprise (PROTECT): WHERE zone_enterprise_id = ?
            models.Index(
                fields=["zone_enterprise"],
                condition=Q(zone_enterprise__isnull=False),
                name="ec_list_zone_enterprise",
            ),
        ]

    def __str__(self) -> str:
        return self.list_no


class ListLine(models.Model):
    # Looked up by ec_line_unique, which leads with it.
    inventory_list = models.ForeignKey(
        InventoryList, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    line_no = models.PositiveSmallIntegerField()
    hs_code = models.CharField(max_length=10)
    name = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()
    unit_price_cents = models.BigIntegerField()
    # A 1210 list's line: the item number (料号) on the zone enterprise's account.
    item_no = models.CharField(max_length=30, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inventory_list", "line_no"], name="ec_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.inventory_list_id}/{self.line_no}"


def _import_modes() -> list[str]:
    return [TradeMode.DIRECT, TradeMode.BONDED]


class PositiveListEntry(models.Model):
    """Goods allowed for retail import (正面清单), with their statutory tax rates: data, not code.

    Officers add and retire entries on the rules page; a retired entry stays for the record,
    and the decision uses the entries in force (not retired)."""

    hs_prefix = models.CharField(_("commodity code prefix"), max_length=10)
    category = models.CharField(_("category"), max_length=40)
    vat_bp = models.PositiveIntegerField(_("VAT (basis points)"), default=1300)
    consumption_bp = models.PositiveIntegerField(_("consumption tax (basis points)"), default=0)
    trade_modes = ArrayField(
        models.CharField(max_length=4), verbose_name=_("trade modes"), default=_import_modes
    )
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["hs_prefix"]
        constraints = [
            models.UniqueConstraint(
                fields=["hs_prefix"],
                condition=Q(retired_at__isnull=True),
                name="ec_positive_prefix_in_force",
            )
        ]

    def __str__(self) -> str:
        return f"{self.hs_prefix} {self.category}"


class BuyerQuota(models.Model):
    """What a buyer has used of the annual limit; drawn only by `ecommerce.quota` (locked SQL)."""

    buyer_key = models.CharField(max_length=32)
    year = models.PositiveSmallIntegerField()
    used_cents = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["buyer_key", "year"], name="ec_quota_unique"),
            models.CheckConstraint(condition=Q(used_cents__gte=0), name="ec_quota_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.buyer_key[:6]}… {self.year}"


class WatchedBuyer(TimeStampedModel):
    """A buyer officers watch, by keyed hash of the ID number (the rules' buyer watch list)."""

    buyer_key = models.CharField(max_length=32, unique=True)
    buyer_id_masked = models.CharField(max_length=18)
    note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.buyer_id_masked


class ListRiskRule(TimeStampedModel):
    """An officers' risk rule for inventory lists. Every criterion set must hold (AND); it
    takes effect when the list rule set is activated (`ListRuleSet`), and is evaluated by the
    inspection app's compiled engine with the e-commerce criteria registered in
    `ecommerce.risk`."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    public_reason = models.CharField(_("reason shown to the filer"), max_length=200)
    action = models.CharField(_("action"), max_length=12, default="manual")
    sampling_rate = models.DecimalField(
        _("sampling rate"), max_digits=4, decimal_places=3, default=1
    )
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    hs_prefix = models.CharField(_("commodity code prefix"), max_length=10, blank=True)
    platforms = ArrayField(models.BigIntegerField(), blank=True, default=list)
    enterprises = ArrayField(models.BigIntegerField(), blank=True, default=list)
    watched_buyers = models.BooleanField(_("watched buyers only"), default=False)
    categories = ArrayField(models.CharField(max_length=40), blank=True, default=list)
    value_min_cents = models.BigIntegerField(
        _("lowest value selected (cents)"), null=True, blank=True
    )

    class Meta:
        ordering = ["priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sampling_rate__gt=0) & Q(sampling_rate__lte=1),
                name="ec_rule_sampling_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(action__in=["scan", "manual", "quarantine"]),
                name="ec_rule_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ListRuleSet(models.Model):
    """An activated, immutable snapshot of the active list rules: a list keeps the version
    it was decided under, and a decision replays the same."""

    version = models.PositiveIntegerField(unique=True)
    rules = models.JSONField()
    seed = models.CharField(max_length=32)
    activated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"e-commerce rules v{self.version}"


class MonthlySummary(models.Model):
    """A month's export lists of one e-commerce enterprise, trade mode and destination,
    declared in one summary declaration (清单核放、汇总申报; `ecommerce.summaries`). The
    unique constraint is what makes a month summarised once."""

    enterprise = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("month"))  # its first day
    trade_mode = models.CharField(_("trade mode"), max_length=4, choices=TradeMode.choices)
    destination = models.CharField(_("destination"), max_length=2)
    declaration = models.OneToOneField(
        "declarations.Declaration", on_delete=models.PROTECT, related_name="+"
    )
    lists = models.PositiveIntegerField(_("lists"))
    value_cents = models.BigIntegerField()
    # 9710: the B2B order numbers; 9810: the overseas warehouses (distinct, sorted).
    references = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    created_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "enterprise_id", "trade_mode", "destination"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "month", "trade_mode", "destination"],
                name="ec_summary_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.trade_mode} {self.destination}"


class SortingScan(models.Model):
    """One parcel scanned at the sorting line and the instruction given."""

    waybill_no = models.CharField(max_length=40)
    instruction = models.CharField(max_length=16)
    scanned_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.waybill_no} {self.instruction}"


class DecisionStat(models.Model):
    """One row per decided batch: what the board reads (never the lists themselves)."""

    decided_at = models.DateTimeField(db_index=True)
    lists = models.PositiveIntegerField()
    released = models.PositiveIntegerField()
    selected = models.PositiveIntegerField()
    refused = models.PositiveIntegerField()
    # Seconds from filing to decision, per list, as a fixed histogram (board p50/p99).
    latency_histogram = ArrayField(models.PositiveIntegerField())

    def __str__(self) -> str:
        return f"{self.decided_at:%H:%M:%S} {self.lists}"


class TaxMonth(TimeStampedModel):
    """An e-commerce enterprise's comprehensive tax for one month (`ecommerce.tax_months`):
    issued once the month's return window has closed (its lists can no longer be returned),
    due 45 days after the month's end, as tax on a retail import is paid between the 31st
    and the 45th day after release. Paying it gives back what its lists drew from the
    guarantee; an overdue month stops the enterprise drawing on the guarantee."""

    class Status(models.TextChoices):
        DUE = "due", pgettext_lazy("tax month status", "Due")
        PAID = "paid", pgettext_lazy("tax month status", "Paid")
        OVERDUE = "overdue", pgettext_lazy("tax month status", "Overdue")

    TRANSITIONS = {
        Status.DUE: {Status.PAID, Status.OVERDUE},
        Status.OVERDUE: {Status.PAID},
        Status.PAID: set(),
    }

    enterprise = models.ForeignKey("port.Organisation", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("month"))  # its first day
    lists = models.PositiveIntegerField(_("lists"))
    vat_cents = models.BigIntegerField(_("import VAT"))
    consumption_cents = models.BigIntegerField(_("consumption tax"))
    total_cents = models.BigIntegerField(_("total"))
    guarantee_cents = models.BigIntegerField(_("drawn from the guarantee"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default="due")
    issued_at = models.DateTimeField(_("issued"))
    due_at = models.DateTimeField(_("due"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    # A payment online through the bank adapter, or one an officer recorded.
    bank_reference = models.CharField(max_length=40, blank=True, default="")
    paid_by = models.ForeignKey(
        "port.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-month", "enterprise_id"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "month"], name="ec_tax_month_once"),
            models.CheckConstraint(
                condition=Q(total_cents=models.F("vat_cents") + models.F("consumption_cents")),
                name="ec_tax_month_total",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="ec_tax_month_due")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.enterprise_id}"
