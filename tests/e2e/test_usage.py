"""The Usage tab in a browser: plots after a few chats (through the Playground page and the app's API), the
browser's time zone, the filters, CSV export, and a month of logged calls for the README's picture."""

from __future__ import annotations

import csv
import re
from typing import Any

import pytest
from gradio_client import Client
from playwright.sync_api import expect

from bench.usage_log import make_rows
from studio.servers import server_key
from studio.store import StoreHandle, default_url
from studio.store.history import now_ms
from studio.store.schema import generations
from tests.e2e.conftest import answers, go_to_tab, open_studio, save_screenshot, send

pytestmark = pytest.mark.browser


def marks(panel: Any, elem_id: str, says: str = "") -> Any:
    """The bars, points or lines Vega drew in a plot, whose description contains `says`. Fallback: the
    plot's drawing has no accessible name, so it is found by the plot's id; each mark is found by the
    description Vega gives it (e.g. "When: 2026-03-29; Tokens: 3; Series: Poet")."""
    return panel.locator(f'#{elem_id} [role="graphics-symbol"][aria-label*="{says}"]')


def answered(panel: Any, number: int, text: str) -> None:
    """Wait until answer `number` shows `text` and its stats line (it has ended and been logged)."""
    answer = answers(panel).nth(number - 1)
    expect(answer).to_contain_text(text)
    expect(answer).to_contain_text(re.compile(r"gpt-5-nano · .*\b1 token · "))
    expect(panel.get_by_role("log").get_by_role("button", name="Edit").last).to_be_enabled()


def pick(page: Any, panel: Any, label: str, option: str) -> None:
    """Choose an option of a dropdown, as a person does: open it, click the option."""
    box = panel.get_by_role("combobox", name=label)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)


def test_usage_after_a_few_chats(new_context, studio):
    page = open_studio(new_context(timezone_id="Europe/Paris"), studio.url)
    chat = go_to_tab(page, "Playground")
    for number, text in enumerate(("hello", "and again"), start=1):
        send(chat, text)
        answered(chat, number, f"[turn {number}] You said: {text}")
    # And one through the app's API, with one of my assistants, as a script would.
    script = Client(studio.url, verbose=False)
    *_, poet = script.predict(
        "Haiku Poet", "gpt-5-nano", "Answer only in haiku.", "Writes haiku", api_name="/create_assistant"
    )
    script.predict(f"mine:{poet}", api_name="/open_assistant")
    script.predict("Write about autumn.", api_name="/chat")

    panel = go_to_tab(page, "Usage")
    expect(panel.get_by_role("combobox", name="Time zone")).to_have_value("Europe/Paris")  # the browser's
    summary = panel.get_by_text(
        re.compile(r"^3 generations · 3 tokens charged · 0 failed · 0 stopped · from ")
    )
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("(Europe/Paris)")
    expect(marks(panel, "usage-tokens-plot", "Tokens: 1; Series: Haiku Poet")).to_be_visible()
    expect(marks(panel, "usage-tokens-plot", "Tokens: 2; Series: Blank assistant")).to_be_visible()
    tokens = panel.get_by_role("grid", name="Tokens charged per day")
    expect(tokens.get_by_role("columnheader", name="Haiku Poet")).to_be_visible()
    expect(tokens.get_by_role("columnheader", name="Blank assistant")).to_be_visible()
    expect(marks(panel, "usage-latency-plot", ": Haiku Poet; Milliseconds: ").first).to_be_visible()
    expect(marks(panel, "usage-balance-plot", "Server: Local server").first).to_be_attached()
    expect(panel.get_by_text(re.compile(r"^Local server: 99,997 tokens left"))).to_be_visible()
    expect(
        panel.get_by_text("No failures in this range: all 3 calls completed or were stopped.")
    ).to_be_visible()

    panel.get_by_role("radio", name="Model").first.click()
    expect(tokens.get_by_role("columnheader", name="gpt-5-nano")).to_be_visible()
    expect(tokens.get_by_role("columnheader", name="Haiku Poet")).to_have_count(0)

    pick(page, panel, "Assistant", "Haiku Poet")
    expect(panel.get_by_text(re.compile(r"^1 generation · 1 token charged"))).to_be_visible()
    versions = panel.get_by_role("grid", name="Versions")
    expect(versions.get_by_role("gridcell", name="v1", exact=True)).to_be_visible()
    expect(marks(panel, "usage-versions-plot", "Version: v1").first).to_be_visible()

    panel.locator("#usage-tokens-export").click()  # Fallback: every section's button reads "Export CSV"
    link = panel.locator("#usage-tokens-file").get_by_role("link").first
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert re.fullmatch(r"usage-tokens-\d{8}-\d{6}\.csv", download.suggested_filename)
    with open(download.path(), newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["Day", "gpt-5-nano", "Total"] and sum(int(row[-1]) for row in rows[1:]) == 1


def test_a_month_of_calls_and_a_range_without_any(new_context, studio):
    data_dir = studio.server.settings.data_dir
    key = server_key(studio.server.base_url, local_data_dir=data_dir)
    rows = make_rows(1500, now_ms(), days=30, seed=3)
    for row in rows:
        row["server"] = key if row["server"].startswith("local:") else row["server"]
    store = StoreHandle(default_url(data_dir))
    with store.get().db.write() as connection:
        connection.execute(generations.insert(), rows)
    store.close()

    page = open_studio(
        new_context(timezone_id="Europe/Paris", viewport={"width": 1280, "height": 1250}), studio.url
    )
    panel = go_to_tab(page, "Usage")
    expect(panel.get_by_text(re.compile(r"^\d[\d,]* generations · [\d,]+ tokens charged"))).to_be_visible()
    expect(marks(panel, "usage-tokens-plot", "Series: Other (")).to_have_count(30)  # 30 days, 14 assistants
    failed = marks(panel, "usage-failures-plot", "Error class: RateLimitError")
    expect(failed.and_(panel.locator(':not([aria-label*="Failures: 0;"])')).first).to_be_visible()
    expect(panel.get_by_text(re.compile(r"^[\d,]+ of [\d,]+ calls failed"))).to_be_visible()
    save_screenshot(page, "usage", full_page=False)  # the filters, the summary and the first plot

    pick(page, panel, "Time range", "Between dates")
    panel.get_by_role("textbox", name="From (YYYY-MM-DD)").fill("2020-01-01")
    to = panel.get_by_role("textbox", name="To (YYYY-MM-DD)")
    to.fill("2020-01-31")
    to.press("Enter")
    expect(
        panel.get_by_text(re.compile(r"^No generations from 2020-01-01 00:00 to 2020-02-01 00:00"))
    ).to_be_visible()
    expect(panel.get_by_text(re.compile(r"widen the time range or clear a filter"))).to_be_visible()
    to.fill("2020-02-31")
    to.press("Enter")
    expect(panel.get_by_text("The “To” date “2020-02-31” is not a date: write it as YYYY-MM-DD, e.g. 2026-03-29.").first)\
        .to_be_visible()  # fmt: skip
    expect(to).to_have_value("2020-02-31")  # what was typed stays, to be corrected
