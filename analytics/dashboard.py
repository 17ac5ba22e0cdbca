"""The dashboard's tables, built from the rollups; the page, the API and CSV share them.

Each table has a key, a title, columns (key, label, kind) and rows, and the page draws a
chart from it. A figure another app brings (containers discharged, diversion split,
gate-outs) is one more entry in `TILES` once its timeline kind exists: the consumer counts
every kind without further code.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics import statistics
from analytics.queries import Scope
from declarations.models import Declaration
from inspection import diversion
from inspection import queries as inspection_queries
from port.models import Organisation, PortCall, Terminal
from shipping import queries as shipping_queries
from zones import queries as zone_queries

# (metric, label): the period's totals, counted from the hourly rollups.
TILES = [
    ("shipping.port_call_status_changed:berthed", _("Vessels berthed")),
    ("terminal.container_discharged", _("Containers discharged")),
    ("declaration.filed", _("Declarations filed")),
    ("declaration.status_changed:released", _("Released")),
    ("declaration.status_changed:inspection_required", _("Inspection required")),
    ("inspection.container_decided:release", _("Containers released at decision")),
    ("inspection.container_decided:scan", _("Containers to scan")),
    ("inspection.container_decided:manual", _("Containers to inspect by hand")),
    ("inspection.container_decided:quarantine", _("Containers to quarantine")),
    ("inspection.queued", _("Containers arrived for inspection")),
    ("inspection.status_changed:released", _("Released after inspection")),
    ("gate.passed:out", _("Gate-outs")),
    ("gate.refused:out", _("Gate-outs refused")),
    ("certificate.status_changed:issued", _("Certificates issued")),
    ("zone.gate_released", _("Bonded zone gate: trucks released")),
    ("zone.gate_stopped", _("Bonded zone gate: trucks stopped")),
]
RELEASED = "declaration.status_changed:released"
ZONE_GATE_RELEASED = "zone.gate_released"


@dataclass
class Table:
    key: str
    title: str
    columns: list[tuple[str, str, str]]  # key, label, "text" | "number" | "hours" | "percent"
    rows: list[dict] = field(default_factory=list)
    chart: str = "bar"  # how the page draws it: bar, line, or none

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "title": str(self.title),
            "chart": self.chart,
            "columns": [
                {"key": k, "label": str(label), "kind": kind} for k, label, kind in self.columns
            ],
            "rows": self.rows,
        }


@dataclass(frozen=True)
class Filters:
    period: str = "day"
    on: date | None = None
    terminal_id: int | None = None
    direction: str = ""

    def query(self) -> dict:
        return {"terminal_id": self.terminal_id, "direction": self.direction}


def dashboard_tables(scope: Scope, filters: Filters, *, now: datetime | None = None) -> list[Table]:
    now = now or timezone.now()
    period = statistics.period_for(filters.period, filters.on)
    terminals = dict(Terminal.objects.values_list("pk", "code"))
    totals, per_hour = _hourly(scope, filters, period, now)
    return [
        _activity(totals),
        _vessels(now),
        _releases_per_hour(per_hour[RELEASED]),
        _zone_gate_per_hour(scope, per_hour[ZONE_GATE_RELEASED]),
        _clearance(scope, filters, period),
        _clearance_by_day(scope, filters, period),
        _clearance_by_terminal(scope, filters, period, terminals),
        _inspection_waiting(scope, filters, terminals, now),
        _inspection_queue(scope, now),
        _diversion(scope, now),
        *([_boardings(period)] if scope.port_wide else []),
        *_trade(scope, filters, period),
    ]


def table_by_key(scope: Scope, filters: Filters, key: str) -> Table | None:
    return next((t for t in dashboard_tables(scope, filters) if t.key == key), None)


def _hourly(scope, filters, period, now) -> tuple[dict, dict]:
    """The tiles' totals over the period and the last 24 hours' series, in one query."""
    start, end = period.bounds()
    return statistics.metric_figures(
        scope,
        [m for m, _label in TILES],
        start,
        min(end, now + timedelta(hours=1)),
        per_hour_of=[RELEASED],
        per_hour_unfiltered=[ZONE_GATE_RELEASED],
        now=now,
        terminal_id=filters.terminal_id,
    )


def _activity(totals) -> Table:
    return Table(
        "activity",
        _("Activity in the period"),
        [("label", _("Figure"), "text"), ("count", _("Count"), "number")],
        [{"metric": m, "label": str(label), "count": totals[m]} for m, label in TILES],
        chart="none",
    )


def _vessels(now) -> Table:
    """Vessel calls today: the current state of a small table, not history."""
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now)
    start = timezone.make_aware(datetime.combine(today, time.min), tz)
    end = start + timedelta(days=1)
    counts = PortCall.objects.aggregate(
        expected=Count(
            "pk", filter=Q(status=PortCall.Status.EXPECTED, eta__gte=start, eta__lt=end)
        ),
        berthed=Count("pk", filter=Q(status=PortCall.Status.BERTHED)),
        departed=Count(
            "pk", filter=Q(status=PortCall.Status.DEPARTED, atd__gte=start, atd__lt=end)
        ),
    )
    labels = {
        "expected": _("Expected today"),
        "berthed": _("At berth"),
        "departed": _("Departed today"),
    }
    return Table(
        "vessels",
        _("Vessels"),
        [("label", _("Vessels"), "text"), ("count", _("Count"), "number")],
        [{"metric": k, "label": str(label), "count": counts[k]} for k, label in labels.items()],
        chart="none",
    )


def _releases_per_hour(rows) -> Table:
    return Table(
        "releases_per_hour",
        _("Releases per hour, last 24 hours"),
        [("hour", _("Hour"), "text"), ("count", _("Releases"), "number")],
        rows,
        chart="bar",
    )


def _zone_gate_per_hour(scope, rows) -> Table:
    """Trucks through the bonded zone's gate per hour (rollups), and Portwise's average answer
    time over the last 24 hours (port-wide only: one aggregate over a day of passages)."""
    title = _("Bonded zone gate: trucks released per hour, last 24 hours")
    if scope.port_wide:
        average = zone_queries.gate_traffic(hours=24)["average_ms"]
        if average is not None:
            title = _(
                "Bonded zone gate: trucks released per hour, last 24 hours "
                "(Portwise answers in %(ms)s ms on average)"
            ) % {"ms": round(average, 1)}
    return Table(
        "zone_gate_per_hour",
        title,
        [("hour", _("Hour"), "text"), ("count", _("Trucks"), "number")],
        rows,
        chart="bar",
    )


def _clearance(scope, filters, period) -> Table:
    rows = []
    for summary in statistics.clearance_summary(scope, period, **filters.query()):
        for stage in summary["stages"]:
            rows.append({"direction": summary["direction"], **stage})
    return Table(
        "clearance",
        _("Clearance time by stage (hours)"),
        [
            ("direction", _("Direction"), "text"),
            ("label", _("Stage"), "text"),
            ("median_h", _("Median"), "hours"),
            ("p90_h", _("90th percentile"), "hours"),
            ("count", _("Declarations"), "number"),
            ("previous_median_h", _("Median, period before"), "hours"),
            ("change_pct", _("Change"), "percent"),
        ],
        rows,
        chart="bar",
    )


def _clearance_by_day(scope, filters, period) -> Table:
    days = 14 if filters.period == "day" else 56
    rows = statistics.clearance_series(
        scope, days=days, on=period.end - timedelta(days=1), **filters.query()
    )
    return Table(
        "clearance_by_day",
        _("Overall clearance time per day, arrival or filing to release (hours)"),
        [
            ("day", _("Day"), "text"),
            ("direction", _("Direction"), "text"),
            ("median_h", _("Median"), "hours"),
            ("p90_h", _("90th percentile"), "hours"),
            ("declarations", _("Declarations"), "number"),
        ],
        rows,
        chart="line",
    )


def _clearance_by_terminal(scope, filters, period, terminals) -> Table:
    rows = statistics.clearance_by_terminal(scope, period, terminals, **filters.query())
    return Table(
        "clearance_by_terminal",
        _("Overall clearance time by terminal, arrival or filing to release (hours)"),
        [
            ("terminal", _("Terminal"), "text"),
            ("direction", _("Direction"), "text"),
            ("median_h", _("Median"), "hours"),
            ("p90_h", _("90th percentile"), "hours"),
            ("declarations", _("Declarations"), "number"),
        ],
        rows,
        chart="bar",
    )


def _inspection_waiting(scope, filters, terminals, now) -> Table:
    """Containers selected and not yet released, per terminal, and how long they wait."""
    waiting = statistics.waiting_for_inspection(scope, now, **filters.query())
    rows = (
        waiting.values("terminal_id")
        .annotate(
            containers=Sum("containers_selected"),
            declarations=Count("pk"),
            median_wait=statistics.Percentile(statistics.hours_since("decided_at", now), 0.5),
        )
        .order_by("terminal_id")
    )
    return Table(
        "inspection_waiting",
        _("Waiting for inspection"),
        [
            ("terminal", _("Terminal"), "text"),
            ("containers", _("Containers"), "number"),
            ("declarations", _("Declarations"), "number"),
            ("median_wait_h", _("Median wait"), "hours"),
        ],
        [
            {
                "terminal": terminals.get(r["terminal_id"], "—"),
                "containers": r["containers"] or 0,
                "declarations": r["declarations"],
                "median_wait_h": statistics.round_hours(r["median_wait"]),
            }
            for r in rows
        ],
        chart="bar",
    )


def _inspection_queue(scope, now) -> Table:
    """Open tickets per inspection area now, and how long the oldest has waited."""
    rows = inspection_queries.queue_by_area(
        enterprise_ids=None if scope.port_wide else list(scope.organisation_ids)
    )
    return Table(
        "inspection_queue",
        _("Inspection queue per area"),
        [
            ("area", _("Inspection area"), "text"),
            ("waiting", _("Containers in the queue"), "number"),
            ("oldest_wait_h", _("Longest wait"), "hours"),
        ],
        [
            {
                "area": f"{r['area__terminal__code']} {r['area__name']}",
                "waiting": r["waiting"],
                "oldest_wait_h": statistics.round_hours((now - r["oldest"]).total_seconds() / 3600),
            }
            for r in rows
        ],
        chart="bar",
    )


def _diversion(scope, now) -> Table:
    """Where the containers of today's vessels went (ship-side, inspection area, yard) and
    the lifts and moves that saved, per vessel call. Port-wide only: it is the terminal's."""
    if not scope.port_wide:
        return Table(
            "diversion", _("Container diversion today"), DIVERSION_COLUMNS, [], chart="bar"
        )
    start = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    calls = (
        PortCall.objects.filter(Q(status=PortCall.Status.BERTHED) | Q(atd__gte=start))
        .select_related("vessel")
        .order_by("pk")[:20]
    )
    rows = []
    for call in calls:
        saved = diversion.lifts_saved(port_call_id=call.pk)
        if saved["containers"]:
            rows.append(
                {
                    "call": f"{call.vessel.name} {call.voyage}",
                    **{d: saved["by_destination"].get(d, 0) for d in DIVERSION_DESTINATIONS},
                    "lifts_saved": saved["lifts_saved"],
                    "saved_percent": saved["saved_percent"],
                }
            )
    return Table("diversion", _("Container diversion today"), DIVERSION_COLUMNS, rows, chart="bar")


def _boardings(period) -> Table:
    """Boardings (登临) released in the period: booking → boarding → release, median hours,
    by who booked, and how much sooner the requests (the shipping agent's, the enterprises')
    were released than the agencies' own bookings (the seeds: 10 %). Port-wide only: the
    agencies and the agents book; an enterprise's dashboard leaves it out."""
    columns = [
        ("who", _("Booked by"), "text"),
        ("count", _("Boardings released"), "number"),
        ("to_boarding", _("Booking to boarding (median)"), "hours"),
        ("to_release", _("Booking to release (median)"), "hours"),
        ("faster", _("Faster to release than agency bookings"), "percent"),
    ]
    title = _("Boardings: booking to release")
    medians = shipping_queries.boarding_medians(start=period.bounds()[0], end=period.bounds()[1])
    agency_release = medians["agency"]["booking_to_release_minutes"]

    def hours(minutes):
        return None if minutes is None else round(minutes / 60, 2)

    rows = []
    for who, label in (
        ("agent", _("Shipping agent's request")),
        ("enterprise", _("Enterprise's request")),
        ("agency", _("The agency")),
    ):
        figures = medians[who]
        release = figures["booking_to_release_minutes"]
        faster = (
            round(100 * (agency_release - release) / agency_release, 1)
            if who != "agency" and release is not None and agency_release
            else None
        )
        rows.append(
            {
                "who": str(label),
                "count": figures["count"],
                "to_boarding": hours(figures["booking_to_boarding_minutes"]),
                "to_release": hours(release),
                "faster": faster,
            }
        )
    return Table("boardings", title, columns, rows, chart="bar")


DIVERSION_DESTINATIONS = ["ship_side", "inspection_area", "yard", "direct_loading"]
DIVERSION_COLUMNS = [
    ("call", _("Vessel call"), "text"),
    ("ship_side", _("Ship-side pickup"), "number"),
    ("inspection_area", _("To the inspection area"), "number"),
    ("yard", _("To the yard"), "number"),
    ("direct_loading", _("Direct loading"), "number"),
    ("lifts_saved", _("Lifts and moves saved"), "number"),
    ("saved_percent", _("Saved"), "share"),
]

TRADE_TITLES = {
    "trade_mode": _("By trade mode"),
    "country": _("By country of origin"),
    "hs_chapter": _("By HS chapter"),
    "enterprise": _("Top enterprises"),
}


def _trade(scope, filters, period) -> list[Table]:
    tables = []
    breakdowns = statistics.trade_breakdowns(scope, period, list(TRADE_TITLES), **filters.query())
    for dimension, title in TRADE_TITLES.items():
        rows = breakdowns[dimension]
        if dimension == "enterprise":
            names = dict(
                Organisation.objects.filter(pk__in=[r["key"] for r in rows]).values_list(
                    "pk", "name"
                )
            )
        elif dimension == "trade_mode":
            names = dict(Declaration.TradeMode.choices)
        else:
            names = {}
        for row in rows:
            row["key"] = str(names.get(row["key"], row["key"]))
        tables.append(
            Table(
                f"trade_{dimension}",
                title,
                [
                    ("key", title, "text"),
                    ("declarations", _("Declarations"), "number"),
                    ("containers", _("Containers"), "number"),
                    ("value", _("Value (CNY)"), "number"),
                ],
                rows,
                chart="bar",
            )
        )
    return tables
