"""The History panel in a browser: edit an assistant twice, see the diff, label one production, restore an
older one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import go_to_tab, save_screenshot

pytestmark = pytest.mark.browser


def test_edit_twice_see_the_diff_label_production_and_restore(page):
    panel = go_to_tab(page, "My Assistants")
    panel.get_by_role("textbox", name="Name").fill("Haiku Poet")
    instructions = panel.get_by_role("textbox", name="Instructions")
    instructions.fill("Answer in haiku about autumn.")
    panel.get_by_role("button", name="Create assistant").click()
    expect(panel.get_by_text("Created “Haiku Poet”.")).to_be_visible()
    history = panel.locator("#history-table")
    expect(history.get_by_role("gridcell", name="v1", exact=True)).to_be_visible()

    note = panel.get_by_role("textbox", name="Note for this version (optional)")
    instructions.fill("Answer in a haiku about spring.")
    note.fill("spring instead")
    panel.get_by_role("button", name="Save changes").click()
    expect(panel.get_by_text("Saved “Haiku Poet”. Recorded as version 2.")).to_be_visible()
    instructions.fill("Answer in a haiku about spring, with a kigo.")
    panel.get_by_role("button", name="Save changes").click()
    expect(panel.get_by_text("Saved “Haiku Poet”. Recorded as version 3.")).to_be_visible()
    expect(panel.get_by_text(re.compile(r"^3 versions"))).to_be_visible()
    expect(history.get_by_role("gridcell", name="spring instead")).to_be_visible()

    # Clicking a version shows what it changed, word by word, in place.
    history.get_by_role("gridcell", name="v2", exact=True).click()
    diff = panel.locator("#history-diff")
    expect(diff).to_contain_text("v1 → v2")
    expect(diff.locator("del")).to_have_text(["autumn"])
    expect(diff.locator("ins")).to_have_text(["a ", "spring"])

    panel.get_by_role("textbox", name="Label").fill("production")
    panel.get_by_role("button", name="Label this version").click()
    expect(panel.get_by_text("“production” now points at version 2.")).to_be_visible()
    expect(history.get_by_role("gridcell", name="production")).to_be_visible()
    save_screenshot(page, "history", full_page=False)

    panel.get_by_role("spinbutton", name="Version", exact=True).fill("1")
    panel.get_by_role("button", name="Restore this version").click()
    expect(
        panel.get_by_text(re.compile(r"^Restored version 1 of “Haiku Poet”\. Recorded as version 4\."))
    ).to_be_visible()
    expect(instructions).to_have_value("Answer in haiku about autumn.")  # the form shows what was restored
    expect(history.get_by_role("gridcell", name="v4", exact=True)).to_be_visible()
    expect(history.get_by_role("gridcell", name="restored", exact=True)).to_be_visible()

    # Deleted, its history stays; brought back, the form and the list show it again, its history going on.
    panel.get_by_role("button", name="Delete…").click()
    panel.locator("#confirm-delete").click()
    expect(panel.get_by_text(re.compile(r"^Deleted “Haiku Poet”\. Its history is kept"))).to_be_visible()
    panel.get_by_text("Deleted assistants", exact=True).click()
    panel.get_by_role("button", name="Bring it back").click()
    expect(panel.get_by_text("Click a deleted assistant in the list first.")).to_be_visible()
    panel.get_by_role("button", name="Refresh the list").click()
    panel.locator("#deleted-table").get_by_role("gridcell", name="Haiku Poet", exact=True).click()
    panel.get_by_role("button", name="Bring it back").click()
    expect(panel.get_by_text(re.compile(r"^Brought back “Haiku Poet” as asst_"))).to_be_visible()
    expect(panel.get_by_role("textbox", name="Name")).to_have_value("Haiku Poet")
    expect(instructions).to_have_value("Answer in haiku about autumn.")
    table = panel.get_by_role("grid", name="My assistants")
    expect(table.get_by_role("gridcell", name="Haiku Poet", exact=True)).to_be_visible()
    expect(history.get_by_role("gridcell", name="v5", exact=True)).to_be_visible()
