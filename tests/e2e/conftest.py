"""Browser fixtures: Debian's Chromium driven by Playwright, and the real studio on the local server.

One browser per test module (starting Chromium is the slow part); every test gets a fresh local server
with its own data folder, its own launched studio, and a new browser context, so nothing leaks between
tests. A test module changes the server's settings by overriding the `server_settings` fixture.

Elements are found by role and accessible name, as a screen reader would find them; the few fallbacks
are marked "Fallback:" where Gradio gives no accessible name or state.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.ui.conftest import _launched

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the networking switches Chromium phones home (updates, sync, field trials) on start-up.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = (
    "The browser tests need Debian's Chromium, and it is not installed: run `apt-get install chromium` "
    "(as root, or with sudo), or run `bash scripts/test.sh`, which installs it."
)
WAIT_MS = 30_000  # the longest any expectation waits for the page: an upper bound, never a speed test
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
STATS = re.compile(r"gpt-5-nano · (answered by \w+ · )?\d+ tokens? · ")  # under an answer once it has ended


# --- Fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for the whole module; a missing browser fails the tests and says what to install."""
    if not Path(CHROMIUM).exists():
        pytest.fail(NO_CHROMIUM, pytrace=False)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Exception as err:  # a broken install reads like a missing one, with the real cause after it
            pytest.fail(f"{NO_CHROMIUM}\nChromium did not start: {err}", pytrace=False)
        yield chromium
        chromium.close()


@dataclass
class Studio:
    """A launched studio: its address and the local server behind it."""

    url: str
    server: Any  # backend.server.embedded.EmbeddedServer


def _launch(local_server: Any, *, demo: bool) -> Iterator[Studio]:
    for url in _launched(local_server, demo=demo):  # launched exactly as the UI tests launch it
        yield Studio(url=url, server=local_server)


@pytest.fixture
def studio(local_server) -> Iterator[Studio]:
    """The full studio on a fresh local server (echo engine)."""
    yield from _launch(local_server, demo=False)


@pytest.fixture
def demo_studio(local_server) -> Iterator[Studio]:
    """The same studio in read-only demo mode."""
    yield from _launch(local_server, demo=True)


@pytest.fixture
def new_context(browser) -> Iterator[Callable[..., Any]]:
    """Make browser contexts (laptop-sized unless told otherwise), all closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(**{"viewport": LAPTOP, "accept_downloads": True, **options})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context) -> Any:
    """One laptop-sized browser context for the test."""
    return new_context()


@pytest.fixture
def page(context, studio) -> Any:
    """A page on the full studio, ready to use."""
    return open_studio(context, studio.url)


# --- Moving around the studio ------------------------------------------------------------------------


def wait_ready(page: Any) -> None:
    """Wait until the studio's tabs are there and its load events have run."""
    expect(page.get_by_role("tablist")).to_be_visible()
    # The status line answers once the page's load events have run: the page is wired from then on.
    expect(page.get_by_text(re.compile(r"answering · [\d,]+ tokens"))).to_be_visible()


def open_studio(context: Any, url: str, query: str = "") -> Any:
    """A new page on the studio, once it is ready."""
    page = context.new_page()
    page.goto(url + query)
    wait_ready(page)
    return page


def go_to_tab(page: Any, name: str) -> Any:
    """Show a tab; returns its panel, where every later look-up happens (other tabs reuse labels)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.is_visible():
        tab.click()
    else:  # on a narrow screen Gradio folds the other tabs into a "More tabs" menu
        page.get_by_role("button", name="More tabs").click()
        page.get_by_role("button", name=name, exact=True).click()
    expect(tab).to_have_attribute("aria-selected", "true")
    return page.get_by_role("tabpanel")


def open_folds(panel: Any) -> None:
    """Open every closed accordion of a panel.

    Fallback: Gradio's accordion button carries no aria-expanded, so whether it is open is read from its
    "open" class; the button itself is found by role (its name ends with the ▼ marker).
    """
    for fold in panel.get_by_role("button", name=re.compile(r"▼$")).all():
        if not fold.evaluate("button => button.classList.contains('open')"):
            fold.click()
            expect(fold).to_have_class(re.compile(r"\bopen\b"))


def save_screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot for the README as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no button caught in its hover colour
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path


# --- The Playground's chat ------------------------------------------------------------------------------


def answers(panel: Any) -> Any:
    """The assistant's messages in the chat, found by the label the chat gives each one."""
    return panel.get_by_role("log").get_by_label(re.compile(r"^bot's message"))


def questions(panel: Any) -> Any:
    """My messages in the chat."""
    return panel.get_by_role("log").get_by_label(re.compile(r"^user's message"))


def send(panel: Any, text: str) -> None:
    """Type a message and press Enter, as most people send."""
    box = panel.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def wait_for_answer(panel: Any, number: int, text: str | re.Pattern[str]) -> Any:
    """Wait until answer `number` (1 is the first) shows `text` and has ended; returns it.

    An answer has ended for the page when its stats line shows and the chat's Edit buttons are enabled
    again: Gradio disables them until the event is over, and ignores a message sent before that.
    """
    answer = answers(panel).nth(number - 1)
    expect(answer).to_contain_text(text)
    expect(answer).to_contain_text(STATS)
    expect(panel.get_by_role("log").get_by_role("button", name="Edit").last).to_be_enabled()
    return answer
