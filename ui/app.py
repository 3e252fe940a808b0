"""The app factory: the header with the status line, the four tabs, and how the studio is launched."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import gradio as gr

from ui.assistants_tab import build_assistants_tab
from ui.context import (
    ASSISTANTS_TAB_ID,
    MARKETPLACE_TAB_ID,
    PLAYGROUND_TAB_ID,
    TEMPLATES_TAB_ID,
    StudioContext,
    open_request,
)
from ui.headers import images_from_here
from ui.hosts import host_check
from ui.marketplace_tab import build_marketplace_tab, try_request
from ui.playground import build_playground_tab
from ui.status import build_status, wire_status
from ui.suites_tab import SUITES_TAB_ID, build_suites_tab
from ui.templates_tab import Template, build_templates_tab, try_template
from ui.theme import build_theme, load_css
from ui.usage_tab import USAGE_TAB_ID, build_usage_tab

TITLE = "Assistant Studio"
# 50 browser tabs chatting at once must not queue behind each other: Gradio runs one event per
# listener at a time unless told otherwise. Threads cover the sync parts (file uploads, pandas).
CONCURRENCY = 64
MAX_THREADS = 100
DEMO_BANNER = (
    "**Read-only demo:** chat with assistants and browse; creating, changing and deleting are turned off."
)


def _go_to_playground(request: dict[str, Any] | None, missing: str | None) -> tuple[Any, Any, Any]:
    """Hand a request to the Playground and show its tab; or say what to pick first (None: say nothing)."""
    if request is None:
        return gr.skip(), gr.skip(), gr.skip() if missing is None else missing
    return request, gr.Tabs(selected=PLAYGROUND_TAB_ID), ""


def open_mine(assistant_id: str | None) -> tuple[Any, Any, Any]:
    """Open one of my assistants in the Playground."""
    request = open_request("mine", assistant_id=assistant_id) if (assistant_id or "").strip() else None
    return _go_to_playground(request, "Select an assistant first (click its row), then open it.")


def open_created(assistant_id: str | None) -> tuple[Any, Any, Any]:
    """Open an assistant just created from a template; if none was created, its notice already says why."""
    request = open_request("mine", assistant_id=assistant_id) if (assistant_id or "").strip() else None
    return _go_to_playground(request, None)


def open_market_item(item: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """Try a marketplace item in the Playground without copying it."""
    return _go_to_playground(try_request(item), "Pick an assistant in the results first, then try it.")


def open_template(templates: list[Template], template_id: str | None) -> tuple[Any, Any, Any]:
    """Try a template as it is in the Playground, without creating anything."""
    return _go_to_playground(try_template(templates, template_id), "Pick a template first (click its card).")


def create_app(ctx: StudioContext) -> gr.Blocks:
    """Build the studio's Blocks for one client; nothing here runs until a page is opened."""
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as blocks:
        with gr.Row(elem_id="studio-header"):
            gr.Markdown(f"# {TITLE}")
            status = build_status(ctx)
        if ctx.demo:
            gr.Markdown(DEMO_BANNER, elem_id="demo-banner")
        # What another tab asks the Playground to open. Outside the tabs: Gradio (6.31) dispatches the
        # change of a State that sits in a tab not on screen twice, and the second opening started the
        # conversation over while the person was already editing the instructions.
        target = gr.State(None)
        with gr.Tabs(selected=ASSISTANTS_TAB_ID, elem_id="studio-tabs") as tabs:
            with gr.Tab("My Assistants", id=ASSISTANTS_TAB_ID) as assistants_tab:
                assistants = build_assistants_tab(ctx, blocks, assistants_tab)
            with gr.Tab("Marketplace", id=MARKETPLACE_TAB_ID) as marketplace_tab:
                marketplace = build_marketplace_tab(ctx, blocks, marketplace_tab)
            with gr.Tab("Playground", id=PLAYGROUND_TAB_ID) as playground_tab:
                build_playground_tab(ctx, playground_tab, blocks, target)
            with gr.Tab("Use-Case Templates", id=TEMPLATES_TAB_ID):
                templates = build_templates_tab(ctx, blocks)
            with gr.Tab("Test Suites", id=SUITES_TAB_ID) as suites_tab:
                build_suites_tab(ctx, suites_tab)
            with gr.Tab("Usage", id=USAGE_TAB_ID) as usage_tab:
                build_usage_tab(ctx, blocks, usage_tab)

        # --- Wiring: the status line, and every way into the Playground --------------------------------
        wire_status(ctx, status, blocks)
        assistants.open_button.click(
            open_mine,
            inputs=assistants.assistant_id,
            outputs=[target, tabs, assistants.notice],
            api_visibility="private",
        )
        marketplace.try_button.click(
            open_market_item,
            inputs=marketplace.selected,
            outputs=[target, tabs, marketplace.notice],
            api_visibility="private",
        )
        for trigger in (templates.open_button.click, templates.created.then):
            trigger(
                open_created,
                inputs=templates.created_id,
                outputs=[target, tabs, templates.notice],
                api_visibility="private",
            )
        templates.try_button.click(
            functools.partial(open_template, templates.templates),
            inputs=templates.template,
            outputs=[target, tabs, templates.notice],
            api_visibility="private",
        )
    return blocks


def configure_queue(blocks: gr.Blocks) -> gr.Blocks:
    """The queue app.py and the tests both use: enough concurrent runs for many people at once."""
    return blocks.queue(default_concurrency_limit=CONCURRENCY, max_size=None)


def launch_kwargs(
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    share: bool = False,
    auth: tuple[str, str] | None = None,
    quiet: bool = False,
    allowed_hosts: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything launch() is given, in one place, so app.py and the tests launch the studio identically."""
    return {
        # Answer only to the names the studio is served as (ui/hosts.py: DNS rebinding), and let its pages show
        # images only from the studio itself (ui/headers.py).
        "app_kwargs": {"middleware": [host_check(host, allowed_hosts), images_from_here()]},
        "server_name": host,
        "server_port": port,
        "share": share,
        "auth": auth,
        "auth_message": "Log in to Assistant Studio." if auth else None,
        "max_threads": MAX_THREADS,
        "theme": build_theme(),
        "css": load_css(),
        "footer_links": ["api", "settings"],
        "show_error": False,  # errors are shown by the studio's own notices, never as tracebacks
        "quiet": quiet,
    }
