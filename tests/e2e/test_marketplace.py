"""The Marketplace in a browser: pick a category, search, open an assistant, add it to My Assistants."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import go_to_tab, save_screenshot

pytestmark = pytest.mark.browser


def test_find_a_marketplace_assistant_and_add_it_to_mine(page):
    panel = go_to_tab(page, "Marketplace")
    results = panel.get_by_role("grid", name="Marketplace results")
    expect(panel.get_by_text(re.compile(r"^Page 1 of \d+ · \d+ assistants$"))).to_be_visible()
    results.get_by_role("gridcell").first.click()
    detail = panel.get_by_role("heading", level=3)
    expect(detail).to_be_visible()
    detail.click()  # leaves the table, so the picture shows no cell cursor
    save_screenshot(page, "marketplace")

    category = panel.get_by_role("combobox", name="Category")
    category.click()
    page.get_by_role("option", name="coding", exact=True).click()
    expect(category).to_have_value("coding")
    expect(results.get_by_role("gridcell", name="education", exact=True)).to_have_count(0)
    expect(results.get_by_role("gridcell", name="coding", exact=True).first).to_be_visible()

    search = panel.get_by_role("textbox", name="Search the marketplace")
    search.fill("no such words anywhere")
    panel.get_by_role("button", name="Search", exact=True).click()
    expect(panel.get_by_text("No assistants match. Try other words, or pick All categories.")).to_be_visible()

    search.fill("regular expressions")
    search.press("Enter")
    expect(panel.get_by_text("Page 1 of 1 · 1 assistant", exact=True)).to_be_visible()
    results.get_by_role("gridcell", name="Regex Builder", exact=True).click()
    expect(panel.get_by_role("heading", name="Regex Builder")).to_be_visible()
    expect(panel.get_by_role("textbox", name="Instructions")).to_have_value(re.compile(r"\S"))
    expect(panel.get_by_role("textbox", name="Conversation starters")).to_have_value(re.compile(r"^• "))

    panel.get_by_role("button", name="Add to My Assistants").click()
    expect(panel.get_by_text("Added “Regex Builder” to My Assistants.")).to_be_visible()

    mine = go_to_tab(page, "My Assistants")
    table = mine.get_by_role("grid", name="My assistants")
    expect(table.get_by_role("gridcell", name="Regex Builder", exact=True)).to_be_visible()
    expect(
        table.get_by_role("gridcell", name=re.compile(r"\(from Marketplace: Regex Builder by "))
    ).to_be_visible()
    expect(mine.get_by_text("1 assistant", exact=True)).to_be_visible()
