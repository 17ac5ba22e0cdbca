"""The dashboard in a real browser: a filing reaches the open page's figures live, through
the worker's assessment, the beat task's rollup and the WebSocket, without a reload."""

import pytest
from playwright.sync_api import expect

from analytics.tasks import rollups_consume_task
from tests.e2e.conftest import TIMEOUT, live_events, wait_until_live
from tests.e2e.test_browser import TILES, assert_not_reloaded, fill_declaration, mark_window

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_dashboard_counts_a_new_filing_live(request, transactional_db, demo, new_page):
    # given: the port authority's dashboard is open, and a worker runs
    dashboard = new_page("portauth")
    dashboard.goto("/analytics/")
    filed = dashboard.locator('.tile[data-metric="declaration.filed"] .tile-value')
    expect(filed).to_have_text("0")
    wait_until_live(dashboard)
    mark_window(dashboard)
    request.getfixturevalue("celery_worker_process")

    # when: the importer files ceramic tiles, the worker releases them, and beat's task runs
    importer = new_page("importer")
    fill_declaration(importer, demo.port_call.pk, containers="MSCU1234566", item=TILES)
    expect(importer.locator("#declaration-status")).to_have_text("Released", timeout=TIMEOUT)
    rollups_consume_task.delay()

    # then: the figures change on the open page, and its charts are drawn again
    expect(filed).to_have_text("1", timeout=TIMEOUT)
    released = dashboard.locator(
        '.tile[data-metric="declaration.status_changed:released"] .tile-value'
    )
    expect(released).to_have_text("1")
    expect(dashboard.locator('[data-chart="releases_per_hour"] svg')).to_be_visible()
    assert "analytics.dashboard_updated" in live_events(dashboard)
    assert_not_reloaded(dashboard)


def test_every_chart_has_a_table_view(transactional_db, demo, new_page):
    page = new_page("officer")
    page.goto("/analytics/")
    panel = page.locator("#panel-releases_per_hour")

    panel.get_by_role("button", name="Table").click()

    expect(panel.locator("table")).to_be_visible()
    expect(panel.locator(".chart")).to_be_hidden()
    expect(panel.get_by_role("button", name="Table")).to_have_attribute("aria-expanded", "true")


def test_a_table_view_stays_open_through_a_live_refresh(transactional_db, demo, new_page):
    page = new_page("officer")
    page.goto("/analytics/")
    panel = page.locator("#panel-releases_per_hour")
    panel.get_by_role("button", name="Table").click()

    # when: the page refreshes its panels, as it does for every live event
    page.evaluate(
        "document.body.dispatchEvent(new CustomEvent('live', {detail: {type: 'live.resync'}}))"
    )
    page.wait_for_timeout(1500)

    # then
    expect(panel.locator("table")).to_be_visible()
    expect(panel.get_by_role("button", name="Table")).to_have_attribute("aria-expanded", "true")
