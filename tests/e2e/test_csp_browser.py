"""The main pages under the Content-Security-Policy in headless Chromium: they work, and
the browser reports no violation and no console error."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT, sign_in, wait_until_live

pytestmark = [pytest.mark.slow, pytest.mark.browser]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


def open_as(browser, asgi_server, username):
    context = browser.new_context(base_url=asgi_server)
    context.set_default_timeout(TIMEOUT)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    errors = []
    # Every console error but a missing favicon (reported without its address).
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, username)
    return page, errors


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_main_pages_run_under_the_policy_without_violations(browser, asgi_server, demo):
    seen = {}

    # the dashboard with its ECharts charts, live
    page, errors = open_as(browser, asgi_server, "portauth")
    page.goto("/analytics/")
    expect(page.locator("[data-chart] svg").first).to_be_visible()
    wait_until_live(page)
    seen["dashboard"] = violations(page)

    # the one map, and its big screen (a static script adds the class)
    page.goto("/analytics/map/")
    expect(page.locator("#map-body svg").first).to_be_visible()
    seen["map"] = violations(page)
    page.goto("/analytics/map/?big=1")
    expect(page.locator("body")).to_have_class("big-screen")
    seen["big screen"] = violations(page)

    # the language menu submits itself without an inline handler
    page.goto("/analytics/map/")
    page.select_option("#language", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.select_option("#language", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    seen["language"] = violations(page)
    page.context.close()
    assert errors == []

    # the declaration form with htmx and the look-up as you type
    page, errors = open_as(browser, asgi_server, "importer")
    page.goto("/declarations/new/")
    page.locator("[data-lookup=hs]").first.fill("0202")
    expect(page.locator("#hs-suggestions option").first).to_be_attached()
    seen["declaration form"] = violations(page)
    page.context.close()
    assert errors == []

    # the inspection queue, live
    page, errors = open_as(browser, asgi_server, "officer")
    page.goto("/inspection/queue/")
    wait_until_live(page)
    seen["inspection queue"] = violations(page)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    seen["api docs"] = violations(page)
    page.context.close()
    assert errors == []

    # the admin and the browsable API
    page, errors = open_as(browser, asgi_server, "admin")
    page.goto("/admin/certificates/certificate/")
    expect(page.locator("#changelist")).to_be_visible()
    seen["admin"] = violations(page)
    page.goto("/api/v1/declarations/")
    expect(page.locator(".response-info")).to_be_visible()
    seen["browsable api"] = violations(page)
    page.context.close()
    assert errors == []

    assert seen == {name: [] for name in seen}
