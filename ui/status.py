"""The status line: which server the studio talks to, whether it answers, the balance and the engines."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from backend.errors import APIConnectionError, AuthenticationError, PermissionDeniedError
from studio.errors import describe_error
from ui.context import StudioContext
from ui.theme import escape_md

REFRESH_SECONDS = 30.0

# How a person reads an engine's state (backend.server.engines.base.EngineState).
_STATE_WORDS = {
    "ready": "ready",
    "not_loaded": "loads on first use",
    "loading": "loading…",
    "unavailable": "unavailable",
}


@dataclass
class StatusBar:
    """The components of the status line, for the factory to wire."""

    line: gr.Markdown
    timer: gr.Timer


def describe_engine(engine: dict[str, Any]) -> str:
    """One engine as a person reads it, e.g. "llama · SmolLM2 · loads on first use"."""
    name = str(engine.get("engine") or "engine")
    state = str(engine.get("state") or "")
    parts = [name]
    detail = str(engine.get("detail") or "").strip().rstrip(".")
    if detail:
        parts.append(detail)
    if state:
        parts.append(_STATE_WORDS.get(state, state.replace("_", " ")))
    return " · ".join(parts)


def describe_engines(info: dict[str, Any]) -> str:
    """All engines of a local server; empty for the real service, which has no such extension."""
    engines = info.get("engines") if isinstance(info, dict) else None
    if not isinstance(engines, list):
        return ""
    return "; ".join(describe_engine(engine) for engine in engines if isinstance(engine, dict))


async def fetch_status(ctx: StudioContext) -> str:
    """The status line as markdown; a failure reads "not answering: …" and never raises."""
    server = f"**{escape_md(ctx.server_label)}**"
    demo = " · read-only demo" if ctx.demo else ""
    store = store_status(ctx)
    try:
        balance = await ctx.client.balance()
    except Exception as err:  # any failure is shown, so the rest of the studio keeps working
        return f"{server} · {how_it_failed(err)}: {escape_md(describe_error(err))}{store}{demo}"
    parts = [server, "answering", f"{balance.token_balance:,} tokens", f"{escape_md(balance.plan)} plan"]
    try:
        engines = describe_engines(await ctx.client.server_info())
    except Exception as err:  # the engines are a local extension: their absence is not an outage
        engines = f"engines unknown ({describe_error(err)})"
    if engines:
        parts.append(escape_md(engines))
    return " · ".join(parts) + store + demo


def how_it_failed(err: BaseException) -> str:
    """ "not answering" only when it did not answer: a refusal (a key, a plan) is an answer."""
    if isinstance(err, AuthenticationError | PermissionDeniedError):
        return "refusing this key"
    if isinstance(err, APIConnectionError):
        return "not answering"
    return "answering with an error"


def store_status(ctx: StudioContext) -> str:
    """The store's problem, when it has one: what is off and how to fix it."""
    problem = ctx.store.problem if ctx.store is not None else ""
    return f" · **store unavailable:** {escape_md(problem)}" if problem else ""


def build_status(ctx: StudioContext) -> StatusBar:
    """The status line's layout: a markdown line and the timer that refreshes it."""
    line = gr.Markdown(
        f"**{escape_md(ctx.server_label)}** · checking…", elem_id="studio-status", label="Status"
    )
    timer = gr.Timer(REFRESH_SECONDS)
    return StatusBar(line=line, timer=timer)


def wire_status(ctx: StudioContext, bar: StatusBar, blocks: gr.Blocks) -> None:
    """Refresh the status line when the page loads and every REFRESH_SECONDS after."""
    gr.on(
        [blocks.load, bar.timer.tick],
        functools.partial(fetch_status, ctx),
        outputs=bar.line,
        api_name="status",
        show_progress="hidden",
    )
