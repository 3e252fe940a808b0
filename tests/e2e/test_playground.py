"""The Playground in a browser: streaming turns, stop, regenerate, undo, export, a failing server, two people."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import make_settings
from tests.e2e.conftest import (
    answers,
    go_to_tab,
    open_studio,
    questions,
    save_screenshot,
    send,
    wait_for_answer,
)

pytestmark = pytest.mark.browser

LONG = " ".join(f"w{n}" for n in range(1, 151))  # 150 words: at 30 ms a word, an answer of about 5 s


@pytest.fixture
def server_settings(tmp_path):
    """The echo engine waits 30 ms per word, so an answer is still streaming when Stop is pressed."""
    return make_settings(tmp_path, echo_delay_ms=30)


def test_chat_stream_stop_regenerate_undo_and_export(page):
    panel = go_to_tab(page, "Playground")
    expect(panel.get_by_text("Say hello, or pick an assistant first.")).to_be_visible()
    box = panel.get_by_role("textbox", name="Message")
    chat = panel.get_by_role("log")

    send(panel, "hello")
    wait_for_answer(panel, 1, "[turn 1] You said: hello")
    expect(box).to_have_value("")

    # Shift+Enter adds a line; Enter sends both lines as one message.
    box.press_sequentially("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    expect(box).to_have_value("first line\nsecond line")
    box.press("Enter")
    expect(questions(panel)).to_have_count(2)
    expect(questions(panel).nth(1)).to_contain_text("first line")
    expect(questions(panel).nth(1)).to_contain_text("second line")
    wait_for_answer(panel, 2, "[turn 2] You said: first line")

    box.fill("and a third")
    panel.get_by_role("button", name="Send").click()
    wait_for_answer(panel, 3, "[turn 3] You said: and a third")
    expect(panel.get_by_text("Sending costs 1 token (gpt-5-nano) · balance 99,997 tokens")).to_be_visible()
    save_screenshot(page, "playground")

    # A long answer: the chat keeps its size while it streams; Stop keeps what arrived, marked stopped.
    chat_box, input_box = chat.bounding_box(), box.bounding_box()
    send(panel, LONG)
    fourth = answers(panel).nth(3)
    expect(fourth).to_contain_text("You said: w1 w2 w3 w4 w5")
    assert chat.bounding_box()["height"] == chat_box["height"]
    assert box.bounding_box()["y"] == input_box["y"]
    panel.get_by_role("button", name="Stop").click()
    expect(fourth).to_contain_text("Stopped")
    expect(fourth).to_contain_text("[turn 4] You said: w1")
    expect(fourth).not_to_contain_text("w150")
    assert chat.bounding_box()["height"] == chat_box["height"]
    expect(chat.get_by_role("button", name="Edit").last).to_be_enabled()

    panel.get_by_role("button", name="Regenerate last answer").click()
    wait_for_answer(panel, 4, "w149 w150")
    expect(answers(panel).nth(3)).not_to_contain_text("Stopped")
    expect(answers(panel)).to_have_count(4)

    panel.get_by_role("button", name="Undo last turn").click()
    expect(answers(panel)).to_have_count(3)
    expect(box).to_have_value(LONG)  # the undone message comes back, to be changed and sent again

    panel.get_by_role("button", name=re.compile(r"^Export")).click()
    panel.get_by_role("button", name="Export as JSON").click()
    # The file's row names it; its link is labelled with the size ("559.0 B ⇣").
    file_row = panel.get_by_role("row", name=re.compile(r"^conversation-blank-assistant\.json "))
    with page.expect_download() as download_info:
        file_row.get_by_role("link").click()
    download = download_info.value
    assert download.suggested_filename == "conversation-blank-assistant.json"
    exported = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert exported["format"] == "assistant-studio/conversation"
    assert [m["content"] for m in exported["messages"]] == [
        "hello",
        "[turn 1] You said: hello",
        "first line\nsecond line",
        "[turn 2] You said: first line\nsecond line",
        "and a third",
        "[turn 3] You said: and a third",
    ]
    assert [turn["status"] for turn in exported["turns"]] == ["done", "done", "done"]


def test_a_server_failing_mid_conversation_keeps_the_conversation_and_the_text(page, studio):
    panel = go_to_tab(page, "Playground")
    # A look at the parameters first: opening them once made every message fail (Max tokens showed 0).
    panel.get_by_role("button", name=re.compile(r"^Parameters")).click()
    expect(panel.get_by_role("spinbutton", name="Max tokens")).to_be_visible()
    send(panel, "one")
    wait_for_answer(panel, 1, "[turn 1] You said: one")
    send(panel, "two")
    wait_for_answer(panel, 2, "[turn 2] You said: two")

    studio.server.stop()
    send(panel, "are you still there?")
    problem = panel.get_by_text(re.compile(r"^Problem: Could not connect to the server"))
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("Check that the server is running")
    expect(answers(panel).nth(0)).to_contain_text("[turn 1] You said: one")
    expect(answers(panel).nth(1)).to_contain_text("[turn 2] You said: two")
    expect(panel.get_by_role("textbox", name="Message")).to_have_value("are you still there?")
    expect(answers(panel).nth(2)).to_contain_text("Not answered: Could not connect to the server")
    expect(answers(panel).nth(2)).to_contain_text("Press Retry to ask again.")
    expect(panel.get_by_role("button", name="Retry")).to_be_visible()


def test_two_people_chatting_at_once_each_see_only_their_own(new_context, studio):
    pages = [open_studio(new_context(), studio.url) for _ in range(2)]
    panels = [go_to_tab(page, "Playground") for page in pages]
    words = ["apples " * 40, "pears " * 40]  # long enough that the two answers stream side by side
    for turn in (1, 2):
        for who, panel in enumerate(panels):
            send(panel, f"{words[who]}{turn}")
        for who, panel in enumerate(panels):
            wait_for_answer(panel, turn, f"[turn {turn}] You said: {words[who]}{turn}")
    for who, panel in enumerate(panels):
        expect(answers(panel)).to_have_count(2)
        expect(panel.get_by_role("log")).not_to_contain_text(words[1 - who].split()[0])
