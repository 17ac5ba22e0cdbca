"""The scale demo's history: real subjects, rollups equal to a recount, idempotent-ish."""

import io

from django.core.management import call_command
from django.utils import timezone

from analytics import services, statistics
from analytics.history import HISTORY_BL_PREFIX
from analytics.models import ClearanceFact, Watermark
from analytics.queries import Scope
from declarations.models import Declaration
from port.models import TimelineEvent


def test_history_writes_declarations_events_facts_and_rollups(demo):
    call_command("analytics_history", events=600, days=10, batch=120, stdout=io.StringIO())

    events = TimelineEvent.objects.count()
    declarations = Declaration.objects.filter(bl_number__startswith=HISTORY_BL_PREFIX)
    assert events >= 600
    assert ClearanceFact.objects.count() == declarations.count() > 0
    assert TimelineEvent.objects.filter(kind="declaration.filed").count() == declarations.count()
    last = Watermark.objects.get().last_event_id
    assert last == TimelineEvent.objects.latest("id").id
    assert services.counts_by_key() == services.hourly_counts_recount(up_to_event_id=last)
    assert services.rollups_consume() == 0  # the consumer goes on from past the history
    filed = list(ClearanceFact.objects.values_list("filed_at", flat=True))  # in stored order
    assert filed == sorted(filed)  # clustered by filing time, as a live port writes them


def test_history_statistics_have_figures_and_a_second_run_adds_nothing(demo):
    call_command("analytics_history", events=300, days=3, batch=300, stdout=io.StringIO())
    events = TimelineEvent.objects.count()

    call_command("analytics_history", events=300, days=3, stdout=io.StringIO())

    assert TimelineEvent.objects.count() == events
    # The week of the middle filing holds at least half the history, whatever today is.
    filings = ClearanceFact.objects.order_by("filed_at").values_list("filed_at", flat=True)
    middle = filings[filings.count() // 2]
    week = statistics.period_for("week", on=timezone.localdate(middle))
    rows = statistics.clearance_summary(Scope(port_wide=True), week)
    overall = [next(s for s in r["stages"] if s["stage"] == "overall") for r in rows]
    assert sum(s["count"] for s in overall) > 0
    assert all(s["median_h"] is None or 0 < s["median_h"] < 24 for s in overall)
