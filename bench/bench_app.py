"""A Playground turn and its first token through the studio's HTTP API, against a bare Gradio app and the server.

Three things run side by side, each in its own process: the studio (as app.py runs it, echo engine),
the bare Gradio echo app, and the studio's own local server reached directly. Each round makes one call
to each, in rotating order. A browser session pays for its set-up once, when the page opens; so each
round opens a new session with one turn, then measures the session's second turn (the first is noted).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from bench.apps import Running, bare_app, studio
from bench.common import CALL_TIMEOUT, Row, direct_stream, endpoint_inputs, fmt_ms, gradio_call, median, ms

TURN_GOAL_MS = 10.0
FIRST_TOKEN_GOAL_MS = 20.0


def replies_shown(count: int) -> Callable[[Any], bool]:
    """Whether the chat shows the first piece of the echo engine's `count`-th answer ("[turn N] ...")."""
    return lambda data: json.dumps(data).count("[turn ") >= count


def measure(app: Running, bare: Running, rounds: int, budget_s: float) -> dict[str, list[float]]:
    """Per round: the studio's turn and first token, the bare app's turn, the direct stream's first and end."""
    names = ("studio", "studio_first", "studio_new", "bare", "bare_new", "direct", "direct_first")
    out: dict[str, list[float]] = {k: [] for k in names}
    deadline = time.monotonic() + budget_s
    with httpx.Client(timeout=CALL_TIMEOUT) as http:
        inputs = endpoint_inputs(http, app.url, "chat")

        def chat_data(message: str) -> list[Any]:
            return inputs(message=message)

        def studio_turn(index: int) -> None:
            session = uuid.uuid4().hex
            first, second = chat_data(f"first {index}"), chat_data(f"hello number {index}")
            opened = gradio_call(http, app.url, "chat", first, replies_shown(1), session)
            turn = gradio_call(http, app.url, "chat", second, replies_shown(2), session)
            if f"[turn 2] You said: hello number {index}" not in json.dumps(turn.data):
                raise RuntimeError(f"the studio's answer is not the echo: {turn.data!r}")
            out["studio_new"].append(opened.total_s)
            out["studio"].append(turn.total_s)
            out["studio_first"].append(turn.first_s)

        def bare_turn(index: int) -> None:
            session = uuid.uuid4().hex
            out["bare_new"].append(
                gradio_call(http, bare.url, "chat", [f"first {index}"], None, session).total_s
            )
            out["bare"].append(gradio_call(http, bare.url, "chat", [f"hello {index}"], None, session).total_s)

        def direct(index: int) -> None:
            first, total = direct_stream(http, app.api, app.key, f"hello number {index}")
            out["direct_first"].append(first)
            out["direct"].append(total)

        steps = [studio_turn, bare_turn, direct]
        for step in steps:
            step(-1)  # warm up: first page of each, first model use, first connections
        for key in out:
            out[key].clear()
        for index in range(rounds):
            shift = index % len(steps)
            for step in steps[shift:] + steps[:shift]:
                step(index)
            if time.monotonic() > deadline:
                break
    return out


def run(quick: bool = False) -> list[Row]:
    """Two rows: the turn's added time at the median, and how much later the first token shows."""
    rounds, budget = (12, 30.0) if quick else (150, 150.0)
    with studio() as app, bare_app() as bare:
        out = measure(app, bare, rounds, budget)
    added = [s - b - d for s, b, d in zip(out["studio"], out["bare"], out["direct"], strict=True)]
    later = [s - d for s, d in zip(out["studio_first"], out["direct_first"], strict=True)]
    n = len(added)
    turn_row = Row(
        what="playground turn through the app (echo)",
        baseline=f"bare Gradio {fmt_ms(ms(median(out['bare'])))} + direct API {fmt_ms(ms(median(out['direct'])))}",
        measured=f"{fmt_ms(ms(median(out['studio'])))} = +{ms(median(added)):.1f} ms added",
        goal=f"<= {TURN_GOAL_MS:g} ms added (median)",
        met=ms(median(added)) <= TURN_GOAL_MS,
        note=f"median of per-round differences, {n} rounds; a session's first turn: "
        f"{fmt_ms(ms(median(out['studio_new'])))} vs bare {fmt_ms(ms(median(out['bare_new'])))}",
    )
    first_row = Row(
        what="first streamed token through the app",
        baseline=f"direct from the server {fmt_ms(ms(median(out['direct_first'])))}",
        measured=f"{fmt_ms(ms(median(out['studio_first'])))} = +{ms(median(later)):.1f} ms later",
        goal=f"<= {FIRST_TOKEN_GOAL_MS:g} ms later (median)",
        met=ms(median(later)) <= FIRST_TOKEN_GOAL_MS,
        note=f"median of per-round differences, {n} rounds",
    )
    return [turn_row, first_row]
