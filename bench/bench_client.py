"""Each client call against the local server (echo engine), over the same request made with bare httpx.

The server runs in its own process, so the figures are what a caller sees over loopback. Subject and
baseline alternate call by call, in rotating order; the row is the ratio of the medians.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from backend.client import AssistantsClient, AsyncAssistantsClient
from bench.apps import local_server
from bench.common import Row, median, ms, rounds_of

GOAL = 1.10
MESSAGES = [{"role": "user", "content": "Say something about benchmarks, please."}]
MODEL = "gpt-5-nano"


def _event(line: str) -> None:
    """Parse one SSE data line, as any reader of the stream must."""
    if line.startswith("data:") and line != "data: [DONE]":
        json.loads(line[5:])


def _bare_stream(http: httpx.Client) -> None:
    """Read a streamed /generate to its end (`data: [DONE]`, then the close), parsing every event."""
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}
    with http.stream("POST", "/generate", json=body, headers={"Accept": "text/event-stream"}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            _event(line)


async def _abare_stream(http: httpx.AsyncClient) -> None:
    """The same with the async client."""
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}
    async with http.stream(
        "POST", "/generate", json=body, headers={"Accept": "text/event-stream"}
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            _event(line)


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


def _timed(call: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    return run


def sync_pairs(
    client: AssistantsClient, http: httpx.Client, known: str
) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """For each call: (the client's, bare httpx's)."""
    body = {"name": "Bench", "model": MODEL, "instructions": "", "description": ""}

    def client_stream() -> None:
        with client.generate_stream(MESSAGES, model=MODEL) as stream:
            for _ in stream:
                pass

    return {
        "list": (
            lambda: client.assistants.list(page=1, limit=20),
            lambda: _json(http.get("/assistants", params={"page": 1, "limit": 20})),
        ),
        "get": (lambda: client.assistants.get(known), lambda: _json(http.get(f"/assistants/{known}"))),
        "create": (
            lambda: client.assistants.create(name="Bench", model=MODEL),
            lambda: _json(http.post("/assistants", json=body)),
        ),
        "generate": (
            lambda: client.generate(MESSAGES, model=MODEL),
            lambda: _json(http.post("/generate", json={"model": MODEL, "messages": MESSAGES})),
        ),
        "streamed generate": (client_stream, lambda: _bare_stream(http)),
    }


def async_pairs(
    client: AsyncAssistantsClient, http: httpx.AsyncClient, known: str
) -> dict[str, tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]]:
    """For each call of the async client: (the client's, bare httpx's)."""
    body = {"name": "Bench", "model": MODEL, "instructions": "", "description": ""}

    async def client_stream() -> None:
        async with client.generate_stream(MESSAGES, model=MODEL) as stream:
            async for _ in stream:
                pass

    async def get_json(method: str, path: str, **kw: Any) -> Any:
        return _json(await http.request(method, path, **kw))

    return {
        "list": (
            lambda: client.assistants.list(page=1, limit=20),
            lambda: get_json("GET", "/assistants", params={"page": 1, "limit": 20}),
        ),
        "get": (lambda: client.assistants.get(known), lambda: get_json("GET", f"/assistants/{known}")),
        "create": (
            lambda: client.assistants.create(name="Bench", model=MODEL),
            lambda: get_json("POST", "/assistants", json=body),
        ),
        "generate": (
            lambda: client.generate(MESSAGES, model=MODEL),
            lambda: get_json("POST", "/generate", json={"model": MODEL, "messages": MESSAGES}),
        ),
        "streamed generate": (client_stream, lambda: _abare_stream(http)),
    }


async def _async_rounds(
    api: str, key: str, known: str, rounds: int, budget_s: float
) -> dict[str, dict[str, list[float]]]:
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    async with (
        AsyncAssistantsClient(base_url=api, api_key=key) as client,
        httpx.AsyncClient(base_url=api, headers=headers, timeout=30.0) as http,
    ):
        results: dict[str, dict[str, list[float]]] = {}
        for name, (subject, bare) in async_pairs(client, http, known).items():
            times: dict[str, list[float]] = {"client": [], "bare": []}
            await subject(), await bare()  # warm both connections and code paths
            deadline = time.monotonic() + budget_s
            for index in range(rounds):
                order = [("client", subject), ("bare", bare)][:: 1 if index % 2 else -1]
                for label, call in order:
                    started = time.perf_counter()
                    await call()
                    times[label].append(time.perf_counter() - started)
                if time.monotonic() > deadline:
                    break
            results[name] = times
        return results


def _row(what: str, times: dict[str, list[float]]) -> Row:
    client, bare = median(times["client"]), median(times["bare"])
    ratio = client / bare
    return Row(
        what=what,
        baseline=f"bare httpx {ms(bare):.2f} ms",
        measured=f"{ms(client):.2f} ms = {ratio:.3f}x",
        goal=f"<= {GOAL:.2f}x",
        met=ratio <= GOAL,
        note=f"median of {len(times['client'])} each",
    )


def run(quick: bool = False) -> list[Row]:
    """One row per call, sync client then async client."""
    rounds, budget = (40, 20.0) if quick else (400, 90.0)
    rows: list[Row] = []
    with local_server() as server:
        headers = {"Authorization": f"Bearer {server.key}", "Accept": "application/json"}
        with (
            AssistantsClient(base_url=server.api, api_key=server.key) as client,
            httpx.Client(base_url=server.api, headers=headers, timeout=30.0) as http,
        ):
            known = client.assistants.create(name="Known", model=MODEL, instructions="Be brief.").id
            for _ in range(19):
                client.assistants.create(name="Filler", model=MODEL)
            for name, (subject, bare) in sync_pairs(client, http, known).items():
                subject(), bare()  # warm both connections and code paths
                times = rounds_of({"client": _timed(subject), "bare": _timed(bare)}, rounds, budget)
                rows.append(_row(f"client {name} (sync)", times))
        for name, times in asyncio.run(_async_rounds(server.api, server.key, known, rounds, budget)).items():
            rows.append(_row(f"client {name} (async)", times))
    return rows
