"""The terminal ticks every container on the page at once and reports them discharged."""

import re

import pytest
from playwright.sync_api import expect

from inspection import diversion
from port.models import PortCall
from tests.conftest import container_number

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def berthed(transactional_db, demo):
    """062E alongside with three containers planned (written before the browser starts)."""
    PortCall.objects.filter(pk=demo.port_call.pk).update(status=PortCall.Status.BERTHED)
    numbers = [container_number(n) for n in range(3)]
    diversion.diversion_plan(port_call_id=demo.port_call.pk, container_numbers=numbers)
    return demo.port_call


def test_select_all_reports_every_container_on_the_page(berthed, new_page):
    page = new_page("terminal")
    page.goto(f"/inspection/calls/{berthed.pk}/diversion/")
    boxes = page.locator("input[name=container]")
    expect(boxes).to_have_count(3)

    page.check("input[data-select-all=container]")
    for index in range(3):
        expect(boxes.nth(index)).to_be_checked()
    page.click("text=Report discharged")

    expect(page.locator(".messages")).to_contain_text("3 containers recorded as discharged.")
    expect(page.locator("input[name=container]")).to_have_count(0)  # none left aboard
    expect(page.locator("tbody tr td:last-child")).to_have_text(
        [re.compile(r"✓ \d\d:\d\d:\d\d")] * 3
    )
