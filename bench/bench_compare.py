"""Compare (issue 10): a 4-column turn against a single chat, each column's first token, and ten sessions of
four columns at once.

The studio runs as app.py runs it, with the echo engine waiting 10 ms per word, so an answer takes a few
hundred milliseconds and four of them one after another would take four times as long. Every column runs
the chat's assistant with the same parameters, so a single chat turn is what each column alone would take:
the slowest single column. Each round opens two new sessions, one in Compare with four columns and one
in the chat, and times one turn of each, in rotating order.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.apps import Running, studio
from bench.common import CALL_TIMEOUT, Row, endpoint_inputs, fmt_ms, gradio_call, median, ms, p95

COLUMNS = 4
SESSIONS = 10
DELAY_MS = 10.0
RATIO_GOAL = 1.2
FIRST_TOKEN_GOAL_MS = 20.0
MESSAGE = "please tell me about the weather in the mountains this week and what I should pack for it"


def columns_of(data: list[Any]) -> list[str]:
    """The columns' chats in a compare event's outputs, as text (the outputs that are lists of messages)."""
    return [json.dumps(value) for value in data if isinstance(value, list)][:COLUMNS]


def open_compare(http: httpx.Client, url: str, session: str) -> None:
    """Give a new session four columns (Compare starts with two, all on the chat's assistant)."""
    for _ in range(COLUMNS - 2):
        gradio_call(http, url, "compare_add_column", [], session=session)


class CompareTurn:
    """One compare call: its total time and when each column showed its first answer."""

    def __init__(self, http: httpx.Client, url: str, data: list[Any], session: str) -> None:
        self.firsts: list[float | None] = [None] * COLUMNS
        turn = gradio_call(http, url, "compare", data, session=session, watch=self._watch)
        self.total_s = turn.total_s
        self.first_s = [(first or float("nan")) - turn.started for first in self.firsts]
        self.columns = columns_of(turn.data)

    def _watch(self, data: Any, now: float) -> None:
        for index, text in enumerate(columns_of(data)):
            if self.firsts[index] is None and "[turn " in text:
                self.firsts[index] = now


def measure(app: Running, rounds: int, budget_s: float) -> dict[str, Any]:
    """Per round: a 4-column compare turn and a single chat turn, each in a new session."""
    out: dict[str, Any] = {
        "compare": [],
        "compare_first": [[] for _ in range(COLUMNS)],
        "chat": [],
        "chat_first": [],
    }
    with httpx.Client(timeout=CALL_TIMEOUT) as http:
        compare_inputs = endpoint_inputs(http, app.url, "compare")
        chat_inputs = endpoint_inputs(http, app.url, "chat")

        def compare(index: int) -> None:
            session = uuid.uuid4().hex
            open_compare(http, app.url, session)
            message = f"{MESSAGE} {index}"
            turn = CompareTurn(http, app.url, compare_inputs(message=message), session)
            if (
                any(f"You said: {message}" not in text for text in turn.columns)
                or len(turn.columns) != COLUMNS
            ):
                raise RuntimeError(f"compare did not answer in {COLUMNS} columns: {turn.columns!r}")
            out["compare"].append(turn.total_s)
            for column, first in enumerate(turn.first_s):
                out["compare_first"][column].append(first)

        def chat(index: int) -> None:
            message = f"{MESSAGE} {index}"
            turn = gradio_call(
                http, app.url, "chat", chat_inputs(message=message), lambda d: "[turn " in json.dumps(d),
                uuid.uuid4().hex,
            )  # fmt: skip
            if f"You said: {message}" not in json.dumps(turn.data):
                raise RuntimeError(f"the chat's answer is not the echo: {turn.data!r}")
            out["chat"].append(turn.total_s)
            out["chat_first"].append(turn.first_s)

        steps: list[Callable[[int], None]] = [compare, chat]
        for step in steps:
            step(-1)  # warm up
        for values in (out["compare"], out["chat"], out["chat_first"], *out["compare_first"]):
            values.clear()  # the warm-up's times
        deadline = time.monotonic() + budget_s
        for index in range(rounds):
            for step in steps[index % 2 :] + steps[: index % 2]:
                step(index)
            if time.monotonic() > deadline:
                break
    return out


def sessions_at_once(app: Running, count: int) -> tuple[list[float], int]:
    """`count` sessions, each with four columns, send one compare turn at once; their times and how many
    columns showed anything but their own session's message."""
    markers = [f"session-{index:02d}-{uuid.uuid4().hex[:8]}" for index in range(count)]
    sessions = [uuid.uuid4().hex for _ in range(count)]
    limits = httpx.Limits(max_connections=4 * count, max_keepalive_connections=4 * count)
    with httpx.Client(timeout=CALL_TIMEOUT, limits=limits) as http:
        inputs = endpoint_inputs(http, app.url, "compare")
        for session in sessions:
            open_compare(http, app.url, session)

        def one(index: int) -> CompareTurn:
            return CompareTurn(http, app.url, inputs(message=f"{markers[index]} {MESSAGE}"), sessions[index])

        with ThreadPoolExecutor(max_workers=count) as pool:
            turns = list(pool.map(one, range(count)))
    crossed = 0
    for index, turn in enumerate(turns):
        others = [m for m in markers if m != markers[index]]
        for text in turn.columns:
            if markers[index] not in text or any(other in text for other in others):
                crossed += 1
        crossed += COLUMNS - len(turn.columns)
    return [turn.total_s for turn in turns], crossed


def run(quick: bool = False) -> list[Row]:
    """Three rows: the 4-column turn's ratio, each column's first token, and ten sessions at once."""
    rounds, budget = (6, 30.0) if quick else (40, 150.0)
    with studio(echo_delay_ms=DELAY_MS) as app:
        out = measure(app, rounds, budget)
        together, crossed = sessions_at_once(app, SESSIONS)
    alone, single = median(out["compare"]), median(out["chat"])
    ratio = alone / single
    n = len(out["chat"])
    later = [ms(median(firsts) - median(out["chat_first"])) for firsts in out["compare_first"]]
    return [
        Row(
            what=f"a {COLUMNS}-column Compare turn (echo, {DELAY_MS:g} ms a word)",
            baseline=f"the slowest single column alone (a chat turn) {fmt_ms(ms(single))}",
            measured=f"{fmt_ms(ms(alone))} = {ratio:.2f}x",
            goal=f"<= {RATIO_GOAL:g}x",
            met=ratio <= RATIO_GOAL,
            note=f"medians of {n} rounds; one after another would be about {COLUMNS}x",
        ),
        Row(
            what="each Compare column's first token",
            baseline=f"a single chat's first token {fmt_ms(ms(median(out['chat_first'])))}",
            measured="columns " + ", ".join(f"{value:+.1f}" for value in later) + " ms later",
            goal=f"<= +{FIRST_TOKEN_GOAL_MS:g} ms each (median)",
            met=max(later) <= FIRST_TOKEN_GOAL_MS,
            note=f"medians of {n} rounds",
        ),
        Row(
            what=f"{SESSIONS} sessions x {COLUMNS} columns at once",
            baseline=f"one session's 4-column turn {fmt_ms(ms(alone))}",
            measured=f"p95 {fmt_ms(ms(p95(together)))} = {p95(together) / alone:.2f}x; "
            f"{crossed} of {SESSIONS * COLUMNS} columns crossed",
            goal="no cross-talk",
            met=crossed == 0,
            note="each session sends its own marker; every column must show it and no other",
        ),
    ]
