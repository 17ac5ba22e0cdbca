"""Goods lines are added and removed in the page, for declarations and certificates alike."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.parametrize(
    ("username", "path"), [("importer", "/declarations/new/"), ("exporter", "/certificates/new/")]
)
def test_lines_are_added_removed_and_renumbered(transactional_db, demo, new_page, username, path):
    page = new_page(username)
    page.goto(path)
    rows = page.locator("table[data-formset=items] tbody tr")
    expect(rows).to_have_count(1)

    page.click("[data-formset-add=items]")
    page.click("[data-formset-add=items]")
    expect(rows).to_have_count(3)
    page.fill("#id_items-2-description", "third line")
    rows.nth(1).locator("[data-remove-item]").click()

    expect(rows).to_have_count(2)
    assert page.input_value("#id_items-TOTAL_FORMS") == "2"
    expect(page.locator("#id_items-1-description")).to_have_value("third line")
