"""Marketplace: browse community assistants by category and words, look one over, try it or copy it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd
from pydantic import ValidationError as SchemaError

from backend.errors import AssistantsError
from backend.schemas import DESCRIPTION_MAX, NAME_MAX, MarketplaceItem
from studio.errors import describe_error
from studio.text import counted
from ui.context import StudioContext, open_request, require_editable
from ui.theme import escape_md, sanitize_md

ALL = "All"
PAGE_SIZE = 10
COLUMNS = ["Name", "Category", "Author", "Uses", "Description"]
NOTHING_SELECTED = "Pick an assistant in the results to see it here."


class SearchResult(NamedTuple):
    table: pd.DataFrame
    page_label: str
    page: int
    results: list[dict[str, Any]]  # the page's items, whole, for the detail view


class Detail(NamedTuple):
    header: str
    description: str
    instructions: str
    starters: str
    selected: dict[str, Any] | None


def results_table(items: list[MarketplaceItem]) -> pd.DataFrame:
    """The results as text cells: marketplace text comes from strangers and is never rendered as markup."""
    rows = [[i.name, i.category or "", i.author or "", f"{i.uses:,}", i.description] for i in items]
    return pd.DataFrame(rows, columns=COLUMNS)


def page_label(page: int, pages: int, total: int) -> str:
    """ "Page 2 of 5 · 43 assistants", or what to do when nothing matched."""
    if total == 0:
        return "No assistants match. Try other words, or pick All categories."
    return f"Page {page} of {max(pages, 1)} · {counted(total, 'assistant')}"


def detail_view(item: MarketplaceItem | None) -> Detail:
    """The detail of one item; the header is escaped markdown, sanitised once more by nh3."""
    if item is None:
        return Detail(NOTHING_SELECTED, "", "", "", None)
    facts = [
        escape_md(item.category or "uncategorised"),
        f"by {escape_md(item.author or 'an unknown author')}",
    ]
    facts += [f"{item.uses:,} uses", f"model {escape_md(item.model or 'not given')}"]
    header = sanitize_md(f"### {escape_md(item.name)}\n\n{' · '.join(facts)}")
    starters = "\n".join(f"• {s}" for s in item.conversation_starters)
    return Detail(header, item.description, item.instructions, starters, item.model_dump())


def copy_description(item: MarketplaceItem) -> str:
    """The copy's description: the original plus where it came from, trimmed to the limit."""
    source = (
        f" (from Marketplace: {item.name} by {item.author})"
        if item.author
        else f" (from Marketplace: {item.name})"
    )
    room = DESCRIPTION_MAX - len(source)
    if room <= 0:
        return source.strip()[:DESCRIPTION_MAX]
    original = item.description.strip()
    if len(original) > room:
        original = original[: room - 1].rstrip() + "…"
    return (original + source).strip()


async def load_categories(ctx: StudioContext) -> gr.Dropdown:
    """The category choices: All, then the marketplace's own."""
    try:
        categories = await ctx.client.marketplace.categories()
    except AssistantsError as err:
        return gr.Dropdown(choices=[ALL], info=f"Could not load the categories: {describe_error(err)}")
    return gr.Dropdown(choices=[ALL, *categories])


async def marketplace_search(
    ctx: StudioContext, category: str | None, query: str, page: float | None
) -> SearchResult:
    """One page of marketplace results for a category ("All" for every one) and search words."""
    wanted = max(int(page or 1), 1)
    chosen = None if not category or category == ALL else category
    words = (query or "").strip() or None
    try:
        found = await ctx.client.marketplace.list(category=chosen, q=words, page=wanted, limit=PAGE_SIZE)
        if not found.items and found.total and wanted > found.pages:  # past the end: show the last page
            wanted = max(found.pages, 1)
            found = await ctx.client.marketplace.list(category=chosen, q=words, page=wanted, limit=PAGE_SIZE)
    except AssistantsError as err:
        empty = pd.DataFrame([], columns=COLUMNS)
        return SearchResult(
            empty, f"Could not load the marketplace: {escape_md(describe_error(err))}", wanted, []
        )
    label = page_label(found.page or wanted, found.pages, found.total)
    return SearchResult(
        results_table(found.items), label, found.page or wanted, [i.model_dump() for i in found.items]
    )


def step_page(page: float | None, step: int) -> int:
    """The page before or after; never below 1 (the search clamps the top)."""
    return max(int(page or 1) + step, 1)


def first_page() -> int:
    """New words or a new category start from page 1."""
    return 1


def pick_result(results: list[dict[str, Any]] | None, row: list[Any] | None) -> Detail:
    """The item of a clicked row, matched by name and author so a sorted table cannot mislead it."""
    items = [MarketplaceItem.model_validate(r) for r in results or []]
    if row:
        name, author = str(row[0]), str(row[2]) if len(row) > 2 else ""
        for item in items:
            if item.name == name and (item.author or "") == author:
                return detail_view(item)
    return detail_view(None)


def _item(item: dict[str, Any] | None) -> MarketplaceItem | None:
    try:
        return MarketplaceItem.model_validate(item) if item else None
    except SchemaError:
        return None


async def marketplace_add(ctx: StudioContext, item: dict[str, Any] | None) -> str:
    """Copy a marketplace item into My Assistants, noting where it came from."""
    try:
        require_editable(ctx)
        chosen = _item(item)
        if chosen is None:
            return "Pick an assistant in the results first."
        model = chosen.model
        if not model:  # the real service may not say; the cheapest model is the safest default
            models = sorted(await ctx.client.models.list(), key=lambda m: m.token_cost)
            model = models[0].slug if models else ""
        saved = await ctx.library.create(
            source="marketplace", name=chosen.name.strip()[:NAME_MAX], model=model,
            instructions=chosen.instructions, description=copy_description(chosen),
        )  # fmt: skip
    except Exception as err:  # every failure becomes a message; nothing was created
        return f"Not added: {escape_md(describe_error(err))}"
    return escape_md(saved.notice(f"Added “{saved.assistant.name}” to My Assistants."))


def try_request(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Playground's open request for an item, tried without copying it; None if nothing is picked."""
    chosen = _item(item)
    return open_request("market", item=chosen.model_dump()) if chosen else None


@dataclass
class MarketplaceTab:
    """What the factory needs from this tab to wire it to the others."""

    selected: gr.JSON
    try_button: gr.Button
    notice: gr.Markdown


def build_marketplace_tab(ctx: StudioContext, blocks: gr.Blocks, tab: gr.Tab) -> MarketplaceTab:
    """Lay out the Marketplace, then wire it."""
    with gr.Row():
        category = gr.Dropdown(
            [ALL], value=ALL, label="Category", allow_custom_value=True, elem_id="market-category", scale=1
        )
        query = gr.Textbox(
            label="Search the marketplace",
            placeholder="Words in a name or description",
            scale=3,
            elem_id="market-search",
        )
        search_button = gr.Button("Search", variant="primary", scale=0, min_width=120)
    table = gr.Dataframe(
        pd.DataFrame([], columns=COLUMNS), label="Marketplace results", interactive=False, datatype="str",
        elem_id="market-table",
        column_widths=["24%", "12%", "14%", "8%", "42%"], wrap=True, max_height=420,
    )  # fmt: skip
    with gr.Row():
        previous = gr.Button("← Previous page", size="sm", scale=0, min_width=150)
        label = gr.Markdown(elem_id="market-page-label", label="Page of results")
        # minimum=0, not 1: a value below the minimum fails the event before the handler can clamp it.
        page = gr.Number(
            value=1, label="Page", precision=0, minimum=0, elem_id="market-page", scale=0, min_width=90
        )
        following = gr.Button("Next page →", size="sm", scale=0, min_width=150)
    results = gr.JSON(value=[], visible=False, label="Results")
    selected = gr.JSON(value=None, visible=False, label="Selected item")
    with gr.Column(variant="panel"):
        header = gr.Markdown(NOTHING_SELECTED, elem_id="market-detail-header", label="Selected assistant")
        description = gr.Textbox(
            label="Description", interactive=False, lines=2, elem_id="market-description"
        )
        instructions = gr.Textbox(
            label="Instructions", interactive=False, lines=6, elem_id="market-instructions"
        )
        starters = gr.Textbox(
            label="Conversation starters", interactive=False, lines=3, elem_id="market-starters"
        )
    with gr.Row():
        try_button = gr.Button("Try it in the Playground", variant="primary", elem_id="market-try")
        add_button = gr.Button("Add to My Assistants", visible=not ctx.demo, elem_id="market-add")
    notice = gr.Markdown(elem_id="market-notice", elem_classes="notice", label="Notice")

    # --- Wiring -------------------------------------------------------------------------------------------
    def bind(fn: Callable[..., Any]) -> Callable[..., Any]:
        return functools.partial(fn, ctx)

    def on_select(found: list[dict[str, Any]] | None, evt: gr.SelectData) -> Detail:
        return pick_result(found, evt.row_value)

    search: dict[str, Any] = {
        "fn": bind(marketplace_search), "inputs": [category, query, page], "outputs": [table, label, page, results],
    }  # fmt: skip
    blocks.load(bind(load_categories), outputs=category, api_visibility="private")
    gr.on([blocks.load, tab.select, page.submit], **search, api_name="marketplace_search")
    gr.on(
        [category.change, query.submit, search_button.click],
        first_page,
        outputs=page,
        api_visibility="private",
    ).then(**search, api_visibility="private")
    previous.click(lambda p: step_page(p, -1), inputs=page, outputs=page, api_visibility="private").then(
        **search, api_visibility="private"
    )
    following.click(lambda p: step_page(p, 1), inputs=page, outputs=page, api_visibility="private").then(
        **search, api_visibility="private"
    )
    detail = [header, description, instructions, starters, selected]
    table.select(on_select, inputs=results, outputs=detail, api_visibility="private")
    add_button.click(bind(marketplace_add), inputs=selected, outputs=notice, api_name="marketplace_add")
    return MarketplaceTab(selected=selected, try_button=try_button, notice=notice)
