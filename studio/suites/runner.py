"""Running a suite against one or more targets: versions of the assistant (by number or label), model
overrides, edited instructions; each case repeated N times; calls concurrent up to a limit.

Every call is streamed through `studio.answering.stream_answer`, like the Playground's, so it is measured
(first token, total time) and written to the generation log under the run's id. A call that fails makes
its case an error and the run goes on. Results are written to the store in batches, with a heartbeat, as
they finish; Cancel stops the calls under way and keeps what finished. A replayed conversation sends its
user turns one by one, with the target's own earlier answers as the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from backend.schemas import DEFAULT_TEMPERATURE
from studio import variables
from studio.answering import LogContext, Logger, Outcome, stream_answer
from studio.conversation import AssistantProfile, ChatParameters, ChatSession, Turn
from studio.errors import describe_error
from studio.store import StoreHandle, StoreUnavailable
from studio.store.history import now_ms
from studio.suites.assertions import Observed, evaluate_all, overall
from studio.suites.judge import SuiteJudge
from studio.suites.model import DEFAULT_SIMILARITY, Assertion, Case, Suite, SuiteError
from studio.suites.results import CaseResult, RunInfo, RunStatus, TurnResult
from studio.text import counted

if TYPE_CHECKING:
    from studio.library import AssistantLibrary

MAX_CONCURRENCY = 32
MAX_REPEATS = 20
MAX_TARGETS = 8
FLUSH_SECONDS = 0.5  # results reach the store at most this late
HEARTBEAT_SECONDS = 10.0  # a running run says it is alive at least this often


@dataclass(frozen=True)
class TargetSpec:
    """What to run the suite against: a version (number or label, "" for the current one), a model
    override, edited instructions ("" for the version's own), and an optional name for the results."""

    version: str = ""
    model: str = ""
    instructions: str = ""
    label: str = ""

    @classmethod
    def parse(cls, text: str) -> TargetSpec:
        """One line of the targets box: `3`, `production`, `3 model=gpt-5`, `current model=gpt-5-nano`."""
        version, model = "", ""
        for part in text.split():
            if part.startswith("model="):
                model = part[len("model=") :]
            elif part.lower() not in ("current", "live"):
                version = part
        return cls(version=version, model=model)


@dataclass
class Target:
    """A target resolved against the API and the history: what each call sends."""

    label: str
    profile: AssistantProfile
    params: ChatParameters
    instructions: str = ""  # edited instructions; "" uses the profile's
    spec: TargetSpec = field(default_factory=TargetSpec)

    @property
    def model(self) -> str:
        return self.params.model or self.profile.model

    def arguments(self, values: dict[str, str]) -> dict[str, Any]:
        """The call's arguments, built as the Playground builds them, with the case's variables (empty
        values allowed)."""
        chat = ChatSession(assistant=self.profile, variables=dict(values))
        return chat.request_arguments(self.instructions, self.params, self.model, allow_empty=True)

    def describe(self) -> dict[str, Any]:
        """What the run records about the target."""
        return {
            "label": self.label, "version": self.profile.version, "ref": self.spec.version,
            "model": self.model, "edited": self.profile.instructions_edited(self.instructions),
        }  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    repeats: int = 1
    concurrency: int = 4
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = None

    def checked(self) -> RunOptions:
        """The options, or SuiteError naming the one out of range."""
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise SuiteError(f"Repeat each case 1 to {MAX_REPEATS} times, not {self.repeats}.")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise SuiteError(f"Run 1 to {MAX_CONCURRENCY} calls at once, not {self.concurrency}.")
        if not 0 <= self.temperature <= 2:
            raise SuiteError(f"The temperature is from 0 to 2, not {self.temperature:g}.")
        return self


def _label(spec: TargetSpec, profile: AssistantProfile, base: AssistantProfile) -> str:
    if spec.label:
        return spec.label
    number = f"v{profile.version}" if profile.version is not None else "current"
    ref = spec.version.strip()
    parts = [number if not ref or ref.lstrip("vV").isdigit() else f"{ref} ({number})"]
    if not ref and profile.version is not None:
        parts = [f"current ({number})"]
    if spec.model:
        parts.append(spec.model)
    if profile.instructions_edited(spec.instructions):
        parts.append("edited instructions")
    return " · ".join(parts)


async def resolve_targets(
    library: AssistantLibrary, assistant_id: str, specs: list[TargetSpec], options: RunOptions
) -> list[Target]:
    """Each spec as what its calls send; raises (a missing version, a deleted assistant) before any call."""
    if not specs:
        raise SuiteError("Pick at least one target: a version, a label, or the current assistant.")
    if len(specs) > MAX_TARGETS:
        raise SuiteError(f"Run against at most {MAX_TARGETS} targets at once; this asks for {len(specs)}.")
    assistant = await library.get(assistant_id)
    latest = None
    with contextlib.suppress(StoreUnavailable):
        latest = await library.latest_version(assistant_id)
    base = AssistantProfile.from_assistant(assistant, latest.number if latest else None)
    targets: list[Target] = []
    for spec in specs:
        profile = base
        if spec.version.strip():
            version = await library.version(assistant_id, spec.version.strip())
            live = latest is not None and latest.number == version.number
            profile = base.at_version(version.number, version.fields, live=live)
        params = ChatParameters(model=spec.model.strip() or None, temperature=options.temperature,
                                max_tokens=options.max_tokens)  # fmt: skip
        label = _label(spec, profile, base)
        taken = sum(t.label == label or t.label.startswith(label + " #") for t in targets)
        targets.append(
            Target(label if not taken else f"{label} #{taken + 1}", profile, params, spec.instructions, spec)
        )
    return targets


@dataclass
class Progress:
    """How far a run has got, for a progress bar."""

    total: int
    done: int = 0
    failed: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)
    status: RunStatus = "running"
    problem: str = ""  # why results are not being stored, while they are not

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def seconds_left(self) -> float | None:
        if not self.done or self.status != "running":
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.done * (self.total - self.done)

    def describe(self) -> str:
        """E.g. "120 of 400 calls done · 3 failed · 1 error · about 12 s left"."""
        parts = [f"{self.done:,} of {self.total:,} done", f"{self.failed:,} failed"]
        if self.errors:
            parts.append(counted(self.errors, "error"))
        left = self.seconds_left()
        if left is not None:
            parts.append(f"about {left:,.0f} s left" if left >= 1 else "almost done")
        elif self.status != "running":
            parts.append({"finished": "finished", "cancelled": "cancelled: what finished is kept",
                          "interrupted": "interrupted"}[self.status])  # fmt: skip
        text = " · ".join(parts)
        return f"{text} · {self.problem}" if self.problem else text


def check_runnable(suite: Suite, cases: list[Case]) -> None:
    """Refuse a run that cannot start: no cases, or cases that need the prompt the suite lacks."""
    if not cases:
        raise SuiteError(f"The suite “{suite.name}” has no cases yet: add or import some first.")
    if not suite.prompt.strip() and any(not c.messages for c in cases):
        raise SuiteError(
            "Cases without messages use the suite's prompt, and it is empty: write it, e.g. {{question}}."
        )
    problem = variables.scan(suite.prompt).malformed
    if problem:
        raise SuiteError(f"The suite's prompt has a malformed placeholder at {problem[0].describe()}.")


class SuiteRun:
    """One run of a suite's cases against its targets."""

    def __init__(
        self,
        library: AssistantLibrary,
        suite: Suite,
        cases: list[Case],
        targets: list[Target],
        options: RunOptions,
        *,
        log: Logger | None = None,
        origin: str = "studio",
        store: StoreHandle | None = None,
    ) -> None:
        check_runnable(suite, cases)
        self.library, self.suite, self.cases, self.targets = library, suite, cases, targets
        self.options = options.checked()
        self.store = store if store is not None else library.store
        self.log, self.origin = log, origin
        self.id = uuid.uuid4().hex
        self.progress = Progress(total=len(cases) * len(targets) * options.repeats)
        self.results: list[CaseResult] = []
        self.judge = SuiteJudge(
            library.client, suite.judge, targets[0].profile.model or targets[0].model, log, self.log_context
        )
        self._pending: list[CaseResult] = []
        self._workers: list[asyncio.Task[None]] = []
        self._cancelled = False
        self._stored = False

    @property
    def log_context(self) -> LogContext:
        return LogContext(self.library.server, "test", self.id)

    def info(self) -> RunInfo:
        return RunInfo(
            id=self.id, server=self.library.server, lineage=self.suite.lineage or self.suite.assistant_id,
            suite_id=self.suite.id, suite_name=self.suite.name, origin=self.origin, status=self.progress.status,
            targets=[t.describe() for t in self.targets], cases=len(self.cases), repeats=self.options.repeats,
            concurrency=self.options.concurrency, started_ms=now_ms(), done=self.progress.done,
            passed=sum(r.status == "pass" for r in self.results),
        )  # fmt: skip

    def cancel(self) -> bool:
        """Stop the calls under way; what finished is kept. False when the run had already ended."""
        if self.progress.status != "running":
            return False
        self._cancelled = True
        for worker in self._workers:
            worker.cancel()
        return True

    async def execute(self) -> list[CaseResult]:
        """Run every case against every target, store the results as they come; returns them all."""
        await self._store_start()
        units = self._units()
        flusher = asyncio.create_task(self._flush_forever())
        count = min(self.options.concurrency, max(1, self.progress.total))
        self._workers = [asyncio.create_task(self._worker(units)) for _ in range(count)]
        status: RunStatus = "finished"
        try:
            await asyncio.gather(*self._workers)
        except asyncio.CancelledError:
            status = "cancelled"
            for worker in self._workers:
                worker.cancel()
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            self.progress.status = "cancelled" if self._cancelled else status
            await self._flush(final=True)
        return self.results

    # --- Inside --------------------------------------------------------------------------------------

    def _units(self) -> Iterator[tuple[int, Case, int, int]]:
        for index, case in enumerate(self.cases):
            for target in range(len(self.targets)):
                for repeat in range(self.options.repeats):
                    yield index, case, target, repeat

    async def _worker(self, units: Iterator[tuple[int, Case, int, int]]) -> None:
        for index, case, target, repeat in units:  # one iterator shared by every worker: each unit once
            if self._cancelled:
                return
            result = await self._run_unit(index, case, target, repeat)
            self.results.append(result)
            self._pending.append(result)
            self.progress.done += 1
            self.progress.failed += result.status == "fail"
            self.progress.errors += result.status == "error"

    async def _run_unit(self, index: int, case: Case, target_index: int, repeat: int) -> CaseResult:
        made = {"case_index": index, "target": target_index, "repeat": repeat,
                "description": case.label(index), "case_id": case.id}  # fmt: skip
        target = self.targets[target_index]
        try:
            if case.replay:
                return await self._replay(case, target, made)
            return await self._single(case, target, made)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # one case's failure is its own result; the run goes on
            return CaseResult(status="error", error=describe_error(err), model=target.model, **made)

    async def _stream(
        self, conversation: ChatSession, turn: Turn, target: Target, values: dict[str, str]
    ) -> Outcome:
        outcome = Outcome()
        stream = stream_answer(
            self.library.client, conversation, turn, target.arguments(values), model=target.model,
            outcome=outcome, log=self.log, log_context=self.log_context, frame_seconds=math.inf,
        )  # fmt: skip
        async for _ in stream:
            pass
        return outcome

    def _messages(self, case: Case) -> list[dict[str, str]]:
        """What a (non-replayed) case sends: the suite's prompt filled in, or its own messages."""
        if not case.messages:
            text = variables.render(self.suite.prompt, case.vars, what="The suite's prompt", allow_empty=True)
            return [{"role": "user", "content": text}]
        return [
            {**m, "content": variables.render(m["content"], case.vars, what="The case's message", allow_empty=True)}
            if m["role"] == "user" and variables.has_placeholders(m["content"]) else m
            for m in case.messages
        ]  # fmt: skip

    async def _single(self, case: Case, target: Target, made: dict[str, Any]) -> CaseResult:
        conversation = ChatSession(assistant=target.profile, variables=dict(case.vars))
        for message in self._messages(case):
            if message["role"] == "user":
                conversation.turns.append(Turn(user=message["content"]))
            elif conversation.turns:  # an earlier answer, given: part of the history
                conversation.turns[-1].answer, conversation.turns[-1].status = message["content"], "done"
        turn = conversation.turns[-1]
        if not turn.user.strip():
            raise SuiteError("The message to send is empty once filled in: give the case's variables values.")
        await self._stream(conversation, turn, target, case.vars)
        stats = turn.stats
        measured = {
            "model": stats.model if stats else target.model, "tokens_used": stats.tokens_used if stats else 0,
            "latency_ms": stats.total_s * 1000 if stats else None,
            "first_token_ms": stats.first_token_s * 1000 if stats and stats.first_token_s is not None else None,
        }  # fmt: skip
        if turn.status != "done":
            return CaseResult(status="error", answer=turn.answer, error=turn.error or "The answer was cut short.",
                              **measured, **made)  # fmt: skip
        spent: list[int] = []
        observed = Observed(turn.answer, measured["tokens_used"], measured["latency_ms"], case.vars)
        outcomes = await evaluate_all(case.assertions, observed, self.judge.bind(spent))
        return CaseResult(status=overall(outcomes), answer=turn.answer, outcomes=outcomes, judge_tokens=sum(spent),
                          **measured, **made)  # fmt: skip

    async def _replay(self, case: Case, target: Target, made: dict[str, Any]) -> CaseResult:
        conversation = ChatSession(assistant=target.profile, variables=dict(case.vars))
        users, references = case.user_turns(), case.references()
        turns: list[TurnResult] = []
        spent: list[int] = []
        error = ""
        for number, (user, reference) in enumerate(zip(users, references, strict=True), start=1):
            turn = conversation.add_user_turn(user)
            await self._stream(conversation, turn, target, case.vars)
            tokens = turn.stats.tokens_used if turn.stats else 0
            latency = turn.stats.total_s * 1000 if turn.stats else None
            if turn.status != "done":
                error = turn.error or "The answer was cut short."
                turns.append(TurnResult(user, reference, turn.answer, "error", [], tokens, latency, error))
                break
            checks = _turn_assertions(case, number, len(users), reference)
            observed = Observed(turn.answer, tokens, latency, case.vars, reference)
            outcomes = await evaluate_all(checks, observed, self.judge.bind(spent))
            turns.append(
                TurnResult(user, reference, turn.answer, overall(outcomes), outcomes, tokens, latency)
            )
        outcomes = [o for t in turns for o in t.outcomes]
        latencies = [t.latency_ms for t in turns if t.latency_ms is not None]
        return CaseResult(
            status="error" if error else overall(outcomes), answer=turns[-1].answer if turns else "", error=error,
            outcomes=outcomes, turns=turns, model=target.model, tokens_used=sum(t.tokens_used for t in turns),
            judge_tokens=sum(spent), latency_ms=sum(latencies) if latencies else None, **made,
        )  # fmt: skip

    async def _store_start(self) -> None:
        if self.store is None:
            self.progress.problem = "No store: the results are not kept."
            return
        try:
            await self.store.run(lambda s: s.suites.start_run(self.info()))
            self._stored = True
        except StoreUnavailable as err:
            self.progress.problem = f"The results are not being stored: {err}"

    async def _flush_forever(self) -> None:
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if self._pending or time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                await self._flush()
                last_beat = time.monotonic()

    async def _flush(self, *, final: bool = False) -> None:
        """Write the results that finished since the last flush (and the heartbeat); at the end, the status."""
        if not self._stored:
            return
        batch, self._pending = self._pending, []
        try:
            await self.store.run(lambda s: s.suites.add_results(self.id, batch))
            if final:
                await self.store.run(lambda s: s.suites.finish_run(self.id, self.progress.status))
            self.progress.problem = ""
        except StoreUnavailable as err:
            self._pending = batch + self._pending  # tried again with the next batch
            self.progress.problem = f"The results are not being stored: {err}"


def _turn_assertions(case: Case, number: int, last: int, reference: str) -> list[Assertion]:
    """A replayed turn's checks: its own (the last turn also takes the case's), else `similar` to its
    reference answer at the default threshold."""
    own = [
        a if a.turn is not None else replace(a, turn=number)
        for a in case.assertions
        if a.turn == number or (a.turn is None and number == last)
    ]
    if own or not reference.strip():
        return own
    literal = reference.replace("{{", "\\{{")  # the reference is text, not a template
    return [Assertion("similar", literal, DEFAULT_SIMILARITY, number)]


class RunRegistry:
    """The runs under way in this studio process: a page follows one, cancels it, or finds it again after a
    reload. Finished runs are read back from the store."""

    def __init__(self) -> None:
        self._runs: dict[str, SuiteRun] = {}
        self._tasks: dict[str, asyncio.Task[list[CaseResult]]] = {}

    def start(self, run: SuiteRun) -> asyncio.Task[list[CaseResult]]:
        """Run it in the background, in the current event loop."""
        task = asyncio.create_task(run.execute(), name=f"suite-run-{run.id}")
        self._runs[run.id], self._tasks[run.id] = run, task
        task.add_done_callback(lambda _t: self._tasks.pop(run.id, None))
        return task

    def get(self, run_id: str) -> SuiteRun | None:
        return self._runs.get(run_id)

    def task(self, run_id: str) -> asyncio.Task[list[CaseResult]] | None:
        return self._tasks.get(run_id)

    def running(self) -> list[SuiteRun]:
        return [run for run in self._runs.values() if run.progress.status == "running"]

    def cancel(self, run_id: str) -> bool:
        run = self._runs.get(run_id)
        return run.cancel() if run is not None else False

    def forget_finished(self, keep: int = 20) -> None:
        """Drop finished runs beyond the last `keep` (their results are in the store)."""
        ended = [rid for rid, run in self._runs.items() if run.progress.status != "running"]
        for run_id in ended[:-keep] if keep else ended:
            self._runs.pop(run_id, None)
