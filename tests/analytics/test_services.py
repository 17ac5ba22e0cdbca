"""The rollup consumer: facts per declaration, hourly counts, the watermark."""

import threading
from datetime import timedelta

from django.db import connection, connections
from django.utils import timezone

from analytics import services, statistics
from analytics.models import ClearanceFact, HourlyCount, Watermark
from analytics.queries import Scope
from declarations import services as declaration_services
from declarations.services import ItemInput
from inspection import assessment
from port import timeline
from port.models import TimelineEvent, User
from shipping import services as shipping_services
from tests.conftest import MEAT_ITEM, container_number

TILES = ItemInput(
    hs_code="6907210000",
    description="Glazed ceramic floor tiles",
    quantity="18000",
    value="412000",
    origin_country="CN",
    unit="m2",
)
_serial = iter(range(100, 100_000))


def file(demo, items, containers=1, user=None, direction="import"):
    declaration = declaration_services.declaration_file(
        user=user or demo.importer,
        enterprise_id=demo.importer_org.pk if user == demo.broker else None,
        port_call_id=demo.port_call.pk,
        bl_number=f"COSU{next(_serial):08d}",
        container_numbers=[container_number(next(_serial)) for _ in range(containers)],
        items=items,
        direction=direction,
    )
    assessment.assess_declarations(declaration_ids=[declaration.pk])
    declaration.refresh_from_db()
    return declaration


def test_consume_builds_one_fact_per_declaration_with_its_stages(demo):
    # given: one declaration released at once, one selected for inspection
    released = file(demo, [TILES])
    selected = file(demo, [ItemInput(**MEAT_ITEM), TILES], containers=2)

    # when
    consumed = services.rollups_consume()

    # then
    assert consumed == TimelineEvent.objects.count()
    fact = ClearanceFact.objects.get(declaration_id=released.pk)
    assert (fact.outcome, fact.direction, fact.hs_chapter, fact.origin_country) == (
        "released",
        "import",
        "69",
        "CN",
    )
    assert fact.enterprise_id == demo.importer_org.pk
    assert fact.terminal_id == demo.port_call.terminal_id
    assert fact.filed_at <= fact.decided_at == fact.released_at
    held = ClearanceFact.objects.get(declaration_id=selected.pk)
    assert (held.outcome, held.containers, held.containers_selected) == (
        "inspection_required",
        2,
        2,
    )
    assert held.released_at is None
    assert held.hs_chapter == "02"  # the meat is the dearer line
    assert held.value == 412000 + 960000


def _berth(call, *, ata):
    shipping_services.port_call_mark_berthed(
        port_call_id=call.pk,
        user=User.objects.get(username="portauth"),
        berth_id=call.terminal.berths.first().pk,
        ata=ata,
    )


def _daily_import_median(scope=None) -> float:
    series = statistics.clearance_series(scope or Scope(port_wide=True), direction="import")
    return series[-1]["median_h"]


def test_imports_clear_from_their_vessels_arrival_once_it_berths(demo):
    # given: an import and an export released while the vessel was still expected
    goods_in = file(demo, [TILES])
    goods_out = file(demo, [TILES], user=demo.exporter, direction="export")
    services.rollups_consume()
    assert ClearanceFact.objects.get(declaration_id=goods_in.pk).arrived_at is None
    assert _daily_import_median() < 0.01  # filing to release, in an instant

    # when: the berthing is recorded, with the vessel alongside three hours before the filing
    filed = ClearanceFact.objects.get(declaration_id=goods_in.pk).filed_at
    _berth(demo.port_call, ata=filed - timedelta(hours=3))
    services.rollups_consume()

    # then: the import's clock starts at the arrival; the export's stays at its filing
    imported = ClearanceFact.objects.get(declaration_id=goods_in.pk)
    exported = ClearanceFact.objects.get(declaration_id=goods_out.pk)
    assert imported.arrived_at == imported.cleared_from == filed - timedelta(hours=3)
    assert exported.arrived_at is None
    assert exported.cleared_from == exported.filed_at
    assert 3.0 <= _daily_import_median() < 3.01
    summary = statistics.clearance_summary(Scope(port_wide=True), statistics.period_for("day"))
    overall = {row["direction"]: row["stages"][0] for row in summary}
    assert overall["import"]["label"] == "Arrival to release"
    assert 3.0 <= overall["import"]["median_h"] < 3.01
    assert overall["export"]["label"] == "Filing to release"
    assert overall["export"]["median_h"] < 0.01


def test_an_import_filed_after_berthing_takes_the_arrival_at_once(demo):
    # given: the vessel berthed an hour ago
    _berth(demo.port_call, ata=timezone.now() - timedelta(hours=1))

    # when: an import is filed and released
    goods_in = file(demo, [TILES])
    services.rollups_consume()

    # then
    fact = ClearanceFact.objects.get(declaration_id=goods_in.pk)
    demo.port_call.refresh_from_db()
    assert fact.arrived_at == demo.port_call.ata
    assert fact.port_call_id == demo.port_call.pk
    assert fact.trade_mode == "0110"
    assert 1.0 <= _daily_import_median() < 1.01


def test_goods_released_before_their_vessel_arrives_clear_in_no_time(demo):
    # given: an advance filing released before the vessel, which berths later
    goods_in = file(demo, [TILES])
    services.rollups_consume()
    released = ClearanceFact.objects.get(declaration_id=goods_in.pk).released_at

    # when
    _berth(demo.port_call, ata=released + timedelta(hours=5))
    services.rollups_consume()

    # then: the clock never ran
    fact = ClearanceFact.objects.get(declaration_id=goods_in.pk)
    assert fact.arrived_at == released + timedelta(hours=5)
    assert fact.cleared_from == released
    assert _daily_import_median() == 0


def test_consume_counts_each_kind_and_its_new_state(demo):
    file(demo, [TILES])
    file(demo, [ItemInput(**MEAT_ITEM)], containers=3)

    services.rollups_consume()

    totals = {}
    for count in HourlyCount.objects.all():
        totals[count.metric] = totals.get(count.metric, 0) + count.count
    assert totals["declaration.filed"] == 2
    assert totals["declaration.status_changed"] == 4
    assert totals["declaration.status_changed:submitted"] == 2
    assert totals["declaration.status_changed:released"] == 1
    assert totals["declaration.status_changed:inspection_required"] == 1
    assert totals["inspection.container_decided:release"] == 1
    assert totals["inspection.container_decided:quarantine"] == 3
    assert set(HourlyCount.objects.values_list("organisation_id", flat=True)) == {
        demo.importer_org.pk
    }


def test_a_second_run_counts_nothing_twice(demo):
    file(demo, [TILES])
    services.rollups_consume()
    before = services.counts_by_key()
    facts_before = list(ClearanceFact.objects.values())

    assert services.rollups_consume() == 0

    assert services.counts_by_key() == before
    assert list(ClearanceFact.objects.values()) == facts_before
    assert Watermark.objects.get().last_event_id == TimelineEvent.objects.latest("id").id


def test_rollups_in_small_batches_equal_a_recount_from_raw_events(demo):
    # given: filings and consumer runs interleaved, in batches that split a declaration
    for round_ in range(3):
        file(demo, [TILES], containers=2)
        file(demo, [ItemInput(**MEAT_ITEM)], user=demo.broker if round_ else demo.importer)
        while services.rollups_consume(batch_size=3):
            pass

    # then
    last = Watermark.objects.get().last_event_id
    assert last == TimelineEvent.objects.latest("id").id
    assert services.counts_by_key() == services.hourly_counts_recount(up_to_event_id=last)
    assert ClearanceFact.objects.count() == 6
    port = Scope(port_wide=True)
    assert statistics.clearance_series(port) == statistics.clearance_series_from_facts(port)
    assert statistics.clearance_series(port)[0]["declarations"] == 6
    # the period rollups the dashboard reads, as the consumer left them
    mine = Scope(port_wide=False, organisation_ids=(demo.importer_org.pk,))
    for kind in ("day", "week"):
        period = statistics.period_for(kind)
        for scope in (port, mine):
            assert statistics.clearance_summary(
                scope, period
            ) == statistics.clearance_summary_from_facts(scope, period)
            for dimension in statistics.TRADE_DIMENSIONS:
                assert statistics.trade_breakdown(
                    scope, period, dimension
                ) == statistics.trade_breakdown_from_facts(scope, period, dimension)
    summary = statistics.clearance_summary(port, statistics.period_for("day"))
    assert sum(row["declarations"] for row in summary) == 6


def test_rebuild_replaces_counts_with_the_recount(demo):
    file(demo, [TILES])
    services.rollups_consume()
    expected = services.counts_by_key()
    HourlyCount.objects.update(count=999)

    services.hourly_counts_rebuild()

    assert services.counts_by_key() == expected


def _burn_an_event_id() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('port_timelineevent', 'id'))")


def test_consume_waits_at_a_recent_gap_and_passes_an_old_one(demo):
    # given: an id taken by a transaction that has not committed (or never will)
    file(demo, [TILES])
    services.rollups_consume()
    mark = Watermark.objects.get().last_event_id
    _burn_an_event_id()
    file(demo, [TILES])

    # when / then: a fresh gap holds the consumer back
    assert services.rollups_consume() == 0
    assert Watermark.objects.get().last_event_id == mark

    # when / then: once the gap is older than the wait, it is passed by
    later = timezone.now() + timeline.GAP_WAIT + timedelta(seconds=1)
    assert services.rollups_consume(now=later) == 4  # filed, submitted, decided, container
    assert Watermark.objects.get().last_event_id == TimelineEvent.objects.latest("id").id


def test_two_consumers_at_once_count_every_event_once(transactional_db, demo):
    for _ in range(4):
        file(demo, [TILES], containers=2)
    results = []

    def consume():
        try:
            results.append(services.rollups_consume_all(batch_size=4))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=consume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sum(results) == TimelineEvent.objects.count()
    last = Watermark.objects.get().last_event_id
    assert services.counts_by_key() == services.hourly_counts_recount(up_to_event_id=last)
    assert ClearanceFact.objects.count() == 4
