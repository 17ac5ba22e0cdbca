"""The dashboard's cached answers: one per scope, filters and period, superseded when the
consumer folds new events into that dashboard; never served across scopes."""

import threading

import pytest
from django.core.cache import cache as django_cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import cache, dashboard, services
from analytics.models import DashboardVersion
from analytics.queries import Scope
from declarations.services import ItemInput
from tests.analytics.test_services import TILES, file
from tests.analytics.test_views import EXPORTER_NAME, IMPORTER_NAME, activity, tables_of
from tests.conftest import MEAT_ITEM

URL = "/api/v1/analytics/dashboard/"
PORT = Scope(port_wide=True)


@pytest.fixture
def traffic(demo):
    """The importer files two declarations (one selected), the exporter one; all rolled up."""
    file(demo, [TILES])
    file(demo, [ItemInput(**MEAT_ITEM)], containers=2)
    file(demo, [TILES], user=demo.exporter, direction="export")
    services.rollups_consume()
    return demo


def filed(response) -> int:
    return activity(tables_of(response))["declaration.filed"]


def enterprises(response) -> list[str]:
    return [row["key"] for row in tables_of(response)["trade_enterprise"]["rows"]]


def test_the_consumer_writes_the_version_of_the_port_and_of_each_enterprise_it_folded(demo):
    file(demo, [TILES])
    services.rollups_consume()

    versions = dict(DashboardVersion.objects.values_list("dashboard", "last_event_id"))
    last = services.Watermark.objects.get().last_event_id
    assert versions == {"port": last, str(demo.importer_org.pk): last}


def test_each_scope_gets_its_own_answer_however_warm_the_cache(traffic, api_for):
    port, importer, exporter = (
        api_for(traffic.officer),
        api_for(traffic.importer),
        api_for(traffic.exporter),
    )
    for _ in range(2):  # cold, then warm: the same answers
        assert (filed(port.get(URL)), filed(importer.get(URL)), filed(exporter.get(URL))) == (
            3,
            2,
            1,
        )
        assert set(enterprises(port.get(URL))) == {IMPORTER_NAME, EXPORTER_NAME}
        assert enterprises(importer.get(URL)) == [IMPORTER_NAME]
        assert enterprises(exporter.get(URL)) == [EXPORTER_NAME]
        assert tables_of(exporter.get(URL))["inspection_waiting"]["rows"] == []


def test_a_cached_answer_equals_the_computed_one(traffic):
    filters = dashboard.Filters(period="week")
    computed = [t.as_dict() for t in dashboard.dashboard_tables(PORT, filters)]

    assert cache.dashboard_tables(PORT, filters) == computed  # cold
    assert cache.dashboard_tables(PORT, filters) == computed  # warm


def test_filters_and_periods_are_answers_of_their_own(traffic, api_for):
    client = api_for(traffic.officer)
    imports = client.get(URL + "?direction=import")
    exports = client.get(URL + "?direction=export&period=week")

    assert enterprises(client.get(URL + "?direction=import")) == enterprises(imports)
    assert enterprises(client.get(URL + "?direction=export&period=week")) == [EXPORTER_NAME]
    assert enterprises(imports) == [IMPORTER_NAME]
    assert enterprises(exports) == [EXPORTER_NAME]


def test_new_events_folded_by_the_consumer_replace_the_cached_answer(traffic, api_for):
    port, importer, exporter = (
        api_for(traffic.officer),
        api_for(traffic.importer),
        api_for(traffic.exporter),
    )
    assert (filed(port.get(URL)), filed(importer.get(URL)), filed(exporter.get(URL))) == (3, 2, 1)

    file(traffic, [TILES], user=traffic.exporter, direction="export")
    # Filed, not yet folded: the rollups have not moved, nor has the answer.
    assert filed(port.get(URL)) == 3
    services.rollups_consume()

    assert (filed(port.get(URL)), filed(importer.get(URL)), filed(exporter.get(URL))) == (4, 2, 2)


def test_an_enterprise_keeps_its_answer_while_only_others_events_are_folded(traffic, api_for):
    importer = api_for(traffic.importer)
    importer.get(URL)
    key = cache.answer_key(
        Scope(port_wide=False, organisation_ids=(traffic.importer_org.pk,)),
        dashboard.Filters(),
        timezone.now(),
    )

    file(traffic, [TILES], user=traffic.exporter, direction="export")
    services.rollups_consume()

    with CaptureQueriesContext(connection) as queries:
        assert filed(importer.get(URL)) == 2
    assert len(queries) == WARM_QUERIES
    assert django_cache.get(key) is not None


def test_an_enterprise_of_several_organisations_follows_each_of_them(traffic):
    both = Scope(
        port_wide=False, organisation_ids=(traffic.importer_org.pk, traffic.exporter_org.pk)
    )
    tiles = {t["key"]: t for t in cache.dashboard_tables(both, dashboard.Filters())}
    assert activity(tiles)["declaration.filed"] == 3

    file(traffic, [TILES], user=traffic.exporter, direction="export")
    services.rollups_consume()

    tiles = {t["key"]: t for t in cache.dashboard_tables(both, dashboard.Filters())}
    assert activity(tiles)["declaration.filed"] == 4


# The warm answer: the user's memberships, then the dashboard's version; nothing else.
WARM_QUERIES = 2


def test_a_warm_request_costs_two_queries_and_a_cold_one_the_tables(traffic, api_for):
    client = api_for(traffic.officer)
    with CaptureQueriesContext(connection) as uncached:
        dashboard.dashboard_tables(PORT, dashboard.Filters())

    with CaptureQueriesContext(connection) as cold:
        client.get(URL)
    with CaptureQueriesContext(connection) as warm:
        client.get(URL)

    assert len(cold) == WARM_QUERIES + len(uncached)
    assert len(warm) == WARM_QUERIES
    assert "analytics_dashboardversion" in warm[-1]["sql"]


def test_without_a_version_the_dashboard_is_computed_every_time(traffic, api_for):
    services.clearance_daily_rebuild()  # a rebuild forgets every version
    assert DashboardVersion.objects.exists() is False
    client = api_for(traffic.officer)

    client.get(URL)
    with CaptureQueriesContext(connection) as again:
        response = client.get(URL)

    assert filed(response) == 3
    assert len(again) > WARM_QUERIES


def test_with_redis_down_the_dashboard_is_computed(traffic, api_for):
    down = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    with override_settings(CACHES={"default": down}):
        response = api_for(traffic.officer).get(URL)

    assert response.status_code == 200
    assert filed(response) == 3


def test_the_consumer_computes_the_port_answers_before_the_pages_hear_of_the_change(
    demo, api_for, django_capture_on_commit_callbacks
):
    file(demo, [TILES])
    with django_capture_on_commit_callbacks() as callbacks:
        services.rollups_consume()
    assert callbacks[0] is cache.dashboard_warm  # before the push

    with django_capture_on_commit_callbacks(execute=True):
        file(demo, [TILES], user=demo.exporter, direction="export")
        services.rollups_consume()
    client = api_for(demo.officer)

    for period in ("day", "week"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{URL}?period={period}")
        assert filed(response) == 2
        assert len(queries) == WARM_QUERIES


def test_a_request_waits_for_the_answer_another_is_computing(traffic, api_for):
    filters = dashboard.Filters(period="week")
    key = cache.answer_key(PORT, filters, timezone.now())
    assert django_cache.add(f"{key}:computing", 1, timeout=5)  # another page claimed it
    theirs = [{"key": "computed elsewhere"}]
    threading.Timer(0.1, django_cache.set, args=(key, theirs, 60)).start()

    with CaptureQueriesContext(connection) as queries:
        tables = cache.dashboard_tables(PORT, filters)

    assert tables == theirs
    assert len(queries) == 1  # the version; nothing computed


def test_a_request_computes_when_the_claimant_never_answers(traffic, monkeypatch):
    monkeypatch.setattr(cache, "WAIT_S", 0.1)
    filters = dashboard.Filters(period="week")
    key = cache.answer_key(PORT, filters, timezone.now())
    assert django_cache.add(f"{key}:computing", 1, timeout=5)

    tables = cache.dashboard_tables(PORT, filters)

    assert activity({t["key"]: t for t in tables})["declaration.filed"] == 3
    assert django_cache.get(key) == tables


def test_the_claim_is_released_once_the_answer_is_stored(traffic):
    filters = dashboard.Filters(period="week")
    key = cache.answer_key(PORT, filters, timezone.now())

    cache.dashboard_tables(PORT, filters)

    assert django_cache.get(f"{key}:computing") is None
