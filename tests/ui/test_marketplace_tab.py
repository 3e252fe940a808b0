"""Marketplace: browsing, paging, the detail view, trying and copying; hostile text stays inert."""

from __future__ import annotations

import pytest
from gradio_client import Client

from backend.schemas import DESCRIPTION_MAX, MarketplaceItem
from ui import assistants_tab
from ui import marketplace_tab as tab
from ui.assistants_io import EMPTY_TEXT

HOSTILE = {
    "name": "Evil <script>alert('name')</script>",
    "description": "Click [here](javascript:alert(1)) <img src=x onerror=alert(2)>",
    "instructions": "<script>steal()</script> Be nice.",
    "model": "gpt-5-nano",
    "category": "fun",
    "author": "<b onmouseover=alert(3)>mallory</b>",
    "uses": 5,
    "conversation_starters": ["<img src=x onerror=alert(4)>", "[x](javascript:alert(5))"],
}
WRITERS = [
    {
        "name": f"Writer {n:02d}",
        "description": f"Helps with draft number {n}",
        "instructions": "Write well.",
        "model": "gpt-5",
        "category": "writing",
        "author": "ana",
        "uses": 1000 - n,
        "conversation_starters": ["Draft an intro"],
    }  # fmt: skip
    for n in range(22)
]
PLANNER = {
    "name": "Day Planner", "description": "Plans your day " + "very " * 150, "instructions": "Plan the day.",
    "model": "gpt-5-nano", "category": "productivity", "author": "bo", "uses": 5000,
}  # fmt: skip
ITEMS = [*WRITERS, PLANNER, HOSTILE]


@pytest.fixture
def local_server(server_settings):
    """This module's own marketplace: enough items to page through, and one written by an attacker."""
    from backend.server.embedded import EmbeddedServer

    with EmbeddedServer(server_settings, marketplace=ITEMS) as server:
        yield server


def _assert_inert(markdown: str) -> None:
    lowered = markdown.lower()
    for danger in ("<script", "<img", "<b ", "](javascript:", "href="):
        assert danger not in lowered, (danger, markdown)


@pytest.mark.anyio
async def test_categories_search_and_pages(studio_ctx):
    categories = await tab.load_categories(studio_ctx)
    assert categories.choices[0][0] == tab.ALL
    assert {"writing", "productivity", "fun"} <= {choice[0] for choice in categories.choices}

    first = await tab.marketplace_search(studio_ctx, tab.ALL, "", 1)
    assert len(first.table) == tab.PAGE_SIZE and first.page == 1
    assert first.page_label == "Page 1 of 3 · 24 assistants"
    assert first.table.iloc[0]["Name"] == "Day Planner" and first.table.iloc[0]["Uses"] == "5,000"
    last = await tab.marketplace_search(studio_ctx, tab.ALL, "", 3)
    assert len(last.table) == 4 and last.page_label.startswith("Page 3 of 3")
    beyond = await tab.marketplace_search(studio_ctx, tab.ALL, "", 99)
    assert beyond.page == 3 and len(beyond.table) == 4

    writing = await tab.marketplace_search(studio_ctx, "writing", "DRAFT number 13", 1)
    assert list(writing.table["Name"]) == ["Writer 13"]
    nothing = await tab.marketplace_search(studio_ctx, "productivity", "draft", 1)
    assert nothing.table.empty and "No assistants match" in nothing.page_label
    assert tab.step_page(1, -1) == 1 and tab.step_page(2, 1) == 3


@pytest.mark.anyio
async def test_hostile_item_is_shown_as_inert_text(studio_ctx):
    found = await tab.marketplace_search(studio_ctx, "fun", "", 1)
    row = found.table.iloc[0].tolist()
    detail = tab.pick_result(found.results, row)
    _assert_inert(detail.header)
    assert "&lt;script&gt;" in detail.header and "mallory" in detail.header
    # Text fields show the stranger's text exactly, as text (a Textbox never renders markup).
    assert detail.description == HOSTILE["description"] and detail.instructions == HOSTILE["instructions"]
    assert detail.selected["name"] == HOSTILE["name"]
    assert tab.pick_result(found.results, ["Someone else", "", "", "", ""]).header == tab.NOTHING_SELECTED


@pytest.mark.anyio
async def test_add_copies_with_its_origin_and_try_does_not(studio_ctx, demo_ctx):
    found = await tab.marketplace_search(studio_ctx, "productivity", "", 1)
    planner = found.results[0]
    request = tab.try_request(planner)
    assert request["kind"] == "market" and request["item"]["name"] == "Day Planner"
    assert (await assistants_tab.list_assistants(studio_ctx, "")).table.empty

    assert "read-only demo" in await tab.marketplace_add(demo_ctx, planner)
    assert "Pick an assistant" in await tab.marketplace_add(studio_ctx, None)
    assert await tab.marketplace_add(studio_ctx, planner) == "Added “Day Planner” to My Assistants."
    mine = (await studio_ctx.client.assistants.list_all())[0]
    assert mine.name == "Day Planner" and mine.model == "gpt-5-nano" and mine.instructions == "Plan the day."
    assert mine.description.endswith(" (from Marketplace: Day Planner by bo)")
    assert len(mine.description) <= DESCRIPTION_MAX and mine.description.startswith("Plans your day very")


def test_copy_description_fits_the_limit():
    short = MarketplaceItem(name="A", description="Short.", author="x")
    assert tab.copy_description(short) == "Short. (from Marketplace: A by x)"
    anonymous = MarketplaceItem(name="A", description="")
    assert tab.copy_description(anonymous) == "(from Marketplace: A)"
    huge_name = MarketplaceItem(name="n" * 600, description="d")
    assert len(tab.copy_description(huge_name)) == DESCRIPTION_MAX


def test_marketplace_through_the_launched_studio(launched_studio):
    client = Client(launched_studio, verbose=False)
    table, label, page, results = client.predict("writing", "draft", 2, api_name="/marketplace_search")
    assert label == "Page 2 of 3 · 22 assistants" and page == 2 and len(table["data"]) == tab.PAGE_SIZE
    assert all(row[1] == "writing" for row in table["data"])
    chosen = results[0]
    assert (
        client.predict(chosen, api_name="/marketplace_add") == f"Added “{chosen['name']}” to My Assistants."
    )
    mine, _ = client.predict("", api_name="/list_assistants")
    assert [row[0] for row in mine["data"]] == [chosen["name"]]
    assert "(from Marketplace:" in mine["data"][0][2]

    _, _, _, fun = client.predict("fun", "", 1, api_name="/marketplace_search")
    assert fun[0]["name"] == HOSTILE["name"]  # the raw data travels as JSON; it is never rendered as markup


def test_demo_studio_refuses_adds_through_the_api(launched_demo_studio):
    client = Client(launched_demo_studio, verbose=False)
    _, _, _, results = client.predict(tab.ALL, "", 1, api_name="/marketplace_search")
    assert "read-only demo" in client.predict(results[0], api_name="/marketplace_add")
    assert client.predict("", api_name="/list_assistants")[1] == EMPTY_TEXT


def test_a_page_number_of_zero_shows_the_first_page(launched_studio):
    client = Client(launched_studio, verbose=False)
    table, label, page, _ = client.predict("All", "", 0, api_name="/marketplace_search")
    assert page == 1 and label.startswith("Page 1 of") and len(table["data"]) == tab.PAGE_SIZE
