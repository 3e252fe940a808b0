"""Fifty browser sessions streaming through the studio at once, against one session alone.

The echo engine waits 5 ms per token and answers every request at once (its default). Each run first
opens the sessions (one turn each, as pages already in use), then times turns one at a time and fifty at
once. The same is done straight against the local server and against a bare Gradio echo app, to tell
their shares from the studio's. Every session sends its own marker and must get back its own, and no other.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.apps import Running, bare_app, studio
from bench.common import CALL_TIMEOUT, Row, agradio_call, endpoint_inputs, fmt_ms, median, ms, p95

SESSIONS = 50
DELAY_MS = 5.0
GOAL_MS = 100.0
_MARKER = re.compile(r"s\d\d-[0-9a-f]{8}")
LIMITS = httpx.Limits(max_connections=4 * SESSIONS, max_keepalive_connections=4 * SESSIONS)


def marker(index: int) -> str:
    """A word only session `index` of this run sends."""
    return f"s{index:02d}-{uuid.uuid4().hex[:8]}"


async def open_sessions(http: httpx.AsyncClient, url: str, data: list[Any], count: int) -> list[str]:
    """Open `count` sessions with one call each (as pages already in use), one after another."""
    sessions = [uuid.uuid4().hex for _ in range(count)]
    for session in sessions:
        await agradio_call(http, url, "chat", data, session=session)
    return sessions


def _mine(text: str, word: str) -> bool:
    """Whether `text` holds the echo of `word` and no other session's marker."""
    return set(_MARKER.findall(text)) == {word} and f"You said: my word is {word}" in text


Turn = Callable[[httpx.AsyncClient, str, int], Awaitable[tuple[float, bool]]]


def studio_turn(app: Running, inputs: Callable[..., list[Any]]) -> Turn:
    """One Playground turn in session `session`: its time, and whether it got its own text only."""

    async def turn(http: httpx.AsyncClient, session: str, index: int) -> tuple[float, bool]:
        word = marker(index)
        done = await agradio_call(
            http, app.url, "chat", inputs(message=f"my word is {word}"), session=session
        )
        return done.total_s, _mine(json.dumps(done.data), word)

    return turn


def bare_turn(bare: Running) -> Turn:
    """One call of the bare Gradio echo app in session `session`."""

    async def turn(http: httpx.AsyncClient, session: str, index: int) -> tuple[float, bool]:
        word = marker(index)
        done = await agradio_call(http, bare.url, "chat", [f"my word is {word}"], session=session)
        return done.total_s, _mine(json.dumps(done.data), word)

    return turn


def direct_turn(app: Running) -> Turn:
    """The same request streamed straight from the local server (no session)."""

    async def turn(http: httpx.AsyncClient, session: str, index: int) -> tuple[float, bool]:
        word = marker(index)
        body = {
            "model": "gpt-5-nano",
            "messages": [{"role": "user", "content": f"my word is {word}"}],
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {app.key}", "Accept": "text/event-stream"}
        started, text = time.perf_counter(), []
        async with http.stream("POST", f"{app.api}/generate", json=body, headers=headers) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data:") and line != "data: [DONE]":
                    text.append(json.loads(line[5:]).get("delta", ""))
        return time.perf_counter() - started, _mine(
            "You said: " + "".join(text).partition("You said: ")[2], word
        )

    return turn


async def alone_then_crowd(
    http: httpx.AsyncClient, turn: Turn, sessions: list[str], alone: int
) -> tuple[list[float], list[float], bool]:
    """`alone` turns one after another, then SESSIONS turns at once: their times, and whether all were isolated."""
    singles = [
        await turn(http, session, index)
        for index, session in enumerate(sessions[SESSIONS : SESSIONS + alone])
    ]
    crowd = await asyncio.gather(
        *(turn(http, session, index) for index, session in enumerate(sessions[:SESSIONS]))
    )
    results = singles + list(crowd)
    return [t for t, _ in singles], [t for t, _ in crowd], all(ok for _, ok in results)


async def measure(
    app: Running, bare: Running, rounds: int, alone: int, budget_s: float
) -> dict[str, dict[str, list[Any]]]:
    """Per round, for the studio, the server directly and the bare Gradio app: alone, then fifty at once."""
    out: dict[str, dict[str, list[Any]]] = {
        k: {"alone": [], "crowd": [], "ok": []} for k in ("studio", "direct", "bare")
    }
    deadline = time.monotonic() + budget_s
    async with httpx.AsyncClient(timeout=CALL_TIMEOUT, limits=LIMITS) as http:
        with httpx.Client(timeout=CALL_TIMEOUT) as sync_http:
            inputs = endpoint_inputs(sync_http, app.url, "chat")
        turns = {"studio": studio_turn(app, inputs), "direct": direct_turn(app), "bare": bare_turn(bare)}
        for _ in range(rounds):
            sessions = {
                "studio": await open_sessions(http, app.url, inputs(message="hello"), SESSIONS + alone),
                "bare": await open_sessions(http, bare.url, ["hello"], SESSIONS + alone),
                "direct": [""] * (SESSIONS + alone),
            }
            for name, turn in turns.items():
                singles, crowd, ok = await alone_then_crowd(http, turn, sessions[name], alone)
                out[name]["alone"] += singles
                out[name]["crowd"] += crowd
                out[name]["ok"].append(ok)
            if time.monotonic() > deadline:
                break
    return out


def _row(what: str, times: dict[str, list[Any]], goal: bool) -> Row:
    crowd, alone, isolated = times["crowd"], times["alone"], all(times["ok"])
    added = ms(p95(crowd) - p95(alone))
    return Row(
        what=what,
        baseline=f"one alone, p95 {fmt_ms(ms(p95(alone)))}",
        measured=f"p95 {fmt_ms(ms(p95(crowd)))} = +{added:.0f} ms; "
        + ("isolated" if isolated else "TEXT MIXED"),
        goal=f"all complete, isolated, p95 +<= {GOAL_MS:g} ms" if goal else "(for comparison)",
        met=(isolated and added <= GOAL_MS) if goal else None,
        note=f"{len(crowd)} turns, {len(alone)} alone; median {fmt_ms(ms(median(crowd)))}",
    )


def run(quick: bool = False) -> list[Row]:
    """The studio's row, then the server's and the bare Gradio app's under the same load, for comparison."""
    rounds, alone, budget = (1, 4, 60.0) if quick else (4, 10, 300.0)
    with studio(echo_delay_ms=DELAY_MS) as app, bare_app() as bare:
        out = asyncio.run(measure(app, bare, rounds, alone, budget))
    return [
        _row(f"{SESSIONS} sessions streaming at once, through the app", out["studio"], True),
        _row(f"{SESSIONS} streams at once, direct from the local server", out["direct"], False),
        _row(f"{SESSIONS} calls at once, bare Gradio echo app", out["bare"], False),
    ]
