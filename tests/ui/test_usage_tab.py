"""The Usage tab: its handlers over a real store (empty, filled, filtered to nothing, unavailable), CSV
export, and its named endpoints on the launched studio after chats through the API."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import pytest
from gradio_client import Client

from studio.store import StoreHandle
from studio.store.history import now_ms
from studio.store.schema import generations
from studio.usage.zones import DAY_MS
from ui import assistants_tab
from ui import usage_tab as tab
from ui.context import StudioContext

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[2] / "README.md"
ENDPOINTS = {"usage_filters", "usage_summary", "usage_tokens", "usage_latency", "usage_failures",
             "usage_versions", "usage_balance", "usage_export_tokens"}  # fmt: skip


def controls(**changes: Any) -> tab.Controls:
    values = {"range_choice": "Last 7 days", "start": "", "end": "", "zone": "Europe/Paris", "server": "",
              "assistant": "", "version": "", "model": "", "origins": ["playground", "compare", "test"]}  # fmt: skip
    return tab.Controls(**{**values, **changes})


def fill(ctx: StudioContext) -> None:
    """Three days of calls on the context's server: two assistants (one with two versions), a failure."""
    now = now_ms()
    base = {"server": ctx.server_key, "engine": "echo", "origin": "playground", "tokens_used": 1,
            "first_token_ms": 20.0, "total_ms": 200.0, "outcome": "completed", "model": "gpt-5-nano",
            "assistant_name": "Poet", "lineage": "asst_p", "assistant_id": "asst_p", "version": 1,
            "balance_after": None, "error_class": None}  # fmt: skip
    rows = [
        {**base, "at_ms": now - 2 * DAY_MS, "balance_after": 990},
        {**base, "at_ms": now - DAY_MS, "version": 2, "total_ms": 400.0, "balance_after": 980, "tokens_used": 10},
        {**base, "at_ms": now - DAY_MS + 1, "lineage": "asst_c", "assistant_id": "asst_c", "assistant_name": "Chef",
         "model": "gpt-5", "tokens_used": 20, "balance_after": 960},
        {**base, "at_ms": now - 1000, "outcome": "failed", "error_class": "RateLimitError", "tokens_used": 0,
         "first_token_ms": None},
    ]  # fmt: skip
    with ctx.store.get().db.write() as connection:
        connection.execute(generations.insert(), rows)


async def test_an_empty_log_shows_the_empty_state_not_an_error(studio_ctx):
    assert await tab.load_summary(studio_ctx, controls()) == tab.EMPTY_LOG
    tokens = await tab.load_tokens(studio_ctx, controls())
    assert tokens.plot is None and tokens.table.empty and tokens.note == "No calls in this range."
    balance = await tab.load_balance(studio_ctx, controls())
    assert balance.plot is None and "No balance" in balance.note
    versions = await tab.load_versions(studio_ctx, controls())
    assert versions.plot is None and "Pick one of your assistants" in versions.note


async def test_every_section_from_a_known_log(studio_ctx):
    fill(studio_ctx)
    summary = await tab.load_summary(studio_ctx, controls())
    assert summary.startswith("**4 generations** · 31 tokens charged · 1 failed (25.0%) · 0 stopped · from ")
    assert "(Europe/Paris)" in summary

    tokens = await tab.load_tokens(studio_ctx, controls(), "Assistant")
    assert list(tokens.table.columns) == ["Day", "Chef", "Poet", "Total"]
    assert (
        len(tokens.table) == 7 and tokens.table["Total"].sum() == 31
    )  # every day of the range, empty ones too
    assert set(tokens.plot["Series"]) == {"Chef", "Poet"} and tokens.plot["Tokens"].sum() == 31
    by_model = await tab.load_tokens(studio_ctx, controls(), "Model")
    assert list(by_model.table.columns) == ["Day", "gpt-5", "gpt-5-nano", "Total"]

    latency = await tab.load_latency(studio_ctx, controls(), "Version")
    assert latency.table[["Version", "Calls", "p50 (ms)", "p95 (ms)"]].values.tolist() == [
        ["Poet v2", 1, 400.0, 400.0], ["Chef v1", 1, 200.0, 200.0], ["Poet v1", 1, 200.0, 200.0],
    ]  # fmt: skip
    assert set(latency.plot["Measure"]) == {"Total p50", "Total p95", "First token p50", "First token p95"}

    failures = await tab.load_failures(studio_ctx, controls())
    assert failures.note == "1 of 4 calls failed (25.0%): 1 RateLimitError."
    assert failures.table["Failed"].sum() == 1 and failures.table["Calls"].sum() == 4

    versions = await tab.load_versions(studio_ctx, controls(assistant="asst_p"), "Latency p95")
    assert versions.table[["Version", "Calls", "Tokens", "p95 (ms)"]].values.tolist()[:2] == [
        ["v1", 2, 1, 200.0], ["v2", 1, 10, 400.0],
    ]  # fmt: skip
    assert list(versions.plot.columns) == ["Version", "Value"] and "no test runs" in versions.note.lower()

    balance = await tab.load_balance(studio_ctx, controls())
    assert balance.table["Balance"].tolist()[-1] == 960 and "Local server" in balance.note
    assert "tokens a day" in balance.note and "lasts about" in balance.note

    choices = await tab.load_choices(studio_ctx, studio_ctx.server_key, "asst_p", "2", "")
    assert ("Chef", "asst_c") in choices.assistant.choices and ("v2", "2") in choices.version.choices
    # The local server's key holds its data folder's path: the page names it by a digest, which leads back.
    assert studio_ctx.server_key.startswith("local:/")
    assert choices.server.value.startswith("local:") and "/" not in choices.server.value
    assert all("/" not in value for _, value in choices.server.choices)
    assert tab.store_server(choices.server.value) == studio_ctx.server_key
    page = {"range_choice": "Last 7 days", "zone": "Europe/Paris", "server": choices.server.value}
    by_name = await tab.load_tokens(studio_ctx, tab.Controls.of(page), "assistant")
    by_key = await tab.load_tokens(
        studio_ctx, tab.Controls.of({**page, "server": studio_ctx.server_key}), "assistant"
    )
    assert len(by_name.table) > 0 and by_name.table.equals(by_key.table)
    gone = await tab.load_choices(studio_ctx, "", "asst_gone", "", "gpt-9")
    assert gone.assistant.value == "" and gone.model.value == ""  # a choice the log no longer has resets


async def test_a_range_with_no_data_says_so_and_bad_input_is_named(studio_ctx):
    fill(studio_ctx)
    old = controls(range_choice="Between dates", start="2020-01-01", end="2020-01-31")
    summary = await tab.load_summary(studio_ctx, old)
    assert summary.startswith("**No generations from 2020-01-01 00:00 to 2020-02-01 00:00 (Europe/Paris)")
    assert "The log holds 4" in summary and "widen the time range or clear a filter" in summary
    assert (await tab.load_failures(studio_ctx, old)).note == "No calls in this range."
    bad = controls(range_choice="Between dates", start="2026-02-30")
    assert "“From” date “2026-02-30” is not a date" in await tab.load_summary(studio_ctx, bad)
    latency = await tab.load_latency(studio_ctx, bad)
    assert latency.plot is None and "YYYY-MM-DD" in latency.note
    assert "is not a time zone" in (await tab.load_tokens(studio_ctx, controls(zone="Nowhere/City"))).note


async def test_an_unavailable_store_is_reported_in_the_view(studio_ctx, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    broken = StudioContext(client=studio_ctx.client, store=StoreHandle(f"sqlite:///{blocked}/store/workbench.db"),
                           server_key=studio_ctx.server_key)  # fmt: skip
    summary = await tab.load_summary(broken, controls())
    assert "The studio's store" in summary and "cannot be opened" in summary
    for load in (tab.load_tokens, tab.load_latency, tab.load_failures, tab.load_balance):
        section = await load(broken, controls())
        assert section.plot is None and "cannot be opened" in section.note
    choices = await tab.load_choices(broken, "", "", "", "")
    assert choices == tab.Choices(gr.skip(), gr.skip(), gr.skip(), gr.skip())  # the filters keep their values
    listed = await assistants_tab.list_assistants(broken, "")  # the rest of the studio works
    assert list(listed.table.columns)[:2] == ["Name", "Model"]
    none = StudioContext(client=studio_ctx.client)
    assert await tab.load_summary(none, controls()) == tab.NO_STORE
    assert (await tab.load_balance(none, controls())).note == tab.NO_STORE
    broken.store.close()


def test_csv_export_writes_the_table_as_shown_with_formulas_made_inert():
    table = pd.DataFrame([["2026-03-29", '=HYPERLINK("x")', -3, 1.5]], columns=["Day", "Name", "Delta", "@x"])
    path, notice = tab.export_csv("tokens", table)
    assert notice == "" and path.endswith(".csv") and "usage-tokens-" in path
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows == [["Day", "Name", "Delta", "'@x"], ["2026-03-29", '\'=HYPERLINK("x")', "-3", "1.5"]]
    assert tab.export_csv("tokens", pd.DataFrame([], columns=["Day"])) == (
        None, "Nothing to export: the table is empty.",
    )  # fmt: skip


def test_labels_of_servers_and_repeated_names():
    assert tab.server_label("local:/home/ada/.local/share/assistant-studio") == "Local server"
    assert tab.server_label("https://neuralbox.top/api/v2") == "neuralbox.top"
    assert tab.distinct_labels({"asst_1": "Bot", "asst_2": "Bot", "~Bot": "Bot", "asst_3": "Chef"}) == {
        "asst_1": "Bot (asst_1)", "asst_2": "Bot (asst_2)", "~Bot": "Bot (not saved)", "asst_3": "Chef",
    }  # fmt: skip


def test_usage_endpoints_after_chats_through_the_api(launched_studio):
    studio = Client(launched_studio, verbose=False)
    api = studio.view_api(print_info=False, return_format="dict")
    assert {name.lstrip("/") for name in api["named_endpoints"]} >= ENDPOINTS
    *_, assistant_id = studio.predict(
        "Haiku Poet", "gpt-5-nano", "Answer only in haiku.", "Writes haiku", api_name="/create_assistant"
    )
    studio.predict(f"mine:{assistant_id}", api_name="/open_assistant")
    for text in ("Write about autumn.", "And winter?"):
        studio.predict(text, api_name="/chat")
    summary = studio.predict(zone="Europe/Paris", api_name="/usage_summary")
    assert summary.startswith("**2 generations** · 2 tokens charged · 0 failed · 0 stopped")
    plot, table, note = studio.predict(stack_by="Assistant", api_name="/usage_tokens")
    assert table["headers"][1:] == ["Haiku Poet", "Total"] and note.startswith(
        "2 tokens charged over 2 calls"
    )
    assert plot["columns"] == ["When", "Tokens", "Series"]
    _plot, latency, _note = studio.predict(per="Version", api_name="/usage_latency")
    assert [row[:2] for row in latency["data"]] == [["Haiku Poet v1", 2]]
    _plot, versions, _note = studio.predict(assistant=assistant_id, api_name="/usage_versions")
    assert versions["data"][0][:3] == ["v1", 2, 2]

    # The README's example, run as written.
    section = README.read_text(encoding="utf-8").split("### Usage", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code.replace("http://127.0.0.1:7860/", launched_studio), {})  # noqa: S102
    printed = out.getvalue()
    assert "['Day', 'gpt-5-nano', 'Total'] [" in printed and "2 tokens charged over 2 calls" in printed
