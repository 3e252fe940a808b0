"""My Assistants in a browser: create one, find it, edit it, delete it after confirming."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backend.client import AssistantsClient
from tests.e2e.conftest import go_to_tab, save_screenshot, wait_ready
from ui.assistants_io import EMPTY_TEXT

pytestmark = pytest.mark.browser


def test_create_find_edit_and_delete_an_assistant(page, studio):
    panel = go_to_tab(page, "My Assistants")
    expect(panel.get_by_text(EMPTY_TEXT)).to_be_visible()
    table = panel.get_by_role("grid", name="My assistants")

    # Two assistants made elsewhere (the API), so the search has something to leave out.
    with AssistantsClient(base_url=studio.server.base_url, api_key=studio.server.api_key) as api:
        api.assistants.create(name="Poet", model="gpt-5", instructions="Rhyme.", description="Writes verse")
        api.assistants.create(
            name="Translator", model="deepseek-v3", instructions="Translate.", description="Any language"
        )
    panel.get_by_role("button", name="Refresh list").click()
    expect(panel.get_by_text("2 assistants", exact=True)).to_be_visible()

    panel.get_by_role("textbox", name="Name").fill("Math Tutor")
    expect(panel.get_by_role("combobox", name="Model")).to_have_value(re.compile(r"^gpt-5-nano · "))
    panel.get_by_role("textbox", name="Instructions").fill("Explain step by step, kindly.")
    panel.get_by_role("textbox", name="Description").fill("A patient tutor for algebra")
    panel.get_by_role("button", name="Create assistant").click()
    expect(panel.get_by_text("Created “Math Tutor”.")).to_be_visible()
    expect(table.get_by_role("gridcell", name="Math Tutor", exact=True)).to_be_visible()
    expect(panel.get_by_text("3 assistants", exact=True)).to_be_visible()
    save_screenshot(page, "my-assistants")

    # Later, in a fresh page: find it by a word of its description, and open it.
    page.reload()
    wait_ready(page)
    panel = go_to_tab(page, "My Assistants")
    table = panel.get_by_role("grid", name="My assistants")
    expect(panel.get_by_text("3 assistants", exact=True)).to_be_visible()
    search = panel.get_by_role("textbox", name="Search my assistants")
    search.fill("algebra")
    search.press("Enter")
    expect(panel.get_by_text("Showing 1 of 3 assistants.")).to_be_visible()
    expect(table.get_by_role("gridcell", name="Poet", exact=True)).to_have_count(0)
    table.get_by_role("gridcell", name="Math Tutor", exact=True).click()
    expect(panel.get_by_role("textbox", name="Name")).to_have_value("Math Tutor")
    expect(panel.get_by_role("textbox", name="Instructions")).to_have_value("Explain step by step, kindly.")
    expect(panel.get_by_role("textbox", name="Assistant ID")).to_have_value(re.compile(r"\S"))

    description = panel.get_by_role("textbox", name="Description")
    description.fill("A patient tutor for algebra and geometry")
    panel.get_by_role("button", name="Save changes").click()
    expect(panel.get_by_text("Saved “Math Tutor”. Recorded as version 2.")).to_be_visible()
    expect(table.get_by_role("gridcell", name="A patient tutor for algebra and geometry")).to_be_visible()

    panel.get_by_role("button", name="Delete…").click()
    expect(
        panel.get_by_text("Delete “Math Tutor”? It leaves the server; the studio keeps its history")
    ).to_be_visible()
    panel.get_by_role("button", name="Confirm delete").click()
    expect(panel.get_by_text("Deleted “Math Tutor”. Its history is kept")).to_be_visible()
    expect(panel.get_by_role("button", name="Confirm delete")).to_be_hidden()
    expect(panel.get_by_role("textbox", name="Name")).to_have_value("")
    expect(panel.get_by_text("No assistants match “algebra”. Clear the search to see all 2.")).to_be_visible()

    search.fill("")
    search.press("Enter")
    expect(panel.get_by_text("2 assistants", exact=True)).to_be_visible()
    expect(table.get_by_role("gridcell", name="Poet", exact=True)).to_be_visible()
    expect(table.get_by_role("gridcell", name="Math Tutor", exact=True)).to_have_count(0)


def test_cancelling_a_delete_keeps_the_assistant(page, studio):
    with AssistantsClient(base_url=studio.server.base_url, api_key=studio.server.api_key) as api:
        api.assistants.create(name="Keeper", model="gpt-5-nano", instructions="Stay.")
    panel = go_to_tab(page, "My Assistants")
    table = panel.get_by_role("grid", name="My assistants")
    panel.get_by_role("button", name="Refresh list").click()
    table.get_by_role("gridcell", name="Keeper", exact=True).click()
    expect(panel.get_by_role("textbox", name="Name")).to_have_value("Keeper")
    panel.get_by_role("button", name="Delete…").click()
    panel.get_by_role("button", name="Cancel").click()
    expect(panel.get_by_role("button", name="Confirm delete")).to_be_hidden()
    panel.get_by_role("button", name="Refresh list").click()
    expect(table.get_by_role("gridcell", name="Keeper", exact=True)).to_be_visible()
    expect(panel.get_by_text("1 assistant", exact=True)).to_be_visible()
