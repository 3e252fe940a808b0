"""Demo mode in a browser: every tab can be browsed and chatted in, and none offers to create, change or delete."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import go_to_tab, open_folds, open_studio

pytestmark = pytest.mark.browser

# Every button that would change the stored assistants starts with one of these words.
CHANGES = re.compile(r"^\s*(create|save|delete|import|add|new|confirm|rename|update)\b", re.IGNORECASE)
TABS = ["My Assistants", "Marketplace", "Playground", "Use-Case Templates", "Test Suites", "Usage"]


def test_demo_mode_offers_no_way_to_change_anything(context, demo_studio):
    page = open_studio(context, demo_studio.url)
    expect(page.get_by_text("Read-only demo:")).to_be_visible()
    for name in TABS:
        panel = go_to_tab(page, name)
        open_folds(panel)  # buttons folded away in an accordion are looked at too
        expect(panel.get_by_role("button").first).to_be_visible()
        changes = panel.get_by_role("button", name=CHANGES)
        expect(changes, f"{name} offers {changes.all_inner_texts()}").to_have_count(0)

    # The fields of My Assistants can be read, not typed in.
    panel = go_to_tab(page, "My Assistants")
    for label in ("Name", "Instructions", "Description"):
        expect(panel.get_by_role("textbox", name=label, exact=True)).to_be_disabled()

    # Chatting still works: the demo is for trying assistants.
    panel = go_to_tab(page, "Playground")
    message = panel.get_by_role("textbox", name="Message")
    message.fill("hello from the demo")
    message.press("Enter")
    expect(panel.get_by_role("log")).to_contain_text("[turn 1] You said: hello from the demo")
