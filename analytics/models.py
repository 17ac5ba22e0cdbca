"""Rollups of the timeline: what the dashboards read instead of raw history.

The timeline (port.TimelineEvent) is the truth. `rollups.consume` folds new events into
these tables past a stored watermark; `rollups.rebuild` recomputes them from scratch.
"""

from django.db import models
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext_lazy as _

# Dimension ids are plain integers, 0 meaning "none", so that they can sit in a unique key
# (a NULL never conflicts) and the upsert can add to a count in one statement.
NONE = 0


class Watermark(models.Model):
    """How far a consumer has read the timeline; its row is the consumer's lock."""

    name = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_event_id}"


class DashboardVersion(models.Model):
    """The last timeline event folded into one dashboard's figures: the port's ("port") or
    an enterprise's (its organisation id), the groups `analytics.dashboard_updated` goes to.

    Written by the consumer in the transaction that folds the events; a cached dashboard
    answer is keyed by it (analytics/cache.py), so a new version is a new answer.
    """

    dashboard = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.dashboard} @ {self.last_event_id}"


class HourlyCount(models.Model):
    """How many events of a metric happened in one hour, per consignment owner and terminal.

    The metric is the event kind, and for events that carry one, the kind with its new
    status or outcome (`declaration.status_changed:released`), so a kind added by any app
    is counted from its first event on.
    """

    metric = models.CharField(max_length=80)
    hour = models.DateTimeField()
    organisation_id = models.BigIntegerField(default=NONE)
    terminal_id = models.BigIntegerField(default=NONE)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "hour", "organisation_id", "terminal_id"],
                name="hourly_count_key",
            )
        ]
        indexes = [
            # Tiles and the releases-per-hour chart: WHERE metric IN (...) AND hour >= ?
            models.Index(fields=["metric", "hour"], name="hourly_count_metric_hour"),
            # An enterprise's view: WHERE organisation_id = ? AND hour >= ?
            models.Index(fields=["organisation_id", "hour"], name="hourly_count_org_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.hour:%Y-%m-%d %H}h: {self.count}"


class ClearanceFact(models.Model):
    """One declaration's path through clearance: when it was filed, decided, released.

    Stage times are differences of these columns; the statistics take medians and 90th
    percentiles over them in PostgreSQL. Overall clearance runs from `cleared_from` to
    release: for an import, the vessel's arrival (its port call's ATA), for an export, or
    an import whose vessel has not arrived, the filing. Goods released before their vessel
    arrived (an advance filing) clear in no time: `cleared_from` is then the release.
    """

    declaration_id = models.BigIntegerField(unique=True)
    direction = models.CharField(max_length=6)
    enterprise_id = models.BigIntegerField()
    declarant_id = models.BigIntegerField()
    terminal_id = models.BigIntegerField(default=NONE)
    port_call_id = models.BigIntegerField(default=NONE)
    trade_mode = models.CharField(max_length=4, blank=True)
    # The goods line of the highest value stands for the declaration in trade views.
    hs_chapter = models.CharField(max_length=2, blank=True)
    origin_country = models.CharField(max_length=2, blank=True)
    value = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    containers = models.PositiveIntegerField(default=0)
    containers_selected = models.PositiveIntegerField(default=0)
    arrived_at = models.DateTimeField(null=True, blank=True)  # imports only
    filed_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    inspection_started_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # The access stage (两段准入): the last quarantine or permit check released, for goods
    # that have one; customs' release alone does not let them go.
    access_cleared_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)
    # LEAST skips a NULL in PostgreSQL: until release, the arrival or the filing.
    cleared_from = models.GeneratedField(
        expression=Least(
            Coalesce(models.Case(models.When(direction="import", then="arrived_at")), "filed_at"),
            "released_at",
        ),
        output_field=models.DateTimeField(),
        db_persist=True,
    )

    class Meta:
        indexes = [
            # Clearance statistics of a period: WHERE filed_at >= ? AND filed_at < ?
            models.Index(fields=["filed_at"], name="clearance_fact_filed"),
            # An enterprise's statistics: WHERE enterprise_id = ? AND filed_at >= ?
            models.Index(fields=["enterprise_id", "filed_at"], name="clearance_fact_enterprise"),
            # The vessel arrived: WHERE port_call_id = ? AND arrived_at IS NULL
            models.Index(
                fields=["port_call_id"],
                condition=models.Q(direction="import", arrived_at__isnull=True),
                name="clearance_fact_awaiting_call",
            ),
            # Waiting for inspection: WHERE outcome = 'inspection_required'
            #   AND released_at IS NULL AND decided_at >= ?
            models.Index(
                fields=["decided_at"],
                condition=models.Q(outcome="inspection_required", released_at__isnull=True),
                name="clearance_fact_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"declaration {self.declaration_id}"


class DailyClearance(models.Model):
    """Overall clearance (arrival or filing to release) of the declarations filed on one local day.

    One row per day and direction for the port, per terminal, per enterprise and per
    both (ALL marks the dimension summed over), so the clearance-per-day series reads a
    few rows per day instead of every fact of the weeks it shows. The consumer
    recomputes the days its batch touched.
    """

    ALL = -1

    day = models.DateField()
    direction = models.CharField(max_length=6)
    terminal_id = models.BigIntegerField()
    enterprise_id = models.BigIntegerField()
    declarations = models.PositiveIntegerField()
    median_h = models.FloatField(null=True)
    p90_h = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "direction", "terminal_id", "enterprise_id"],
                name="daily_clearance_key",
            )
        ]
        # The series: WHERE day >= ? AND day < ? AND terminal_id = ? AND enterprise_id = ?
        # is served by the unique key's index (day first).

    def __str__(self) -> str:
        return f"{self.day} {self.direction}"


class PeriodClearance(models.Model):
    """Clearance per stage of the declarations filed in one local day or ISO week.

    What the dashboard's clearance tables show, computed once by the consumer for the
    periods its batch touched (percentiles cannot be added up, so a week has its own rows):
    one row per period and direction for the port, per terminal, per enterprise and per
    both (ALL marks the dimension summed over). Each stage has its median, 90th percentile
    and count in hours, as `statistics.STAGES` defines them.
    """

    ALL = -1

    kind = models.CharField(max_length=4)  # day | week
    start = models.DateField()
    direction = models.CharField(max_length=6)
    terminal_id = models.BigIntegerField()
    enterprise_id = models.BigIntegerField()
    declarations = models.PositiveIntegerField()
    overall_median = models.FloatField(null=True)
    overall_p90 = models.FloatField(null=True)
    overall_count = models.PositiveIntegerField()
    filing_to_decision_median = models.FloatField(null=True)
    filing_to_decision_p90 = models.FloatField(null=True)
    filing_to_decision_count = models.PositiveIntegerField()
    decision_to_inspection_median = models.FloatField(null=True)
    decision_to_inspection_p90 = models.FloatField(null=True)
    decision_to_inspection_count = models.PositiveIntegerField()
    inspection_to_release_median = models.FloatField(null=True)
    inspection_to_release_p90 = models.FloatField(null=True)
    inspection_to_release_count = models.PositiveIntegerField()
    filing_to_access_median = models.FloatField(null=True)
    filing_to_access_p90 = models.FloatField(null=True)
    filing_to_access_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # The dashboard: WHERE kind = ? AND start IN (?, ?) AND terminal_id = ?
            #   AND enterprise_id = ? (the period and the one before)
            models.UniqueConstraint(
                fields=["kind", "start", "terminal_id", "enterprise_id", "direction"],
                name="period_clearance_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.start} {self.direction}"


class DailyTrade(models.Model):
    """Declarations, containers and value filed on one local day, per trade dimension.

    One row per day, dimension (trade mode, country of origin, HS chapter, enterprise),
    its value (`key`) and direction, for the port, per terminal, per enterprise and per both
    (ALL as in PeriodClearance). Counts and sums add up, so a week reads seven days.
    """

    ALL = -1

    day = models.DateField()
    dimension = models.CharField(max_length=12)
    key = models.CharField(max_length=20)
    direction = models.CharField(max_length=6)
    terminal_id = models.BigIntegerField()
    enterprise_id = models.BigIntegerField()
    declarations = models.PositiveIntegerField()
    containers = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "dimension", "key", "direction", "terminal_id", "enterprise_id"],
                name="daily_trade_key",
            )
        ]
        indexes = [
            # A period's breakdown: WHERE dimension = ? AND terminal_id = ?
            #   AND enterprise_id IN (...) AND day >= ? AND day < ?
            models.Index(
                fields=["dimension", "terminal_id", "enterprise_id", "day"],
                name="daily_trade_dimension_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.key}"
