"""Use-Case Templates in a browser: start from a template and land in the Playground with it selected."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import go_to_tab, save_screenshot

pytestmark = pytest.mark.browser


def test_start_from_a_template_and_chat_with_it(page):
    panel = go_to_tab(page, "Use-Case Templates")
    expect(panel.get_by_text("Pick a template above", exact=False)).to_be_visible()
    panel.get_by_role("button", name=re.compile(r"^🎓 Tutor")).click()
    expect(panel.get_by_role("combobox", name="Template")).to_have_value("🎓 Tutor")
    name = panel.get_by_role("textbox", name="Name")
    expect(name).to_have_value("Tutor")
    expect(panel.get_by_role("textbox", name="Instructions")).to_have_value(re.compile(r"\S"))
    save_screenshot(page, "templates")

    name.fill("Algebra Tutor")
    panel.get_by_role("button", name="Create and open in Playground").click()

    expect(page.get_by_role("tab", name="Playground")).to_have_attribute("aria-selected", "true")
    playground = page.get_by_role("tabpanel")
    expect(playground.get_by_role("combobox", name="Assistant")).to_have_value(
        re.compile(r"^Algebra Tutor · ")
    )
    expect(playground.get_by_text(re.compile(r"Algebra Tutor · .* · my assistant"))).to_be_visible()
    instructions = playground.get_by_role("textbox", name=re.compile(r"^Instructions"))
    expect(instructions).to_have_value(re.compile(r"\S"))

    message = playground.get_by_role("textbox", name="Message")
    message.fill("What is x if 2x = 6?")
    message.press("Enter")
    chat = playground.get_by_role("log")
    expect(
        chat.get_by_text(re.compile(r"\[turn 1 \| instructions \d+ chars\] You said: What is x if 2x = 6\?"))
    ).to_be_visible()

    mine = go_to_tab(page, "My Assistants")
    expect(
        mine.get_by_role("grid", name="My assistants").get_by_role("gridcell", name="Algebra Tutor")
    ).to_be_visible()
