"""Test suites: a run against a bare asyncio + httpx loop, assertion evaluation per case, and the Playground's
first token while a run goes on.

1. A suite of 200 cases × 2 targets (the current version, called by id, and version 1, sent as system text)
   at concurrency 8 on the echo engine, through `SuiteRun` (streaming, checks, the generation log, results
   written to a SQLite store), against a bare asyncio + httpx loop making the same 400 streamed calls at the
   same concurrency. Both talk to the same local server in its own process; rounds alternate.
2. The assertions of a typical case (contains, icontains, not-contains, regex, is-json, similar, cost,
   latency) evaluated on a 60-word answer: the median per case, judges excluded.
3. The studio as app.py runs it: a Playground turn's first token while a suite of 400 calls runs in the same
   process, against the same turn when the studio is idle.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.apps import local_server, studio
from bench.bench_app import replies_shown
from bench.common import CALL_TIMEOUT, Row, endpoint_inputs, fmt_ms, gradio_call, median, ms

CASES = 200
CONCURRENCY = 8
RUN_GOAL = 1.15
BUSY_GOAL_MS = 50.0
CHECK_GOAL_MS = 1.0


def _cases() -> list[Any]:
    from studio.suites.model import Assertion, Case

    return [Case(f"case {i}", {"question": f"What is item {i}?"}, [],
                 [Assertion("contains", f"item {i}"), Assertion("cost", threshold=5)]) for i in range(CASES)]  # fmt: skip


async def _setup(api: str, key: str, store_url: str) -> tuple[Any, Any, Any, Any]:
    from backend.client import AsyncAssistantsClient
    from studio.library import AssistantLibrary
    from studio.store import StoreHandle
    from studio.suites.runner import RunOptions, TargetSpec, resolve_targets

    client = AsyncAssistantsClient(base_url=api, api_key=key)
    store = StoreHandle(store_url)
    library = AssistantLibrary(client, store, "bench")
    made = await library.create(name="Bench", model="gpt-5-nano", instructions="Be kind.")
    await library.update(made.assistant.id, instructions="Answer briefly.")
    suite = store.get().suites.create_suite(
        "bench", made.assistant.id, "Bench", "{{question}}", cases=_cases()
    )
    options = RunOptions(concurrency=CONCURRENCY)
    targets = await resolve_targets(library, made.assistant.id, [TargetSpec(), TargetSpec("1")], options)
    return library, suite, targets, options


async def _studio_run(library: Any, suite: Any, targets: list[Any], options: Any) -> float:
    from studio.suites.runner import SuiteRun

    run = SuiteRun(library, suite, suite.cases, targets, options, log=library.store.log)
    started = time.perf_counter()
    results = await run.execute()
    took = time.perf_counter() - started
    if len(results) != 2 * CASES or any(r.status != "pass" for r in results):
        raise RuntimeError(
            f"the suite did not pass: {[r.reasons() for r in results if r.status != 'pass'][:2]}"
        )
    return took


async def _bare_run(http: httpx.AsyncClient, api: str, key: str, bodies: list[dict[str, Any]]) -> float:
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            async with http.stream("POST", f"{api}/generate", json=body, headers=headers) as response:
                response.raise_for_status()
                async for _line in response.aiter_lines():  # to the end, so the connection is reused
                    pass

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def _bodies(targets: list[Any]) -> list[dict[str, Any]]:
    """The same 400 requests the runner sends: by id for the current version, system text for version 1."""
    bodies = []
    for case in _cases():
        for target in targets:
            body = {"messages": [{"role": "user", "content": case.vars["question"]}], "stream": True,
                    **target.arguments(case.vars)}  # fmt: skip
            bodies.append(body)
    return bodies


def measure_run(rounds: int) -> tuple[list[float], list[float]]:
    async def main(api: str, key: str, folder: Path) -> tuple[list[float], list[float]]:
        library, suite, targets, options = await _setup(api, key, f"sqlite:///{folder / 'store.db'}")
        bodies = _bodies(targets)
        studio_s, bare_s = [], []
        limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY * 2)
        async with httpx.AsyncClient(timeout=CALL_TIMEOUT, limits=limits) as http:
            await _bare_run(http, api, key, bodies[:16])  # warm up both
            await _studio_run(library, suite, targets, options)
            for index in range(rounds):
                order = [0, 1] if index % 2 == 0 else [1, 0]
                for which in order:
                    if which == 0:
                        studio_s.append(await _studio_run(library, suite, targets, options))
                    else:
                        bare_s.append(await _bare_run(http, api, key, bodies))
        await library.client.close()
        library.store.close()
        return studio_s, bare_s

    with local_server() as server, tempfile.TemporaryDirectory() as folder:
        return asyncio.run(main(server.api, server.key, Path(folder)))


def measure_checks(samples: int) -> list[float]:
    from studio.suites.assertions import Observed, evaluate_all
    from studio.suites.model import Assertion

    answer = json.dumps({"answer": " ".join(f"word{i}" for i in range(60)), "city": "Paris"})
    checks = [
        Assertion("contains", "Paris"), Assertion("icontains", "PARIS"), Assertion("not-contains", "London"),
        Assertion("regex", r"word\d+ word\d+"), Assertion("is-json", {"type": "object", "required": ["city"]}),
        Assertion("similar", "word1 word2 word3 Paris", 0.1), Assertion("cost", threshold=5),
        Assertion("latency", threshold=1000),
    ]  # fmt: skip
    observed = Observed(answer, tokens_used=1, latency_ms=120.0, vars={})

    async def main() -> list[float]:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            outcomes = await evaluate_all(checks, observed)
            times.append(time.perf_counter() - started)
            if any(o.status != "pass" for o in outcomes):
                raise RuntimeError(f"a check did not pass: {outcomes}")
        return times

    return asyncio.run(main())


def _seed_store(data_dir: Path, api: str, key: str) -> tuple[str, str]:
    """An assistant and a suite of 200 cases in the studio's store (the same SQLite file the studio opens)."""
    from backend.client import AssistantsClient
    from studio.servers import server_key
    from studio.store import StoreHandle, default_url

    with AssistantsClient(base_url=api, api_key=key) as client:
        made = client.assistants.create(name="Bench", model="gpt-5-nano", instructions="Answer briefly.")
    store = StoreHandle(default_url(data_dir / "data"))
    suite = store.get().suites.create_suite(server_key(api, local_data_dir=data_dir / "data"), made.id, "Bench",
                                            "{{question}}", cases=_cases())  # fmt: skip
    store.close()
    return made.id, str(suite.id)


def measure_busy(rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"idle": [], "busy": []}
    with studio() as app, httpx.Client(timeout=CALL_TIMEOUT) as http:
        data_dir = Path(app.key and _data_dir_of(app))
        _, suite_id = _seed_store(data_dir, app.api, app.key)
        chat = endpoint_inputs(http, app.url, "chat")
        run_inputs = endpoint_inputs(http, app.url, "suite_run")
        stop = threading.Event()
        runs = {"count": 0}

        def keep_running() -> None:
            with httpx.Client(timeout=600) as other:
                while not stop.is_set():
                    gradio_call(other, app.url, "suite_run",
                                run_inputs(suite_id=suite_id, targets="current\ncurrent model=gpt-5", concurrency=8))  # fmt: skip
                    runs["count"] += 1

        def turn(index: int) -> float:
            session = uuid.uuid4().hex
            gradio_call(http, app.url, "chat", chat(message=f"first {index}"), replies_shown(1), session)
            second = gradio_call(
                http, app.url, "chat", chat(message=f"hello {index}"), replies_shown(2), session
            )
            return second.first_s

        turn(-1)
        for index in range(rounds):
            out["idle"].append(turn(index))
        runner = threading.Thread(target=keep_running, daemon=True)
        runner.start()
        time.sleep(1.0)  # the run is under way
        for index in range(rounds):
            out["busy"].append(turn(index))
        stop.set()
        runner.join(timeout=600)
        out["runs"] = [float(runs["count"])]
    return out


def _data_dir_of(app: Any) -> str:
    """The studio's scratch folder: the one holding <data>/api_key, found from the running process's args."""
    args = app.proc.process.args
    return str(args[args.index("--data-dir") + 1])


def run(quick: bool = False) -> list[Row]:
    rounds = 2 if quick else 6
    studio_s, bare_s = measure_run(rounds)
    ratio = median(studio_s) / median(bare_s)
    run_row = Row(
        what=f"suite run: {CASES} cases × 2 targets, concurrency {CONCURRENCY} (echo)",
        baseline=f"bare asyncio + httpx {fmt_ms(ms(median(bare_s)))}",
        measured=f"{fmt_ms(ms(median(studio_s)))} = {ratio:.3f}x",
        goal=f"<= {RUN_GOAL:g}x",
        met=ratio <= RUN_GOAL,
        note=f"median of {len(studio_s)} runs each, alternating; 400 streamed calls, checks and stored results",
    )
    checks = measure_checks(200 if quick else 2000)
    per_case = ms(statistics.median(checks))
    check_row = Row(
        what="assertion evaluation per case (8 checks, no judge)",
        baseline="-",
        measured=f"median {per_case:.3f} ms",
        goal=f"<= {CHECK_GOAL_MS:g} ms",
        met=per_case <= CHECK_GOAL_MS,
        note="contains, icontains, not-contains, regex, is-json with a schema, similar, cost, latency",
    )
    busy = measure_busy(8 if quick else 40)
    later = ms(median(busy["busy"]) - median(busy["idle"]))
    busy_row = Row(
        what="playground first token during a suite run",
        baseline=f"idle studio {fmt_ms(ms(median(busy['idle'])))}",
        measured=f"{fmt_ms(ms(median(busy['busy'])))} = {later:+.1f} ms",
        goal=f"<= +{BUSY_GOAL_MS:g} ms (median)",
        met=later <= BUSY_GOAL_MS,
        note=f"{len(busy['busy'])} turns each; runs of 400 calls at concurrency 8 going on throughout "
        f"({busy['runs'][0]:.0f} runs)",
    )
    return [run_row, check_row, busy_row]
