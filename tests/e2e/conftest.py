"""Browser fixtures: headless Debian Chromium driven by Playwright's sync API.

Playwright's sync API runs an asyncio event loop in the test's thread while it is open,
and Django refuses ORM calls from a thread with a running loop. So every database write
a browser test needs (the demo port, the test database itself) happens before the
browser starts, and the browser closes before the test database is flushed: `browser`
depends on `demo` and `asgi_server`, so pytest sets it up after them and tears it down
before them. DJANGO_ALLOW_ASYNC_UNSAFE is deliberately not set: the ASGI server runs in
this same process, and the variable would also hide real async-safety bugs there.
"""

import os

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("PORTWISE_CHROMIUM", "/usr/bin/chromium")  # Debian's, by default
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "portwise-demo"
# Every state live.js gives the connection, and the type of every live event it
# dispatches, in order: window.__liveStates and window.__liveEvents.
RECORD_LIVE = """
window.__liveStates = [];
window.__liveEvents = [];
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => window.__liveStates.push(document.body.dataset.live))
    .observe(document.body, { attributes: true, attributeFilter: ["data-live"] });
  document.body.addEventListener("live", (event) => window.__liveEvents.push(event.detail.type));
});
"""
TIMEOUT = 30_000  # ms; a cold worker and a first WebSocket connection can be slow on CI


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    """Without Chromium the browser tests are left out, and one line at the end says how to
    get it; under CI a missing browser fails them instead, never a skip."""
    if os.access(CHROMIUM, os.X_OK) or _under_ci():
        return
    left_out = [item for item in items if "browser" in getattr(item, "fixturenames", ())]
    if left_out:
        items[:] = [item for item in items if item not in left_out]
        config.hook.pytest_deselected(items=left_out)
        config._portwise_no_browser = len(left_out)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    count = getattr(config, "_portwise_no_browser", 0)
    if count:
        terminalreporter.write_line(
            f"{count} browser tests not run: no Chromium at {CHROMIUM}. To run them: "
            "`sudo apt-get install chromium fonts-noto-cjk` (Debian; see README, Tests).",
            yellow=True,
        )


def _require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: under CI the browser tests must run", pytrace=False
        )


@pytest.fixture
def browser(transactional_db, demo, asgi_server):
    _require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser, asgi_server: str):
    """new_page(username) -> a page in its own browser context, signed in as username."""
    contexts = []

    def open_page(username: str, *, locale: str = "en-US") -> Page:
        context = browser.new_context(base_url=asgi_server, locale=locale)
        context.set_default_timeout(TIMEOUT)
        context.add_init_script(RECORD_LIVE)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, username)
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("body")).to_have_attribute("data-authenticated", "true")


def live_events(page: Page) -> list[str]:
    return page.evaluate("window.__liveEvents")


def wait_until_live(page: Page) -> None:
    """Wait until live.js has its WebSocket open and its subscriptions confirmed."""
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=TIMEOUT)
