"""A page with live updates open in a real browser while its web server is killed and started
again on the same port (uvicorn processes on the PRIVATE PostgreSQL of the fault suite).
A change is made while the page's socket is away; the page reconnects by itself, re-fetches
what it shows ("live.resync") and shows the change, without a reload."""

import os
import signal

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tests.conftest import container_number, filing
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, RECORD_LIVE, TIMEOUT, sign_in
from tests.faults.conftest import _stop, serve, token_for

pytestmark = [pytest.mark.slow, pytest.mark.browser]  # browser tests run once (tests/conftest.py)

BACK = 90_000  # ms: the page's back-off reaches 32 s between attempts, and the load is high


def _file(base: str, port_call: int, bl_number: str, serial: int) -> None:
    response = requests.post(
        f"{base}/api/v1/declarations/",
        json=filing(port_call, bl_number=bl_number, containers=[container_number(serial)]),
        headers={"Authorization": f"Token {token_for(base, 'importer')}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text[:300]


@pytest.mark.parametrize("change", ["filed-elsewhere", "no-live-event"])
def test_a_live_page_reconnects_after_its_server_restarts_and_shows_what_it_missed(
    database, tmp_path, capsys, change
):
    """filed-elsewhere: another server files a declaration (its live frame is sent while the
    page is away, so the numbers moved); no-live-event: a change that sent no frame at all
    (a push is best effort: lost while Redis is down), written straight to the database."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}", pytrace=False)
    web, base = serve(database, tmp_path / "web.log")
    port = int(base.rsplit(":", 1)[1])
    port_call = database.query("SELECT id FROM port_portcall WHERE voyage = '062E'")[0][0]
    other = None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base, locale="en-US")
            context.set_default_timeout(TIMEOUT)
            context.add_init_script(RECORD_LIVE)
            page = context.new_page()
            sign_in(page, "importer")
            page.goto("/declarations/")
            body = page.locator("body")
            expect(body).to_have_attribute("data-live", "connected", timeout=TIMEOUT)
            serial = {"filed-elsewhere": 1, "no-live-event": 2}[change]
            seen, missed = f"SEEN{serial:010d}", f"RESYNC{serial:08d}"
            _file(base, port_call, seen, serial + 10)
            expect(page.get_by_text(seen)).to_be_visible(timeout=TIMEOUT)  # live, as usual
            page.evaluate("window.__noReload = 1")
            events_before = len(page.evaluate("window.__liveEvents"))

            # the page's server dies
            os.kill(web.pid, signal.SIGKILL)
            web.wait()
            expect(body).to_have_attribute("data-live", "reconnecting", timeout=TIMEOUT)

            # meanwhile the importer's declarations change
            if change == "filed-elsewhere":
                other, other_base = serve(database, tmp_path / "other.log")
                _file(other_base, port_call, missed, serial)
                _stop(other)
                other = None
            else:
                database.query(
                    "UPDATE declarations_declaration SET bl_number = %s "
                    "WHERE bl_number = %s RETURNING id",
                    (missed, seen),
                )
            assert page.get_by_text(missed).count() == 0  # not seen yet

            # the server comes back on the same port: the page reconnects and catches up
            web, _ = serve(database, tmp_path / "web.log", port=port)
            expect(body).to_have_attribute("data-live", "connected", timeout=BACK)
            expect(page.get_by_text(missed)).to_be_visible(timeout=TIMEOUT)
            assert page.evaluate("window.__noReload") == 1  # no reload: re-fetched in place
            states = page.evaluate("window.__liveStates")
            events = page.evaluate("window.__liveEvents")[events_before:]
            assert "reconnecting" in states
            assert states[-1] == "connected"
            assert "live.resync" in events
        finally:
            browser.close()
            if other is not None:
                _stop(other)
            _stop(web)
    with capsys.disabled():
        print(f"\n[live reconnect, {change}] states {states}; events after the kill {events}")
