"""The Playground tab, a prompt workbench: its layout (ui.playground.layout) and its events, the chat's
(ui.playground.chat_events) and Compare's (ui.playground.compare_events)."""

from __future__ import annotations

import gradio as gr

from ui.context import StudioContext
from ui.playground.chat_events import wire_chat
from ui.playground.compare_events import wire_compare
from ui.playground.layout import CHAT, COMPARE, build_chat, build_chat_tools, build_compare, build_settings
from ui.playground.session import PlaygroundSession


def build_playground_tab(ctx: StudioContext, tab: gr.Tab, blocks: gr.Blocks, request_state: gr.State) -> None:
    """Lay out the Playground inside `tab` and wire its events. Setting `request_state` (which must sit
    outside the tabs) to ui.context.open_request(...) opens an assistant here."""
    session_state = gr.State(PlaygroundSession())
    browser = gr.BrowserState(
        None, storage_key="assistant-studio-conversations", secret=ctx.browser_secret or None
    )

    with gr.Row(equal_height=False, elem_id="workbench"):
        with gr.Column(scale=4, min_width=300, elem_id="workbench-settings"):
            settings = build_settings()
            tools = build_chat_tools(editable=not ctx.demo)
        with gr.Column(scale=9, min_width=320, elem_id="workbench-main"):
            mode = gr.Radio([CHAT, COMPARE], value=CHAT, show_label=False, label="Mode", container=False,
                            elem_id="playground-mode")  # fmt: skip
            chat_panel = build_chat()
            compare_panel = build_compare(editable=not ctx.demo)

    wire_chat(ctx, blocks, tab, session_state, request_state, browser, settings, chat_panel, tools)
    wire_compare(ctx, session_state, browser, settings, chat_panel, compare_panel, mode)
