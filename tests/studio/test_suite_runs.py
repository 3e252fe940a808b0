"""Runs of suites through the real local server (echo engine): targets, repeats, failures, Cancel, replay,
the judge, the generation log, and a run cut short by a killed process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.client import AsyncAssistantsClient
from backend.server.embedded import EmbeddedServer
from studio.library import AssistantLibrary
from studio.servers import server_key
from studio.store import StoreHandle
from studio.store.schema import generations
from studio.suites.model import Assertion, Case, Suite, SuiteError
from studio.suites.results import summarize
from studio.suites.runner import RunOptions, RunRegistry, SuiteRun, TargetSpec, resolve_targets
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Bench:
    """The studio's parts a run needs, over a real local server and a SQLite store."""

    server: EmbeddedServer
    client: AsyncAssistantsClient
    store: StoreHandle
    library: AssistantLibrary

    def suite(
        self,
        assistant_id: str,
        cases: list[Case],
        prompt: str = "{{question}}",
        judge: str = "",
        name: str = "Smoke",
    ) -> Suite:
        key = self.library.server
        return self.store.get().suites.create_suite(key, assistant_id, name, prompt, judge, cases)

    def log(self) -> list[dict]:
        self.store.get().log.flush()
        with self.store.get().db.read() as db:
            return [dict(r) for r in db.execute(select(generations).order_by(generations.c.id)).mappings()]


async def _bench(server: EmbeddedServer) -> AsyncIterator[Bench]:
    client = AsyncAssistantsClient(base_url=server.base_url, api_key=server.api_key)
    store = StoreHandle(f"sqlite:///{server.settings.data_dir / 'workbench.db'}")
    key = server_key(server.base_url, local_data_dir=server.settings.data_dir)
    try:
        yield Bench(server, client, store, AssistantLibrary(client, store, key))
    finally:
        await client.close()
        store.close()


@pytest.fixture
async def bench(local_server) -> AsyncIterator[Bench]:
    async for made in _bench(local_server):
        yield made


@pytest.fixture
async def slow_bench(tmp_path) -> AsyncIterator[Bench]:
    """A server whose echo takes 30 ms a word, so a run can be caught half-way."""
    with EmbeddedServer(make_settings(tmp_path / "slow", echo_delay_ms=30)) as server:
        async for made in _bench(server):
            yield made


async def tutor(bench: Bench) -> str:
    """An assistant with two versions: v1 "Be kind." (8 chars), v2 "Answer briefly." (15 chars)."""
    made = await bench.library.create(name="Tutor", model="gpt-5-nano", instructions="Be kind.")
    await bench.library.update(made.assistant.id, instructions="Answer briefly.")
    return made.assistant.id


def run_of(bench: Bench, suite: Suite, targets, **options) -> SuiteRun:
    return SuiteRun(bench.library, suite, suite.cases, targets, RunOptions(**options), log=bench.store.log)


async def test_a_suite_against_two_versions(bench):
    assistant = await tutor(bench)
    cases = [
        Case("capital", {"question": "Capital of France?"}, [], [Assertion("contains", "France"),
             Assertion("contains", "instructions 15 chars"), Assertion("cost", threshold=5)]),
        Case("", {"question": "Say {{x}}"}, [], [Assertion("regex", r"^\[turn 1 \|"), Assertion("icontains", "SAY")]),
        Case("given history", {"question": "unused"}, [
            {"role": "user", "content": "First"}, {"role": "assistant", "content": "Fine."},
            {"role": "user", "content": "Second about {{question}}"}], [Assertion("starts-with", "[turn 2 |"),
             Assertion("contains", "Second about unused")]),
    ]  # fmt: skip
    suite = bench.suite(assistant, cases)
    targets = await resolve_targets(bench.library, assistant, [TargetSpec(), TargetSpec("1")], RunOptions())
    assert [t.label for t in targets] == ["current (v2)", "v1"]
    run = run_of(bench, suite, targets, repeats=2, concurrency=3)
    results = await run.execute()

    assert run.progress.status == "finished" and run.progress.done == 12 == len(results)
    by_cell = {(r.case_index, r.target, r.repeat): r for r in results}
    current, older = by_cell[(0, 0, 0)], by_cell[(0, 1, 0)]
    assert current.answer == "[turn 1 | instructions 15 chars] You said: Capital of France?"
    assert current.status == "pass" and current.tokens_used == 1 and current.latency_ms > 0
    assert older.answer == "[turn 1 | instructions 8 chars] You said: Capital of France?"
    assert older.status == "fail"
    assert [o.status for o in older.outcomes] == ["pass", "fail", "pass"]
    assert "does not contain “instructions 15 chars”" in older.outcomes[1].reason
    assert by_cell[(1, 0, 1)].answer.endswith("You said: Say {{x}}")  # a variable's value is not filled again
    assert by_cell[(2, 1, 0)].status == "pass"  # the given answer is history: this is turn 2

    summary = summarize(results, run.info().target_labels())
    assert [(s.label, s.passed, s.failed, s.tokens_used) for s in summary] == [
        ("current (v2)", 6, 0, 6), ("v1", 4, 2, 6),
    ]  # fmt: skip
    stored = bench.store.get().suites
    info = stored.run(run.id)
    assert (info.status, info.done, info.passed, info.suite_id) == ("finished", 12, 10, suite.id)
    assert sorted(stored.results(run.id), key=lambda r: (r.case_index, r.target, r.repeat)) == sorted(
        results, key=lambda r: (r.case_index, r.target, r.repeat)
    )
    logged = [row for row in bench.log() if row["run_id"] == run.id]
    assert len(logged) == 12 and {row["origin"] for row in logged} == {"test"}
    assert {row["version"] for row in logged} == {1, 2}


async def test_a_failing_call_is_the_cases_error_and_the_run_goes_on(bench):
    assistant = await tutor(bench)
    suite = bench.suite(assistant, [Case("a", {"question": "one"}), Case("b", {"question": "two"})])
    specs = [TargetSpec(), TargetSpec(model="no-such-model")]
    run = run_of(bench, suite, await resolve_targets(bench.library, assistant, specs, RunOptions()))
    results = await run.execute()
    broken = [r for r in results if r.target == 1]
    assert {r.status for r in broken} == {"error"} and len(broken) == 2
    assert "no-such-model" in broken[0].error
    assert {r.status for r in results if r.target == 0} == {"pass"}
    assert run.progress.errors == 2 and run.progress.status == "finished"


async def test_targets_that_cannot_be_resolved_are_refused_before_any_call(bench):
    assistant = await tutor(bench)
    with pytest.raises(Exception, match="There is no version 9"):
        await resolve_targets(bench.library, assistant, [TargetSpec("9")], RunOptions())
    with pytest.raises(Exception, match="labelled “production”"):
        await resolve_targets(bench.library, assistant, [TargetSpec("production")], RunOptions())
    await bench.library.set_label(assistant, "production", 1)
    [target] = await resolve_targets(bench.library, assistant, [TargetSpec("production")], RunOptions())
    assert target.label == "production (v1)" and target.profile.instructions == "Be kind."
    with pytest.raises(SuiteError, match="prompt, and it is empty"):
        SuiteRun(bench.library, Suite("x", assistant), [Case()], [target], RunOptions())
    with pytest.raises(SuiteError, match="1 to 32 calls at once"):
        SuiteRun(
            bench.library, Suite("x", assistant, "{{q}}"), [Case()], [target], RunOptions(concurrency=99)
        )


async def test_cancel_keeps_what_finished(slow_bench):
    bench = slow_bench
    assistant = await tutor(bench)
    suite = bench.suite(assistant, [Case(f"case {i}", {"question": f"number {i}"}) for i in range(40)])
    [target] = await resolve_targets(bench.library, assistant, [TargetSpec()], RunOptions())
    registry = RunRegistry()
    run = run_of(bench, suite, [target], concurrency=2)
    task = registry.start(run)
    while run.progress.done < 3:
        await asyncio.sleep(0.02)
    assert "left" in run.progress.describe()
    assert registry.cancel(run.id) and not registry.cancel("nope")
    results = await task
    assert run.progress.status == "cancelled" and 3 <= len(results) < 40
    assert "cancelled: what finished is kept" in run.progress.describe()
    info = bench.store.get().suites.run(run.id)
    assert (info.status, info.done) == ("cancelled", len(results))
    stopped = [row for row in bench.log() if row["run_id"] == run.id and row["outcome"] == "stopped"]
    assert stopped  # the calls under way were stopped, and logged as such


async def test_replay_sends_each_turn_with_the_targets_own_answers(bench):
    assistant = await tutor(bench)
    conversation = [
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "[turn 1 | instructions 15 chars] You said: Hello there, friend"},
        {"role": "user", "content": "And again"},
        {"role": "assistant", "content": "A reference that the version will not say at all"},
    ]
    replay = Case("chat", {}, conversation, [], replay=True)
    checked = Case("chat with checks", {}, conversation[:2] + conversation[2:3],
                   [Assertion("contains", "turn 1", turn=1), Assertion("contains", "again")], replay=True)  # fmt: skip
    suite = bench.suite(assistant, [replay, checked])
    targets = await resolve_targets(bench.library, assistant, [TargetSpec(), TargetSpec("1")], RunOptions())
    results = {(r.case_index, r.target): r for r in await run_of(bench, suite, targets).execute()}

    mine = results[(0, 0)]
    assert [t.answer for t in mine.turns] == [
        "[turn 1 | instructions 15 chars] You said: Hello there",
        "[turn 2 | instructions 15 chars] You said: And again",
    ]
    assert [t.status for t in mine.turns] == ["pass", "fail"]  # similar to the reference by default
    assert mine.turns[1].reference == "A reference that the version will not say at all"
    assert [o.type for o in mine.outcomes] == ["similar", "similar"] and mine.status == "fail"
    assert [t.status for t in results[(0, 1)].turns] == ["pass", "fail"]  # v1's turn 1 is close enough
    assert results[(1, 0)].status == "pass"
    assert [o.turn for o in results[(1, 0)].outcomes] == [1, 2]

    # The second call's history holds the version's own first answer (10 words), not the reference (11).
    counts = [row["prompt_tokens"] for row in bench.log() if row["version"] == 2]
    own = 2 + 2 + 10 + 2  # words of the system text, user 1, its own answer 1, user 2
    assert own in counts and own + 1 not in counts


async def test_llm_rubric_through_a_judge_on_the_same_api(bench):
    assistant = await tutor(bench)
    verdict = '{"pass": false, "reason": "It does not name a city."}'
    cases = [Case("judged", {"question": "Where?"}, [], [Assertion("llm-rubric", f"Names a city. {verdict}")]),
             Case("no verdict", {"question": "Where?"}, [], [Assertion("llm-rubric", "Names a city.")])]  # fmt: skip
    suite = bench.suite(assistant, cases, judge="gpt-5-nano")
    targets = await resolve_targets(bench.library, assistant, [TargetSpec()], RunOptions())
    judged, unjudged = sorted(await run_of(bench, suite, targets).execute(), key=lambda r: r.case_index)
    assert judged.status == "fail" and judged.outcomes[0].reason == "The judge says: It does not name a city."
    assert judged.judge_tokens == 1
    assert unjudged.status == "error" and "did not answer with a verdict" in unjudged.outcomes[0].reason

    gone = bench.suite(assistant, cases[:1], judge="assistant:asst_missing", name="Judged by nobody")
    [result] = await run_of(bench, gone, targets).execute()
    assert result.status == "error" and "The judge could not grade this answer" in result.outcomes[0].reason


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from backend.client import AsyncAssistantsClient
    from studio.library import AssistantLibrary
    from studio.store import StoreHandle
    from studio.suites.runner import RunOptions, SuiteRun, resolve_targets, TargetSpec

    async def main(base_url, key, store_url, server, suite_id):
        client = AsyncAssistantsClient(base_url=base_url, api_key=key)
        store = StoreHandle(store_url)
        library = AssistantLibrary(client, store, server)
        suite = store.get().suites.suite(int(suite_id))
        targets = await resolve_targets(library, suite.assistant_id, [TargetSpec()], RunOptions())
        await SuiteRun(library, suite, suite.cases, targets, RunOptions(concurrency=1)).execute()

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_a_run_cut_by_a_killed_studio_is_marked_interrupted_with_its_results_kept(slow_bench):
    bench = slow_bench
    assistant = await tutor(bench)
    suite = bench.suite(assistant, [Case(f"case {i}", {"question": f"number {i}"}) for i in range(200)])
    url = bench.store.url
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [bench.server.base_url, bench.server.api_key, url, bench.library.server, str(suite.id)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = bench.store.get().suites.runs(bench.library.server, assistant)
            if runs and runs[0].done >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the child's run stored no results in time")
        assert runs[0].status == "running"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    bench.store.close()
    reopened = StoreHandle(url)
    [info] = reopened.get().suites.runs(bench.library.server, assistant)
    assert info.status == "interrupted" and 2 <= info.done < 200
    assert len(reopened.get().suites.results(info.id)) == info.done
    reopened.close()


@pytest.mark.model
async def test_a_run_on_the_real_local_model(tmp_path):
    from backend.server.engines.llama import bundled_model_path

    if bundled_model_path() is None:
        pytest.skip("the local model is not installed")
    settings = make_settings(tmp_path / "llama", engines={"*": "llama"}, model_context=512, model_threads=2)
    with EmbeddedServer(settings) as server:
        async for bench in _bench(server):
            made = await bench.library.create(
                name="Colours", model="gpt-5-nano", instructions="Answer in one line."
            )
            checks = [Assertion("not-equals", ""), Assertion("cost", threshold=100), Assertion("latency", threshold=120_000),
                      Assertion("regex", r"\w")]  # fmt: skip
            suite = bench.suite(made.assistant.id, [Case("rainbow", {"question": "Name a colour of the rainbow."},
                                                         [], checks)])  # fmt: skip
            targets = await resolve_targets(bench.library, made.assistant.id, [TargetSpec()],
                                            RunOptions(max_tokens=16))  # fmt: skip
            [result] = await run_of(bench, suite, targets, max_tokens=16).execute()
            assert result.status == "pass", result.reasons()
            assert result.answer.strip() and result.latency_ms > 0 and result.first_token_ms is not None
            assert [row["engine"] for row in bench.log()] == ["llama"]
