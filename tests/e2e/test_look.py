"""The look in a browser: nothing fetched off this machine, readable in light and dark, at laptop and phone
widths, a chat that keeps its size, and a keyboard order that follows the page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, answers, go_to_tab, open_studio, save_screenshot, send, wait_for_answer

pytestmark = pytest.mark.browser

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
AA_TEXT = 4.5  # WCAG AA contrast for body text
AA_LARGE = 3.0  # and for large or bold text such as button labels

# The colour of an element's text and of the first opaque background behind it, as [r, g, b, alpha].
_COLOURS = """element => {
  const parse = value => {
    const parts = value.match(/rgba?\\(([^)]+)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return parts.length === 3 ? [...parts, 1] : parts;
  };
  let node = element, background = [255, 255, 255, 1];
  while (node) {
    const colour = parse(getComputedStyle(node).backgroundColor);
    if (colour[3] > 0.5) { background = colour; break; }
    node = node.parentElement;
  }
  return {text: parse(getComputedStyle(element).color), background};
}"""


def _luminance(rgb: list[float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(locator: Any) -> float:
    """The WCAG contrast ratio of an element's text against what is behind it."""
    colours = locator.evaluate(_COLOURS)
    text, background = colours["text"], colours["background"]
    if text[3] < 1:  # translucent text: blend it over its background first
        text = [t * text[3] + b * (1 - text[3]) for t, b in zip(text[:3], background[:3], strict=True)]
    lighter, darker = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def chat(panel: Any, *messages: str) -> None:
    """Send each message in turn and wait for its answer to end."""
    for text in messages:
        number = answers(panel).count() + 1
        send(panel, text)
        wait_for_answer(panel, number, f"[turn {number}] You said: {text}")


def test_the_page_fetches_nothing_from_off_this_machine(context, studio):
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = open_studio(context, studio.url)
    for name in ("Marketplace", "Use-Case Templates", "Playground"):
        go_to_tab(page, name)
    chat(page.get_by_role("tabpanel"), "is anyone out there?")
    dark = open_studio(context, studio.url, "?__theme=dark")
    go_to_tab(dark, "Marketplace")
    expect(dark.get_by_role("grid", name="Marketplace results").get_by_role("row").nth(1)).to_be_visible()

    network = [url for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    assert network, "no request was recorded at all"
    assert [url for url in network if urlsplit(url).hostname not in LOCAL_HOSTS] == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_is_readable_in_light_and_dark(new_context, studio, theme):
    context = new_context(color_scheme=theme)
    page = open_studio(context, studio.url, f"?__theme={theme}")
    is_dark = page.evaluate("document.body.classList.contains('dark')")
    assert is_dark == (theme == "dark")
    panel = go_to_tab(page, "Playground")
    chat(panel, "hello", "how dark is it?")
    message = panel.get_by_role("textbox", name="Message")
    message.fill("a message on its way")

    answer = answers(panel).last
    readable = {
        "the answer": (answer.get_by_role("paragraph").first, AA_TEXT),
        "your message": (panel.get_by_role("log").get_by_role("paragraph").first, AA_TEXT),
        "the input": (message, AA_TEXT),
        "the cost line": (panel.get_by_text(re.compile(r"^Sending costs")), AA_TEXT),
        "the status line": (page.get_by_text(re.compile(r"· answering ·")), AA_TEXT),
        "a tab": (page.get_by_role("tab", name="Marketplace"), AA_TEXT),
        "the Send button": (panel.get_by_role("button", name="Send"), AA_LARGE),
        "the Stop button": (panel.get_by_role("button", name="Stop"), AA_LARGE),
    }
    ratios = {what: round(contrast(element), 2) for what, (element, _) in readable.items()}
    too_faint = {what: ratio for what, ratio in ratios.items() if ratio < readable[what][1]}
    assert too_faint == {}, f"too faint in {theme} mode: {too_faint}"
    if theme == "dark":
        save_screenshot(page, "playground-dark", full_page=False)


def test_phone_width_fits_and_the_chat_keeps_its_height(new_context, studio):
    page = open_studio(new_context(viewport=PHONE, is_mobile=True, has_touch=True), studio.url)
    panel = go_to_tab(page, "Playground")
    log = panel.get_by_role("log")
    height = log.bounding_box()["height"]
    for text in ("hi", "a longer message, to see how the bubbles wrap on a narrow screen", "third"):
        chat(panel, text)
        assert log.bounding_box()["height"] == height  # the page does not jump as answers arrive

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for button in ("Send", "Stop"):
        box = panel.get_by_role("button", name=button).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{button} is off the screen"
    # What a person sees on the phone while chatting: the conversation with the message box under it.
    panel.get_by_role("button", name="Send").evaluate("send => send.scrollIntoView({block: 'end'})")
    save_screenshot(page, "playground-phone", full_page=False)


def test_keyboard_order_follows_the_page(page):
    panel = go_to_tab(page, "Playground")
    panel.get_by_role("textbox", name="Message").focus()
    for name in ("Send", "Stop", "Regenerate last answer", "Undo last turn", "Clear chat"):
        page.keyboard.press("Tab")
        expect(panel.get_by_role("button", name=name)).to_be_focused()

    panel = go_to_tab(page, "My Assistants")
    panel.get_by_role("textbox", name="Name").focus()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("combobox", name="Model")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("textbox", name="Instructions")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("textbox", name="Description")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("textbox", name="Note for this version (optional)")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="New assistant")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Create assistant")).to_be_focused()
