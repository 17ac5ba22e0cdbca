"""End to end in a real browser: the form, the ASGI server, the WebSocket, the worker.

Each test proves a change arrived live by setting a marker on `window` before the change
and finding it still there after: a reload would have wiped it.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import TIMEOUT, live_events, wait_until_live

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BEEF = {
    "hs_code": "0202300090",
    "description": "Frozen boneless beef",
    "quantity": "24000",
    "unit": "kg",
    "value": "960000",
    "origin_country": "AU",
}
TILES = {
    "hs_code": "6907210000",
    "description": "Glazed ceramic floor tiles",
    "quantity": "18000",
    "unit": "m2",
    "value": "412000",
    "origin_country": "CN",
}


def fill_declaration(page: Page, port_call_id: int, *, containers: str, item: dict) -> None:
    page.goto("/declarations/new/")
    page.locator("#id_port_call").select_option(str(port_call_id))
    page.locator("#id_bl_number").fill("COSU6401234560")
    page.locator("#id_containers").fill(containers)
    for field, value in item.items():
        locator = page.locator(f"#id_items-0-{field}")
        if field == "unit":
            locator.select_option(value)
        else:
            locator.fill(value)
    page.get_by_role("button", name="File declaration").click()


def mark_window(page: Page) -> None:
    page.evaluate("window.__noReload = 1")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload") == 1


def assert_stayed_connected(page: Page) -> None:
    """No reconnect, so the change came with its own event, not a catch-up resync."""
    assert "reconnecting" not in page.evaluate("window.__liveStates")


@pytest.mark.parametrize(
    ("item", "final_status", "container_decision"),
    [(BEEF, "Inspection required", "Quarantine"), (TILES, "Released", "Release")],
    ids=["beef-selected", "tiles-released"],
)
def test_filed_declaration_changes_status_live_when_the_worker_assesses_it(
    request, transactional_db, demo, new_page, item, final_status, container_decision
):
    # given: the importer files a declaration while no worker is running
    page = new_page("importer")
    fill_declaration(page, demo.port_call.pk, containers="COSU6123451\nCSNU8011228", item=item)
    expect(page).to_have_url(re.compile(r"/declarations/\d+/$"))
    expect(page.locator("#declaration-status")).to_have_text("Submitted")
    expect(page.locator(".status-banner .spinner")).to_be_visible()
    wait_until_live(page)
    mark_window(page)

    # when: a worker starts and assesses it
    request.getfixturevalue("celery_worker_process")

    # then: the page shows the decision without a reload
    expect(page.locator("#declaration-status")).to_have_text(final_status, timeout=TIMEOUT)
    expect(page.locator(".status-banner .spinner")).to_have_count(0)
    rows = page.locator("#declaration-live table.data").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(container_decision)
    assert "declaration.status_changed" in live_events(page)
    assert_not_reloaded(page)
    assert_stayed_connected(page)


def test_officer_queue_shows_a_selected_container_live(
    request, transactional_db, demo, new_page, asgi_server
):
    # given: the officer looks at an empty inspection queue, and a worker runs
    queue = new_page("officer")
    queue.goto("/inspection/queue/")
    expect(queue.get_by_text("The queue is empty")).to_be_visible()
    wait_until_live(queue)
    mark_window(queue)
    request.getfixturevalue("celery_worker_process")

    # when: the importer files frozen beef in another browser
    importer = new_page("importer")
    fill_declaration(importer, demo.port_call.pk, containers="MSCU1234566", item=BEEF)
    expect(importer.locator("#declaration-status")).to_have_text(
        "Inspection required", timeout=TIMEOUT
    )

    # then: the container appears in the officer's queue without a reload
    row = queue.locator('#queue-rows tr[data-container="MSCU1234566"]')
    expect(row).to_be_visible(timeout=TIMEOUT)
    expect(row).to_contain_text("Quarantine")
    assert "inspection.containers_selected" in live_events(queue)
    assert_not_reloaded(queue)
    assert_stayed_connected(queue)


def test_officer_queue_shows_a_container_filed_through_the_api(
    request, transactional_db, demo, new_page, browser, asgi_server
):
    # given: the officer's queue is open, and a worker runs
    queue = new_page("officer")
    queue.goto("/inspection/queue/")
    wait_until_live(queue)
    mark_window(queue)
    request.getfixturevalue("celery_worker_process")

    # when: the importer's ERP files frozen beef through the API with a token
    erp = browser.new_context(base_url=asgi_server)  # no officer session cookie
    token = erp.request.post(
        "/api/v1/auth/token/", form={"username": "importer", "password": "portwise-demo"}
    ).json()["token"]
    response = erp.request.post(
        "/api/v1/declarations/",
        data={
            "port_call": demo.port_call.pk,
            "bl_number": "COSU6401234577",
            "containers": ["CSQU3054383"],
            "items": [BEEF],
        },
        headers={"Authorization": f"Token {token}", "Idempotency-Key": "e2e-api-1"},
    )
    assert response.status == 201, response.text()
    erp.close()

    # then
    row = queue.locator('#queue-rows tr[data-container="CSQU3054383"]')
    expect(row).to_be_visible(timeout=TIMEOUT)
    assert "inspection.containers_selected" in live_events(queue)
    assert_not_reloaded(queue)
    assert_stayed_connected(queue)


def test_live_connection_stays_open_while_the_page_is_idle(transactional_db, demo, new_page):
    # given
    page = new_page("officer")
    page.goto("/inspection/queue/")
    wait_until_live(page)

    # when: nothing happens for longer than the channel layer's 5 s blocking receive
    page.wait_for_timeout(12_000)

    # then: the socket never dropped, so no event could have fallen into a gap
    assert page.evaluate("window.__liveStates").count("reconnecting") == 0


def test_bad_container_check_digit_shows_the_field_error(transactional_db, demo, new_page):
    # given
    page = new_page("importer")

    # when: the last digit of COSU6123451 is wrong
    fill_declaration(page, demo.port_call.pk, containers="COSU6123452", item=TILES)

    # then: the form comes back with the error under the containers field, values kept
    expect(page).to_have_url(re.compile(r"/declarations/new/$"))
    errors = page.locator("#id_containers-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("COSU6123452")
    expect(page.locator("#id_containers")).to_have_value("COSU6123452")
    expect(page.locator("#id_items-0-hs_code")).to_have_value(TILES["hs_code"])


def test_cas_number_typed_in_the_form_suggests_and_fills_the_commodity_code(
    transactional_db, demo, new_page
):
    # given
    page = new_page("importer")
    page.goto("/declarations/new/")

    # when: the filer types a CAS number; the table answers as they type
    cas = page.locator("#id_items-0-cas_number")
    cas.press_sequentially("67-64", delay=50)
    expect(page.locator("#cas-suggestions option[value='67-64-1']")).to_have_count(
        1, timeout=TIMEOUT
    )
    cas.press_sequentially("-1", delay=50)

    # then: the empty commodity code gets the HS subheading acetone maps to
    expect(page.locator("#id_items-0-hs_code")).to_have_value("291411")


def test_a_line_is_added_and_removed_without_a_reload(transactional_db, demo, new_page):
    page = new_page("importer")
    page.goto("/declarations/new/")
    mark_window(page)

    page.get_by_role("button", name="+ Add a line").click()
    page.get_by_role("button", name="+ Add a line").click()
    page.locator("#items tbody tr").nth(1).locator("[data-remove-item]").click()

    expect(page.locator("#items tbody tr")).to_have_count(2)
    expect(page.locator("#id_items-TOTAL_FORMS")).to_have_value("2")
    expect(page.locator("#id_items-1-hs_code")).to_have_count(1)
    assert_not_reloaded(page)
