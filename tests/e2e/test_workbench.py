"""The Playground as a workbench in a browser: Compare streaming three columns and "Continue with this one",
the variables form, a reload that keeps the chat, a message sent while an answer streams, and chat text
that is shown as typed and fetches nothing."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from backend.client import AssistantsClient
from studio.servers import server_key
from studio.store import StoreHandle, default_url
from tests.conftest import make_settings
from tests.e2e.conftest import (
    STATS,
    answers,
    go_to_tab,
    open_studio,
    questions,
    save_screenshot,
    send,
    wait_for_answer,
    wait_ready,
)

pytestmark = pytest.mark.browser

WORDS = " ".join(f"w{n}" for n in range(1, 61))  # at 30 ms a word, about 2 s of streaming


@pytest.fixture
def server_settings(tmp_path):
    """The echo engine waits 30 ms per word, so answers are caught while they stream."""
    return make_settings(tmp_path, echo_delay_ms=30)


def column_answers(panel, number: int):
    return panel.locator(f"#compare-chat-{number}").get_by_label(re.compile(r"^bot's message"))


def test_compare_streams_three_columns_at_once_and_continues_with_one(page):
    page.set_viewport_size({"width": 1400, "height": 900})  # the workbench's size: three columns side by side
    panel = go_to_tab(page, "Playground")
    panel.get_by_role("radio", name="Compare").check()
    expect(panel.locator("#compare-column-2")).to_be_visible()
    panel.get_by_role("button", name="Add a column").click()
    expect(panel.locator("#compare-column-3")).to_be_visible()
    expect(panel.get_by_text("Sending to 3 columns costs 3 tokens")).to_be_visible()

    box = panel.get_by_role("textbox", name="Message to every column")
    box.fill(WORDS)
    box.press("Enter")
    # Every column shows text while none has ended: they stream side by side, not one after another.
    for number in (1, 2, 3):
        expect(column_answers(panel, number).first).to_contain_text("You said: w1")
    assert not any(STATS.search(column_answers(panel, n).first.inner_text()) for n in (1, 2, 3))
    for number in (1, 2, 3):
        expect(column_answers(panel, number).first).to_contain_text(STATS)
        expect(column_answers(panel, number).first).to_contain_text("w60")
    tops = {round(panel.locator(f"#compare-column-{n}").bounding_box()["y"]) for n in (1, 2, 3)}
    assert len(tops) == 1  # side by side, not stacked
    save_screenshot(page, "compare", full_page=False)

    panel.locator("#compare-column-2").get_by_role("button", name="Continue with this one").click()
    expect(panel.get_by_role("radio", name="Chat")).to_be_checked()
    expect(answers(panel).first).to_contain_text("[turn 1] You said: w1 w2")
    # Typed only once the page has switched back to the chat, as a person does: the switch's answer arrives
    # after the radio shows Chat, and text typed before it could be lost.
    expect(panel.locator("#compare-column-1")).to_be_hidden()
    send(panel, "and after that?")
    wait_for_answer(panel, 2, "[turn 2] You said: and after that?")


def test_a_variables_form_appears_and_empty_ones_are_named(page):
    page.set_viewport_size({"width": 1400, "height": 900})
    panel = go_to_tab(page, "Playground")
    instructions = panel.get_by_role("textbox", name=re.compile(r"^Instructions"))
    instructions.fill("Teach {{topic}} to {{audience}}. Keep it short.")
    topic = panel.get_by_role("textbox", name="{{topic}}")
    audience = panel.get_by_role("textbox", name="{{audience}}")
    expect(topic).to_be_visible()
    expect(audience).to_be_visible()
    # Both fields sit under the instructions, on screen; the settings column scrolls for whatever follows,
    # never wrapping into a hidden second column.
    for field in (topic, audience):
        box = field.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, box
    settings = page.locator("#workbench-settings")
    sizes = settings.evaluate("c => [c.scrollWidth, c.clientWidth, c.scrollHeight, c.clientHeight]")
    assert sizes[0] == sizes[1], sizes
    settings.evaluate("c => c.scrollTo(0, c.scrollHeight)")
    expect(panel.get_by_text("Parameters", exact=True)).to_be_in_viewport()
    settings.evaluate("c => c.scrollTo(0, 0)")

    send(panel, "Begin")
    problem = panel.get_by_text(re.compile(r"^Problem: Fill in the variables “topic”, “audience”"))
    expect(problem).to_be_visible()
    expect(panel.get_by_role("textbox", name="Message")).to_have_value("Begin")
    expect(answers(panel)).to_have_count(0)

    topic.fill("chemistry")
    audience.fill("children")
    panel.get_by_role("button", name="Send").click()
    filled = "Teach chemistry to children. Keep it short."
    wait_for_answer(panel, 1, f"[turn 1 | instructions {len(filled)} chars] You said: Begin")
    expect(problem).to_be_hidden()
    save_screenshot(page, "playground-variables", full_page=False)


def test_a_reload_brings_the_conversation_back(context, studio):
    page = open_studio(context, studio.url)
    panel = go_to_tab(page, "Playground")
    send(panel, "remember me")
    wait_for_answer(panel, 1, "[turn 1] You said: remember me")
    send(panel, "and this")
    wait_for_answer(panel, 2, "[turn 2] You said: and this")

    page.reload()
    wait_ready(page)
    panel = go_to_tab(page, "Playground")
    expect(questions(panel)).to_have_count(2)
    expect(answers(panel).nth(1)).to_contain_text("[turn 2] You said: and this")
    send(panel, "still here?")
    wait_for_answer(panel, 3, "[turn 3] You said: still here?")  # it goes on with the whole history
    panel.get_by_role("button", name=re.compile(r"^Recent conversations")).click()
    recent = panel.get_by_role("combobox", name="Kept in this browser")
    recent.click()
    expect(page.get_by_role("option", name=re.compile(r"remember me · 3 turns"))).to_be_visible()
    page.keyboard.press("Escape")

    # Undo and Clear change the kept copy too: a reload shows the conversation as it was left.
    panel.get_by_role("button", name="Undo last turn").click()
    expect(questions(panel)).to_have_count(2)
    recent.click()  # the list follows the copy, written by the step after Undo
    expect(page.get_by_role("option", name=re.compile(r"remember me · 2 turns"))).to_be_visible()
    page.keyboard.press("Escape")
    page.reload()
    wait_ready(page)
    panel = go_to_tab(page, "Playground")
    expect(questions(panel)).to_have_count(2)
    panel.get_by_role("button", name="Clear chat").click()
    expect(questions(panel)).to_have_count(0)
    panel.get_by_role("button", name=re.compile(r"^Recent conversations")).click()
    panel.get_by_role("combobox", name="Kept in this browser").click()
    expect(page.get_by_role("option", name=re.compile(r"remember me"))).to_have_count(0)
    page.keyboard.press("Escape")
    page.reload()
    wait_ready(page)
    panel = go_to_tab(page, "Playground")
    expect(panel.get_by_text("Say hello, or pick an assistant first.")).to_be_visible()
    expect(questions(panel)).to_have_count(0)


def test_a_message_sent_while_an_answer_streams_is_refused_aloud(page):
    panel = go_to_tab(page, "Playground")
    send(panel, WORDS)
    expect(answers(panel).first).to_contain_text("You said: w1")
    send(panel, "me too")
    expect(panel.get_by_text(re.compile(r"^Problem: An answer is still streaming"))).to_be_visible()
    expect(panel.get_by_role("textbox", name="Message")).to_have_value("me too")
    wait_for_answer(panel, 1, "w60")
    expect(questions(panel)).to_have_count(1)


def test_chat_text_is_shown_as_typed_and_no_image_is_fetched(context, studio):
    requested: list[str] = []
    refused: list[str] = []  # by the browser itself, before any request left it
    context.on("request", lambda request: requested.append(request.url))
    context.on("requestfailed", lambda r: refused.append(r.url) if r.failure == "csp" else None)
    page = open_studio(context, studio.url)
    panel = go_to_tab(page, "Playground")
    message = (
        'Is this HTML right? <div class="box"><b>Hi</b></div> *not bold* '
        "![x](http://example.net/p.png?q=secret) <img src=http://example.net/i.png>"
    )
    send(panel, message)
    answer = wait_for_answer(panel, 1, "[turn 1] You said: Is this HTML right?")
    question = questions(panel).first
    expect(question).to_contain_text('<div class="box"><b>Hi</b></div> *not bold*')  # as typed
    expect(question).to_contain_text("![x](http://example.net/p.png?q=secret)")
    expect(answer).to_contain_text('<div class="box"><b>Hi</b></div>')  # HTML in an answer is text
    expect(answer).to_contain_text("<img src=http://example.net/i.png>")
    log = panel.get_by_role("log")
    expect(log.locator("img[src*='example.net']")).to_have_count(0)
    expect(log.locator("b", has_text="Hi")).to_have_count(0)
    # Behind the text's preparation, the browser's own check: an image from elsewhere, however it got into
    # the page, is not fetched (the studio's Content-Security-Policy).
    injected = "http://example.net/injected.png"
    page.evaluate(
        """src => new Promise(done => {
            const img = document.createElement("img");
            img.onload = img.onerror = done;
            img.src = src;
            document.body.append(img);
        })""",
        injected,
    )
    for _ in range(100):  # the failure is reported a moment after the image gave up
        if injected in refused:
            break
        page.wait_for_timeout(50)
    assert injected in refused
    elsewhere = [url for url in requested if urlsplit(url).hostname not in ("127.0.0.1", "localhost")]
    assert [url for url in elsewhere if url not in refused] == []


def test_a_conversation_starter_is_sent_with_the_variables_filled_in(page):
    """A starter is a message like any other: the instructions' variables are filled in from the form."""
    market = go_to_tab(page, "Marketplace")
    market.get_by_role("textbox", name="Search the marketplace").fill("regular expressions")
    market.get_by_role("textbox", name="Search the marketplace").press("Enter")
    # Each step waits for the page to show the last one's answer, as a person does: a click on a row of
    # the results before the search's answer arrives picks from the old page, and "Try it" before the
    # selection's answer arrives is told to pick an assistant first.
    expect(market.get_by_text("Page 1 of 1 · 1 assistant", exact=True)).to_be_visible()
    market.get_by_role("grid", name="Marketplace results").get_by_role(
        "gridcell", name="Regex Builder", exact=True
    ).click()
    expect(market.get_by_role("heading", name="Regex Builder")).to_be_visible()
    market.get_by_role("button", name="Try it in the Playground").click()

    panel = go_to_tab(page, "Playground")
    instructions = panel.get_by_role("textbox", name=re.compile(r"^Instructions"))
    expect(panel.get_by_text(re.compile(r"marketplace, tried without copying"))).to_be_visible()
    expect(instructions).to_have_value(re.compile(r"\S"))
    instructions.fill("Write regular expressions in {{flavour}}.")
    panel.get_by_role("textbox", name="{{flavour}}").fill("Python")
    starter = "Regex to match UK postcodes, Python flavour."
    panel.get_by_role("button", name=starter).click()
    filled = "Write regular expressions in Python."
    expect(answers(panel).first).to_contain_text(
        f"[turn 1 | instructions {len(filled)} chars] You said: {starter}"
    )
    expect(panel.get_by_text(re.compile(r"^Problem"))).to_have_count(0)


def test_a_message_edited_with_the_chats_own_pencil_is_sent_as_typed(page):
    panel = go_to_tab(page, "Playground")
    send(panel, "What's 2+2?")
    wait_for_answer(panel, 1, "[turn 1] You said: What's 2+2?")
    log = panel.get_by_role("log")
    log.get_by_role("button", name="Edit").first.click()
    box = log.get_by_role("textbox")
    box.press("End")
    box.press_sequentially(" And 3+3?")  # the box starts from the message as shown
    log.get_by_role("button", name="Submit").click()
    wait_for_answer(panel, 1, "[turn 1] You said: What's 2+2? And 3+3?")
    expect(questions(panel)).to_have_count(1)
    expect(questions(panel).first).to_have_text("What's 2+2? And 3+3?")


def test_a_compare_column_on_the_chats_assistant_offers_its_versions(page, studio):
    """A column starts on "the chat's assistant", a choice its own picker never announces: its Version
    picker must still list that assistant's versions, and running one of them says so."""
    with AssistantsClient(base_url=studio.server.base_url, api_key=studio.server.api_key) as api:
        tutor = api.assistants.create(name="Tutor", model="gpt-5-nano", instructions="Short.")
        store = StoreHandle(default_url(studio.server.settings.data_dir))
        server = server_key("", local_data_dir=studio.server.settings.data_dir)
        store.get().history.record(server, tutor, "create")
        store.get().history.record(server, api.assistants.update(tutor.id, instructions="Longer."), "save")
        store.close()
    panel = go_to_tab(page, "Playground")
    picker = panel.get_by_role("combobox", name="Assistant").first
    picker.click()
    page.get_by_role("option", name=re.compile(r"^Tutor")).click()
    expect(panel.get_by_role("textbox", name=re.compile(r"^Instructions"))).to_have_value("Longer.")
    panel.get_by_role("radio", name="Compare").check()
    panel.get_by_role("button", name="Column 1 settings").click()
    versions = panel.locator("#compare-version-1").get_by_role("combobox")
    versions.click()
    page.get_by_role("option", name=re.compile(r"^v1 · ")).click()
    panel.get_by_role("button", name="Use these settings in column 1").click()
    expect(panel.locator("#compare-column-1")).to_contain_text("Tutor · v1 (older)")
