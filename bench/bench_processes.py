"""Fifty browser sessions through nginx to two studio processes, against the same through nginx to one.

README's "Several studio processes on one PostgreSQL", run for real: one PostgreSQL, one stand-alone
Assistants API server (echo engine, 5 ms a token, as bench_sessions), two `python app.py` processes sharing
the data folder, and Debian's nginx with the site of deploy/ twice: in front of both processes, and in
front of the first only. Each session is a browser of its own (its own cookies, so nginx's affinity cookie
keeps it on one process); each round opens the sessions (one turn each), times turns one at a time, then
fifty at once, on both nginx sites in turn. Every session sends its own marker and must get back its own only.

A studio process runs its Python on one core at a time, so a second process can use a core the first
leaves idle; how much that gains depends on what the API server, nginx and PostgreSQL leave of the machine,
so the row reports the core count beside the ratio (p95 through two processes / p95 through one).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.bench_sessions import SESSIONS, _mine, marker
from bench.cluster import Proxy, api_server, proxy, shared_data_dir, studios
from bench.common import (
    CALL_TIMEOUT,
    Row,
    agradio_call,
    endpoint_inputs,
    fmt_ms,
    median,
    ms,
    p95,
    scratch_dir,
    store_urls,
)
from deploy.nginx import nginx_binary

DELAY_MS = 5.0
SETUPS = ("two", "one")  # nginx in front of two processes; in front of one


@dataclass
class Browser:
    """One session: its own client (so its own cookies) and its Gradio session."""

    http: httpx.AsyncClient
    session: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Times:
    alone: list[float] = field(default_factory=list)
    crowd: list[float] = field(default_factory=list)
    ok: list[bool] = field(default_factory=list)
    sticky: list[bool] = field(default_factory=list)
    spread: list[int] = field(default_factory=list)  # per round: how many processes served the crowd


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (Debian's server, started in a temporary folder)."""
    with store_urls() as urls:
        if "PostgreSQL" not in urls:
            raise RuntimeError("PostgreSQL could not start (apt-get install postgresql)")
        yield urls["PostgreSQL"]


async def turn(front: Proxy, browser: Browser, inputs: Any, index: int) -> tuple[float, bool]:
    """One Playground turn of this browser's session: its time, and whether it got its own text only."""
    word = marker(index)
    done = await agradio_call(
        browser.http, front.url, "chat", inputs(message=f"my word is {word}"), session=browser.session
    )
    return done.total_s, _mine(json.dumps(done.data), word)


def _browser(front: Proxy) -> Browser:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    return Browser(httpx.AsyncClient(timeout=CALL_TIMEOUT, limits=limits, headers={"Host": front.host}))


def _sticky(front: Proxy, browsers: list[Browser]) -> tuple[bool, int]:
    """Whether every browser's requests reached one process, and how many processes served them all."""
    served = [front.upstreams_of(b.http.cookies.get("studio_affinity") or "?") for b in browsers]
    return all(len(s) == 1 for s in served), len(set().union(*served))


async def one_round(front: Proxy, inputs: Any, alone: int, times: Times) -> None:
    """Open SESSIONS + alone browsers, time `alone` turns one after another, then SESSIONS at once."""
    browsers = [_browser(front) for _ in range(SESSIONS + alone)]
    try:
        for browser in browsers:
            await agradio_call(
                browser.http, front.url, "chat", inputs(message="hello"), session=browser.session
            )
        singles = [await turn(front, b, inputs, i) for i, b in enumerate(browsers[SESSIONS:])]
        crowd = await asyncio.gather(*(turn(front, b, inputs, i) for i, b in enumerate(browsers[:SESSIONS])))
    finally:
        for browser in browsers:
            await browser.http.aclose()
    times.alone += [t for t, _ in singles]
    times.crowd += [t for t, _ in crowd]
    times.ok.append(all(ok for _, ok in [*singles, *crowd]))
    await asyncio.sleep(0.5)  # nginx logs a request when its answer has ended
    sticky, spread = _sticky(front, browsers[:SESSIONS])
    times.sticky.append(sticky)
    times.spread.append(spread)


async def measure(fronts: dict[str, Proxy], rounds: int, alone: int, budget_s: float) -> dict[str, Times]:
    """Per round, both setups in turn (the order rotating each round)."""
    with httpx.Client(timeout=CALL_TIMEOUT, headers={"Host": fronts["one"].host}) as http:
        inputs = endpoint_inputs(http, fronts["one"].url, "chat")
    out = {name: Times() for name in fronts}
    deadline = time.monotonic() + budget_s
    for index in range(rounds):
        order = list(SETUPS[index % 2 :] + SETUPS[: index % 2])
        for name in order:
            await one_round(fronts[name], inputs, alone, out[name])
        if time.monotonic() > deadline:
            break
    return out


def row(out: dict[str, Times], cores: int | None) -> Row:
    two, one = out["two"], out["one"]
    ratio = p95(two.crowd) / p95(one.crowd)
    ok = all(two.ok + one.ok)
    sticky = all(two.sticky + one.sticky)
    both_used = all(spread == 2 for spread in two.spread)
    checks = ("isolated" if ok else "TEXT MIXED") + (", sticky" if sticky else ", NOT STICKY")
    checks += "" if both_used else ", ONE PROCESS SERVED ALL"
    return Row(
        what=f"{SESSIONS} sessions at once through nginx: two studio processes ({cores} cores)",
        baseline=f"one process behind nginx, p95 {fmt_ms(ms(p95(one.crowd)))}",
        measured=f"p95 {fmt_ms(ms(p95(two.crowd)))} = {ratio:.2f}× one; {checks}",
        goal="all complete, isolated, each session on one process; ratio reported",
        met=ok and sticky and both_used,
        note=f"{cores} cores; {len(two.crowd)} turns each; alone p95 {fmt_ms(ms(p95(two.alone)))} (two) "
        f"vs {fmt_ms(ms(p95(one.alone)))} (one); median {fmt_ms(ms(median(two.crowd)))} vs "
        f"{fmt_ms(ms(median(one.crowd)))}",
    )


def run(quick: bool = False) -> list[Row]:
    """One row: two processes against one, both behind nginx, same run, same database and API server."""
    if nginx_binary() is None:
        return [Row(f"{SESSIONS} sessions through two processes", "-", "skipped: no nginx", "-", None)]
    rounds, alone, budget = (1, 4, 120.0) if quick else (4, 10, 600.0)
    with scratch_dir() as folder, postgres_url() as database_url:
        data_dir = shared_data_dir(Path(folder) / "studio-data")
        with (
            api_server(Path(folder) / "api", delay_ms=DELAY_MS) as api,
            studios(2, api=api, database_url=database_url, data_dir=data_dir) as started,
            proxy(started) as both,
            proxy(started[:1]) as first_only,
        ):
            out = asyncio.run(measure({"two": both, "one": first_only}, rounds, alone, budget))
    return [row(out, os.cpu_count())]
