"""The vessel filing in a real browser: the agent watches the agencies decide, live."""

import pytest
from playwright.sync_api import expect

from port.models import PortCall, User
from shipping import services
from tests.e2e.conftest import TIMEOUT, live_events, wait_until_live
from tests.e2e.test_browser import assert_not_reloaded, mark_window
from tests.shipping.factories import filing_input

pytestmark = pytest.mark.slow


@pytest.fixture
def arrival(transactional_db, demo):
    """An arrival filing, written before the browser starts (see tests/e2e/conftest.py)."""
    return services.filing_submit(
        user=User.objects.get(username="agent"),
        port_call_id=PortCall.objects.get(voyage="062E").pk,
        direction="arrival",
        filing=filing_input(),
    )


def test_agent_sees_an_agency_approve_and_ask_for_a_correction_live(arrival, new_page):
    # given: the agent has the filing open and live
    agent = new_page("agent")
    agent.goto(f"/shipping/filings/{arrival.pk}/")
    wait_until_live(agent)
    mark_window(agent)
    maritime_badge = agent.locator('[data-agency="maritime_safety"] .badge')
    expect(maritime_badge).to_have_text("Pending")

    # when: maritime safety approves in its own browser, and border control asks for a fix
    for username, choice, comment in (
        ("maritime", "Approve", ""),
        ("border", "Ask for a correction", "Passport of the chief officer expired"),
    ):
        officer = new_page(username)
        officer.goto(f"/shipping/filings/{arrival.pk}/")
        expect(officer.locator("[data-agency]")).to_have_count(1)  # only its own review
        officer.get_by_label(choice).check()
        officer.locator("#id_comment").fill(comment)
        officer.get_by_role("button", name="Record decision").click()
        expect(officer.locator(".messages")).to_contain_text(
            "Your decision is recorded.", timeout=TIMEOUT
        )

    # then: the agent's page shows both decisions without a reload
    expect(maritime_badge).to_have_text("Approved", timeout=TIMEOUT)
    expect(agent.locator("#filing-status")).to_have_text("Correction requested", timeout=TIMEOUT)
    expect(agent.locator('[data-agency="border_control"] .comment')).to_contain_text(
        "Passport of the chief officer expired"
    )
    expect(agent.get_by_role("link", name="Correct and resubmit")).to_be_visible()
    assert "shipping.review_decided" in live_events(agent)
    assert_not_reloaded(agent)
