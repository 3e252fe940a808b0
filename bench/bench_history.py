"""Assistants' history (issue 9): a save with its version recorded against the same save without; listing
1,000 versions and diffing two 20,000-character versions on SQLite and PostgreSQL; and what the generation
log adds to a Playground turn.

The saves talk to the local server in its own process (as the real service would be elsewhere), from this
process through the studio's client: one round is one save through the library (the API, then the version
in the store) and one plain save of another assistant, in rotating order.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import httpx

from backend.client import AsyncAssistantsClient
from bench.apps import local_server, studio
from bench.common import CALL_TIMEOUT, Row, endpoint_inputs, fmt_ms, gradio_call, median, ms, p95, store_urls
from studio.diff import diff_fields
from studio.library import AssistantLibrary
from studio.store import StoreHandle

SAVE_GOAL = 1.10
LOG_GOAL_MS = 2.0
VERSIONS = 1000
SERVER = "bench:server"
WORDS = [f"{stem}{n}" for stem in ("answer", "brief", "kindly", "step", "reason", "cite") for n in range(60)]


def instructions(seed: int, length: int = 20_000) -> str:
    """Instructions of about `length` characters: lines of words, as prompts are written."""
    rng = random.Random(seed)
    lines, size = [], 0
    while size < length:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))) + "."
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:length]


def edited(text: str, seed: int, changes: int = 40) -> str:
    """`text` with some words changed, some lines dropped and some added: a real revision."""
    rng = random.Random(seed)
    lines = text.split("\n")
    for _ in range(changes):
        index = rng.randrange(len(lines))
        words = lines[index].split(" ")
        words[rng.randrange(len(words))] = rng.choice(WORDS).upper()
        lines[index] = " ".join(words)
    del lines[rng.randrange(len(lines))]
    lines.insert(rng.randrange(len(lines)), "A new rule: " + " ".join(rng.choice(WORDS) for _ in range(10)))
    return "\n".join(lines)


async def _saves(api: str, key: str, url: str, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"library": [], "bare": []}
    store = StoreHandle(url)
    try:
        async with AsyncAssistantsClient(base_url=api, api_key=key) as client:
            library = AssistantLibrary(client, store, SERVER)
            mine = (await library.create(name="Recorded", model="gpt-5", instructions="v0")).assistant.id
            plain = (await client.assistants.create(name="Plain", model="gpt-5", instructions="v0")).id

            async def recorded(index: int) -> None:
                started = time.perf_counter()
                saved = await library.update(mine, instructions=f"version {index}")
                out["library"].append(time.perf_counter() - started)
                if saved.version is None:
                    raise RuntimeError(f"no version recorded: {saved.problem}")

            async def bare(index: int) -> None:
                started = time.perf_counter()
                await client.assistants.update(plain, instructions=f"version {index}")
                out["bare"].append(time.perf_counter() - started)

            for index in range(-5, rounds):  # the first five warm up the connections and the database
                steps = [recorded, bare] if index % 2 else [bare, recorded]
                for step in steps:
                    await step(index)
                if index == -1:
                    out = {name: [] for name in out}
    finally:
        store.close()
    return out


def save_rows(rounds: int) -> list[Row]:
    with local_server() as server, store_urls() as urls:
        out = asyncio.run(_saves(server.api, server.key, urls["SQLite"], rounds))
    ratio = median(out["library"]) / median(out["bare"])
    return [
        Row(
            what="a save with its version recorded (SQLite)",
            baseline=f"the same save without {fmt_ms(ms(median(out['bare'])))}",
            measured=f"{fmt_ms(ms(median(out['library'])))} = {ratio:.2f}x",
            goal=f"<= {SAVE_GOAL:.2f}x",
            met=ratio <= SAVE_GOAL,
            note=f"median of {len(out['bare'])} each, interleaved; PUT to the local server in its own process",
        )
    ]


def store_rows(rounds: int) -> list[Row]:
    """Listing the first page and paging to the last of 1,000 versions; a diff of two 20,000-char ones."""
    rows: list[Row] = []
    first, second = instructions(1), edited(instructions(1), 2)
    with store_urls() as urls:
        for name, url in urls.items():
            handle = StoreHandle(url)
            history = handle.get().history
            fields = {"id": "asst_bench", "name": "Long", "model": "gpt-5", "description": ""}
            history.record(SERVER, {**fields, "instructions": first}, "create")
            for index in range(2, VERSIONS):
                history.record(SERVER, {**fields, "instructions": f"{index}\n{first}"}, "save")
            history.record(SERVER, {**fields, "instructions": second}, "save")
            timings: dict[str, list[float]] = {"first page": [], "last page": [], "diff": []}
            for _ in range(rounds):
                for label, page in (("first page", 1), ("last page", 20)):
                    started = time.perf_counter()
                    listed = history.page(SERVER, "asst_bench", page)
                    timings[label].append(time.perf_counter() - started)
                    assert listed.total == VERSIONS
                started = time.perf_counter()
                a, b = history.get(SERVER, "asst_bench", 1), history.get(SERVER, "asst_bench", VERSIONS)
                diff = diff_fields(a.number, a.fields, b.number, b.fields)
                timings["diff"].append(time.perf_counter() - started)
                assert diff.instructions_changed
            handle.close()
            for label, values in timings.items():
                what = (
                    f"history of {VERSIONS:,} versions: {label} ({name})"
                    if label != "diff"
                    else f"diff of two 20,000-character versions, read and compared ({name})"
                )
                rows.append(Row(what, "-", f"p95 {fmt_ms(ms(p95(values)))}", "reported", None,
                                f"{len(values)} runs; median {fmt_ms(ms(median(values)))}"))  # fmt: skip
    return rows


def log_rows(rounds: int) -> list[Row]:
    """A Playground turn (its second, as bench_app measures it) in a studio with its store and the
    generation log, against the same studio started without a store: the log's cost per turn."""
    out: dict[str, list[float]] = {"logged": [], "unlogged": []}
    with studio() as logged, studio(no_store=True) as unlogged, httpx.Client(timeout=CALL_TIMEOUT) as http:
        apps = {"logged": logged, "unlogged": unlogged}
        inputs = {name: endpoint_inputs(http, app.url, "chat") for name, app in apps.items()}

        def turn(name: str, index: int) -> float:
            session = uuid.uuid4().hex
            gradio_call(http, apps[name].url, "chat", inputs[name](message=f"first {index}"), None, session)
            return gradio_call(
                http, apps[name].url, "chat", inputs[name](message=f"hi {index}"), None, session
            ).total_s

        for index in range(-3, rounds):
            order = ["logged", "unlogged"] if index % 2 else ["unlogged", "logged"]
            results = {name: turn(name, index) for name in order}
            if index >= 0:
                for name, value in results.items():
                    out[name].append(value)
    added = [a - b for a, b in zip(out["logged"], out["unlogged"], strict=True)]
    return [
        Row(
            what="the generation log's cost on a Playground turn",
            baseline=f"the studio without a store {fmt_ms(ms(median(out['unlogged'])))}",
            measured=f"{fmt_ms(ms(median(out['logged'])))} = {ms(median(added)):+.1f} ms",
            goal=f"<= +{LOG_GOAL_MS:g} ms (median)",
            met=ms(median(added)) <= LOG_GOAL_MS,
            note=f"median of per-round differences, {len(added)} rounds; echo engine",
        )
    ]


def run(quick: bool = False) -> list[Row]:
    saves, lists, turns = (20, 5, 10) if quick else (300, 40, 150)
    return [*save_rows(saves), *store_rows(lists), *log_rows(turns)]
