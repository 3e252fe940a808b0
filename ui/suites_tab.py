"""Test Suites: each assistant's suites and cases, promptfoo files in and out, runs against versions with a
progress bar and Cancel, the results matrix, a cell's reasons, two runs compared, and replayed turns.

Handlers are plain async functions of the StudioContext, the run registry and values; the layout and the
wiring come last. A run belongs to the studio, not to the page: it goes on when the page is closed, and is
found again in the list of runs.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd
import yaml

from studio.conversation import ChatSession
from studio.errors import describe_error
from studio.store import StoreUnavailable
from studio.store.suites import SuiteStore
from studio.suites import files
from studio.suites.model import Assertion, Case, Suite, SuiteError, case_from_conversation
from studio.suites.results import compare_runs, summarize
from studio.suites.runner import RunOptions, RunRegistry, SuiteRun, TargetSpec, resolve_targets
from studio.text import counted
from ui import suites_view as view
from ui.context import StudioContext, require_editable
from ui.theme import escape_md

SUITES_TAB_ID = "suites"
PICK_ASSISTANT = "Pick one of your assistants to see its suites."
PICK_SUITE = "Pick a suite, or create one."
NO_STORE = (
    "The studio has no store, so it keeps no suites: start it with a data folder or STUDIO_DATABASE_URL."
)
FOLLOW_SECONDS = 0.3  # how often a page following a run is told its progress
MATRIX_SECONDS = 2.0  # how often the matrix is redrawn while a run goes on
Progress = Callable[..., Any]


# --- Helpers -------------------------------------------------------------------------------------------


async def _suites(ctx: StudioContext, action: Callable[[SuiteStore], Any]) -> Any:
    if ctx.store is None:
        raise StoreUnavailable(NO_STORE)
    return await ctx.store.run(lambda store: action(store.suites))


def _id(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if str(value or "").strip() else None
    except ValueError:
        return None


def _suite_id(value: Any) -> int:
    found = _id(value)
    if found is None:
        raise SuiteError(PICK_SUITE)
    return found


def parse_variables(text: str) -> dict[str, str]:
    """The case's variables, typed as `name: value` lines (YAML) or a JSON object."""
    if not (text or "").strip():
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SuiteError(f"The variables are not `name: value` lines: {str(err).splitlines()[0]}.") from err
    if not isinstance(data, dict):
        raise SuiteError("Write the variables as `name: value` lines, one per variable.")
    return {str(k): "" if v is None else v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def parse_messages(text: str) -> list[dict[str, str]]:
    """A conversation typed as YAML: a list of {role: user|assistant, content: ...}."""
    if not (text or "").strip():
        return []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SuiteError(f"The messages are not valid YAML: {str(err).splitlines()[0]}.") from err
    if not isinstance(data, list) or not all(isinstance(m, dict) and "content" in m for m in data):
        raise SuiteError("Write the messages as a list of `- role: user` / `content: ...` pairs.")
    return [{"role": str(m.get("role", "user")), "content": str(m["content"])} for m in data]


_TYPED_LINE = re.compile(r"^(not-)?([a-z][a-z-]*)(\([^)]*\))?\s*:")


def parse_assertions(text: str) -> list[Assertion]:
    """One assertion a line, as promptfoo's CSV writes them: `contains: Paris`, `regex: ^\\d+$`,
    `similar(0.8): text`, `latency(2000)`; `@2 contains: x` checks turn 2 of a replayed conversation."""
    found = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        turn = None
        if line.startswith("@"):
            head, _, line = line.partition(" ")
            turn = _id(head[1:])
            if turn is None:
                raise SuiteError(f"Assertion line {number}: write the turn as @2 followed by the assertion.")
        try:
            assertion = files.assertion_from_text(line)
        except Exception as err:  # an unsupported type: named, with the line
            raise SuiteError(f"Assertion line {number}: {err}") from err
        typed = _TYPED_LINE.match(line)
        fell_back = assertion.type == "equals" and assertion.value == line  # read as an expected answer
        if fell_back and typed and typed.group(2) in files.PROMPTFOO_TYPES:
            # It names an assertion but did not read as one (a threshold that is not a number): an expected
            # answer of that text is surely not what was meant.
            raise SuiteError(
                f"Assertion line {number}: “{typed.group(0)}” names the {typed.group(2)} assertion but does not "
                "read as one: give a threshold as a number, e.g. similar(0.8): text, or write equals: before "
                "an expected answer that starts this way."
            )
        found.append(Assertion(assertion.type, assertion.value, assertion.threshold, turn))
    return found


def assertion_lines(case: Case) -> str:
    def line(a: Assertion) -> str:
        text = files._assertion_text(a)
        return f"@{a.turn} {text}" if a.turn else text

    return "\n".join(line(a) for a in case.assertions)


# --- Handlers: suites and cases --------------------------------------------------------------------------


class SuiteForm(NamedTuple):
    name: str
    prompt: str
    judge: str
    cases: pd.DataFrame
    notice: str


async def assistant_choices(ctx: StudioContext) -> gr.Dropdown:
    """My assistants, for the picker."""
    try:
        found = await ctx.library.list_all()
    except Exception as err:
        return gr.Dropdown(choices=[], info=f"Could not load your assistants: {describe_error(err)}")
    return gr.Dropdown(choices=[(f"{a.name} · {a.id}", a.id) for a in found])


async def list_suites(ctx: StudioContext, assistant_id: str, selected: Any = None) -> tuple[gr.Dropdown, str]:
    """The assistant's suites."""
    if not (assistant_id or "").strip():
        return gr.Dropdown(choices=[], value=None), PICK_ASSISTANT
    try:
        found = await _suites(ctx, lambda s: s.suites(ctx.server_key, assistant_id))
    except Exception as err:
        return gr.Dropdown(choices=[], value=None), escape_md(describe_error(err))
    choices = [(f"{s.name} · {counted(s.case_count, 'case')}", str(s.id)) for s in found]
    value = str(selected) if selected is not None and str(selected) in [c[1] for c in choices] else None
    notice = "" if choices else "No suites yet: name one and press Create suite, or import a promptfoo file."
    return gr.Dropdown(choices=choices, value=value), notice


async def recount_suites(ctx: StudioContext, assistant_id: str, selected: Any) -> gr.Dropdown:
    """The suite picker after cases were added, deleted or imported: the same suite, every count current."""
    picker, _ = await list_suites(ctx, assistant_id, selected)
    return picker


async def create_suite(
    ctx: StudioContext, assistant_id: str, name: str, prompt: str = "", judge: str = ""
) -> tuple[Any, str]:
    """A new, empty suite for the assistant; returns the refreshed picker (with it chosen) and a notice."""
    try:
        require_editable(ctx)
        if not (assistant_id or "").strip():
            raise SuiteError(PICK_ASSISTANT)
        made = await _suites(
            ctx, lambda s: s.create_suite(ctx.server_key, assistant_id, name, prompt or "", judge or "")
        )
    except Exception as err:
        return gr.skip(), f"Not created: {escape_md(describe_error(err))}"
    picker, _ = await list_suites(ctx, assistant_id, made.id)
    return picker, f"Created the suite “{escape_md(made.name)}”: add cases, or import a promptfoo file."


def _cases_line(name: str, count: int) -> str:
    """What opening a suite says: its cases, or how to add the first."""
    if not count:
        return f"“{escape_md(name)}” has no cases yet: add one below, or import a promptfoo file."
    return f"“{escape_md(name)}”: {counted(count, 'case')}."


async def open_suite(ctx: StudioContext, suite_id: Any) -> SuiteForm:
    """A suite's settings and cases."""
    empty = pd.DataFrame([], columns=view.CASE_COLUMNS)
    if _id(suite_id) is None:
        return SuiteForm("", "", "", empty, PICK_SUITE)
    try:
        suite: Suite = await _suites(ctx, lambda s: s.suite(_suite_id(suite_id)))
    except Exception as err:
        return SuiteForm("", "", "", empty, escape_md(describe_error(err)))
    return SuiteForm(
        suite.name,
        suite.prompt,
        suite.judge,
        view.cases_table(suite.cases),
        _cases_line(suite.name, len(suite.cases)),
    )


async def save_suite(ctx: StudioContext, suite_id: Any, name: str, prompt: str, judge: str) -> str:
    """Save the suite's name, prompt and judge."""
    try:
        require_editable(ctx)
        saved = await _suites(
            ctx, lambda s: s.update_suite(_suite_id(suite_id), name=name, prompt=prompt, judge=judge)
        )
    except Exception as err:
        return f"Not saved: {escape_md(describe_error(err))}"
    return f"Saved the suite “{escape_md(saved.name)}”."


async def delete_suite(ctx: StudioContext, assistant_id: str, suite_id: Any) -> tuple[Any, str]:
    """Delete the suite and its cases (its runs stay)."""
    try:
        require_editable(ctx)
        await _suites(ctx, lambda s: s.delete_suite(_suite_id(suite_id)))
    except Exception as err:
        return gr.skip(), f"Not deleted: {escape_md(describe_error(err))}"
    picker, _ = await list_suites(ctx, assistant_id)
    return picker, "Deleted the suite and its cases; its runs are kept."


async def save_case(
    ctx: StudioContext, suite_id: Any, number: Any, description: str, variables: str, messages: str = "",
    assertions: str = "", replay: bool = False,
) -> tuple[Any, str]:  # fmt: skip
    """Add a case (number empty) or replace case `number`; the form is kept when something is wrong."""
    try:
        require_editable(ctx)
        case = Case(description or "", parse_variables(variables), parse_messages(messages), parse_assertions(assertions),
                    bool(replay))  # fmt: skip
        problem = case.problem()
        if problem:
            raise SuiteError(problem)
        chosen = _suite_id(suite_id)
        index = _id(number)
        if index is None:
            await _suites(ctx, lambda s: s.add_cases(chosen, [case]))
            done = "Added the case."
        else:
            existing = await _suites(ctx, lambda s: s.cases(chosen))
            if not 1 <= index <= len(existing):
                raise SuiteError(
                    f"There is no case {index}: pick one of 1 to {len(existing)}, or clear the number to add."
                )
            await _suites(ctx, lambda s: s.update_case(existing[index - 1].id, case))
            done = f"Saved case {index}."
        cases = await _suites(ctx, lambda s: s.cases(chosen))
    except Exception as err:
        return gr.skip(), f"Not saved: {escape_md(describe_error(err))} Nothing you typed was lost."
    return view.cases_table(cases), done


async def load_case(ctx: StudioContext, suite_id: Any, number: Any) -> tuple[Any, ...]:
    """Case `number` into the form, to edit it."""
    try:
        cases = await _suites(ctx, lambda s: s.cases(_suite_id(suite_id)))
        index = _id(number)
        if index is None or not 1 <= index <= len(cases):
            raise SuiteError(f"There is no case {number}: pick one of 1 to {len(cases)}.")
    except Exception as err:
        return (*[gr.skip()] * 5, escape_md(describe_error(err)))
    case = cases[index - 1]
    variables = yaml.safe_dump(case.vars, allow_unicode=True, sort_keys=False).strip() if case.vars else ""
    messages = (
        yaml.safe_dump(case.messages, allow_unicode=True, sort_keys=False).strip() if case.messages else ""
    )
    return case.description, variables, messages, assertion_lines(case), case.replay, f"Editing case {index}."


async def delete_case(ctx: StudioContext, suite_id: Any, number: Any) -> tuple[Any, str]:
    try:
        require_editable(ctx)
        chosen = _suite_id(suite_id)
        cases = await _suites(ctx, lambda s: s.cases(chosen))
        index = _id(number)
        if index is None or not 1 <= index <= len(cases):
            raise SuiteError(f"There is no case {number}: pick one of 1 to {len(cases)}.")
        await _suites(ctx, lambda s: s.delete_case(cases[index - 1].id))
        left = await _suites(ctx, lambda s: s.cases(chosen))
    except Exception as err:
        return gr.skip(), f"Not deleted: {escape_md(describe_error(err))}"
    return view.cases_table(left), f"Deleted case {index}."


async def import_file(
    ctx: StudioContext,
    suite_id: Any,
    path: str | None,
    replace: bool = False,
    progress: Progress | None = None,
) -> tuple[Any, str]:
    """Add the cases of a promptfoo YAML or CSV file, all in one transaction; a bad file adds nothing."""
    try:
        require_editable(ctx)
        chosen = _suite_id(suite_id)
        if not path:
            raise SuiteError("Choose a promptfoo YAML or CSV file first.")
        name, content = Path(path).name, await asyncio.to_thread(Path(path).read_bytes)

        def reading(done: int, total: int) -> None:
            if progress is not None:
                progress(done / max(total, 1), desc=f"Reading {name}")

        found = await asyncio.to_thread(files.read_suite_file, name, content, reading)
        if progress is not None:
            progress(1.0, desc=f"Saving {counted(len(found.cases), 'case')}")
        await _suites(ctx, lambda s: s.add_cases(chosen, found.cases, replace=bool(replace)))
        suite = await _suites(ctx, lambda s: s.suite(chosen))
        if found.prompt and not suite.prompt.strip():
            await _suites(ctx, lambda s: s.update_suite(chosen, prompt=found.prompt))
    except Exception as err:
        return gr.skip(), f"Nothing was imported: {escape_md(describe_error(err))}"
    done = "imported in place of the suite's cases" if replace else "imported"
    prompt = " The file's prompt became the suite's." if found.prompt and not suite.prompt.strip() else ""
    report = found.report(done=done)
    return view.cases_table(suite.cases), escape_md(report[0].upper() + report[1:] + prompt)


async def export_suite(ctx: StudioContext, suite_id: Any, kind: str = "yaml") -> tuple[str | None, str]:
    """The suite as a promptfoo file (YAML keeps everything; CSV leaves out conversations)."""
    try:
        suite = await _suites(ctx, lambda s: s.suite(_suite_id(suite_id)))
    except Exception as err:
        return None, escape_md(describe_error(err))
    folder = Path(tempfile.mkdtemp(prefix="suite-"))
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in suite.name).strip("-") or "suite"
    if kind == "csv":
        text, left_out = files.to_csv(suite.cases)
        notice = f"Left out of the CSV: {'; '.join(left_out)}." if left_out else ""
    else:
        text, notice = files.to_yaml(suite.cases, suite.prompt, suite.name), ""
    path = folder / f"{stem}.{'csv' if kind == 'csv' else 'yaml'}"
    path.write_text(text, encoding="utf-8")
    return str(path), escape_md(notice or f"Exported {len(suite.cases):,} cases.")


async def save_conversation_as_case(
    ctx: StudioContext, conversation: ChatSession, suite: str, description: str = ""
) -> str:
    """The Playground's "Save as test case": the conversation (its user turns, its answers as references)
    becomes a case to replay in the named suite of its assistant, made if it does not exist. Returns a notice."""
    try:
        require_editable(ctx)
        profile = conversation.assistant
        if profile.kind != "mine" or not profile.assistant_id:
            raise SuiteError(
                "Test suites belong to your own assistants: open one of them to save its conversation."
            )
        if conversation.busy:
            raise SuiteError("An answer is still streaming: wait for it, or press Stop, then save.")
        name = (suite or "").strip() or "Conversations"
        case = case_from_conversation(conversation, description)

        def save(store: SuiteStore) -> tuple[Suite, bool]:
            found = store.suite_named(ctx.server_key, profile.assistant_id, name)
            if found is None:
                return store.create_suite(ctx.server_key, profile.assistant_id, name, cases=[case]), True
            store.add_cases(found.id, [case])
            return found, False

        saved, made = await _suites(ctx, save)
    except Exception as err:
        return f"Not saved as a test case: {escape_md(describe_error(err))}"
    turns = len(case.user_turns())
    where = f"the new suite “{escape_md(saved.name)}”" if made else f"the suite “{escape_md(saved.name)}”"
    return f"Saved this conversation ({counted(turns, 'turn')}) as a test case in {where}."


# --- Handlers: runs and results --------------------------------------------------------------------------


class RunView(NamedTuple):
    run_id: str
    status: str
    matrix: Any
    rows: list[int]  # the case index of each row of the matrix
    summary: str


def target_specs(targets: str, instructions: str = "") -> list[TargetSpec]:
    """The targets box (one a line: `current`, `3`, `production`, `2 model=gpt-5`) and edited instructions."""
    specs = [TargetSpec.parse(line) for line in (targets or "").splitlines() if line.strip()]
    if (instructions or "").strip():
        specs.append(TargetSpec(instructions=instructions, label="edited instructions"))
    return specs or [TargetSpec()]


def _run_view(run: SuiteRun, with_matrix: bool) -> RunView:
    labels = [t.label for t in run.targets]
    if not with_matrix:
        return RunView(run.id, escape_md(run.progress.describe()), gr.skip(), gr.skip(), gr.skip())
    styled, rows = view.matrix(run.results, labels)
    return RunView(run.id, escape_md(run.progress.describe()), styled, rows,
                   view.summary_markdown(summarize(run.results, labels)))  # fmt: skip


async def run_suite(
    ctx: StudioContext, registry: RunRegistry, suite_id: Any, targets: str = "current", repeats: float = 1,
    concurrency: float = 4, instructions: str = "", progress: Progress | None = None,
) -> AsyncIterator[RunView]:  # fmt: skip
    """Start a run in the background and follow it: progress, then the matrix as it fills in."""
    try:
        require_editable(ctx)  # runs cost tokens: a read-only demo does not start them
        suite = await _suites(ctx, lambda s: s.suite(_suite_id(suite_id)))
        options = RunOptions(repeats=int(repeats or 1), concurrency=int(concurrency or 4)).checked()
        resolved = await resolve_targets(
            ctx.library, suite.assistant_id, target_specs(targets, instructions), options
        )
        run = SuiteRun(ctx.library, suite, suite.cases, resolved, options, log=ctx.log_generation)
    except Exception as err:
        yield RunView("", f"Not started: {escape_md(describe_error(err))}", gr.skip(), gr.skip(), gr.skip())
        return
    task = registry.start(run)
    registry.forget_finished()
    drawn = time.monotonic()
    yield _run_view(run, True)
    while not task.done():
        await asyncio.wait({task}, timeout=FOLLOW_SECONDS)
        if progress is not None:
            progress(run.progress.fraction, desc=run.progress.describe())
        redraw = time.monotonic() - drawn >= MATRIX_SECONDS
        drawn = time.monotonic() if redraw else drawn
        yield _run_view(run, redraw)
    yield _run_view(run, True)


def cancel_run(registry: RunRegistry, run_id: str) -> str:
    """Stop a run: the calls under way end, and what finished is kept."""
    if not (run_id or "").strip():
        return "No run is under way."
    return (
        "Cancelling: the answers that finished are kept."
        if registry.cancel(run_id.strip())
        else "That run has already ended."
    )


async def list_runs(
    ctx: StudioContext, suite_id: Any, selected: Any = None
) -> tuple[gr.Dropdown, gr.Dropdown]:
    """The suite's runs, newest first, for the results and for comparing."""
    try:
        suite = await _suites(ctx, lambda s: s.suite(_suite_id(suite_id), with_cases=False))
        runs = await _suites(ctx, lambda s: s.runs(ctx.server_key, suite.assistant_id, suite_id=suite.id))
    except Exception:
        return gr.Dropdown(choices=[], value=None), gr.Dropdown(choices=[], value=None)
    choices = [view.run_choice(r) for r in runs]
    ids = [c[1] for c in choices]
    value = selected if selected in ids else (ids[0] if ids else None)
    other = ids[1] if len(ids) > 1 else None
    return gr.Dropdown(choices=choices, value=value), gr.Dropdown(choices=choices, value=other)


async def show_run(ctx: StudioContext, registry: RunRegistry, run_id: str) -> RunView:
    """A run's matrix and summary: from the registry while it runs, else from the store."""
    if not (run_id or "").strip():
        return RunView("", "Pick a run.", gr.skip(), gr.skip(), "")
    live = registry.get(run_id)
    if live is not None and live.progress.status == "running":
        return _run_view(live, True)
    try:
        info = await _suites(ctx, lambda s: s.run(run_id))
        results = await _suites(ctx, lambda s: s.results(run_id))
    except Exception as err:
        return RunView(run_id, escape_md(describe_error(err)), gr.skip(), gr.skip(), "")
    labels = info.target_labels()
    styled, rows = view.matrix(results, labels)
    return RunView(run_id, "", styled, rows, view.summary_markdown(summarize(results, labels), info))


async def show_cell(
    ctx: StudioContext, registry: RunRegistry, run_id: str, rows: list[int], row: int, column: int
) -> str:
    """A cell of the matrix: the answer(s) and every assertion's reason (column 0 is the case's name)."""
    if not (run_id or "").strip() or not rows or not 0 <= row < len(rows):
        return "<p>Click a cell of the matrix to see its answer and reasons.</p>"
    target = max(int(column) - 1, 0)
    live = registry.get(run_id)
    try:
        if live is not None:
            results, labels = list(live.results), [t.label for t in live.targets]
        else:
            info = await _suites(ctx, lambda s: s.run(run_id))
            results, labels = await _suites(ctx, lambda s: s.results(run_id)), info.target_labels()
    except Exception as err:
        return f"<p>{escape_md(describe_error(err))}</p>"
    mine = sorted(
        (r for r in results if r.case_index == rows[row] and r.target == target), key=lambda r: r.repeat
    )
    return view.cell_detail(mine, labels[target] if target < len(labels) else "")


async def compare(
    ctx: StudioContext, old_id: str, new_id: str, changed_only: bool = False
) -> tuple[Any, str, list]:
    """Two runs of the suite side by side: the change in pass rate, and each case fixed, broken or the same."""
    empty = pd.DataFrame([], columns=view.COMPARE_COLUMNS)
    if not (old_id or "").strip() or not (new_id or "").strip() or old_id == new_id:
        return empty, "Pick two different runs to compare.", []
    try:
        old, new = await _suites(ctx, lambda s: s.run(old_id)), await _suites(ctx, lambda s: s.run(new_id))
        before = await _suites(ctx, lambda s: s.results(old_id))
        after = await _suites(ctx, lambda s: s.results(new_id))
    except Exception as err:
        return empty, escape_md(describe_error(err)), []
    if old.started_ms > new.started_ms:  # always older → newer
        old, new, before, after = new, old, after, before
    changes = compare_runs(before, after)
    shown = [c for c in changes if not changed_only or c.change != "same"]
    table = view.compare_table(changes, old.target_labels(), new.target_labels(), bool(changed_only))
    return table, view.compare_summary(old, new, changes), [c.__dict__ for c in shown]


def show_change(changes: list[dict[str, Any]], row: int) -> str:
    from studio.suites.results import CellChange

    if not changes or not 0 <= row < len(changes):
        return ""
    data = dict(changes[row])
    data["key"] = tuple(data["key"])
    return view.change_detail(CellChange(**data))


# --- Layout and wiring -----------------------------------------------------------------------------------


@dataclass
class SuitesTab:
    assistant: gr.Dropdown
    suite: gr.Dropdown


def build_suites_tab(ctx: StudioContext, tab: gr.Tab) -> SuitesTab:
    """The Test Suites tab; `tab` reloads the assistants when it is shown."""
    registry = RunRegistry()
    editable = not ctx.demo
    with gr.Row(equal_height=True):
        assistant = gr.Dropdown(
            label="Assistant", choices=[], allow_custom_value=True, elem_id="suites-assistant", scale=3
        )
        suite = gr.Dropdown(
            label="Suite", choices=[], allow_custom_value=True, elem_id="suites-suite", scale=3
        )
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=100)
    notice = gr.Markdown("", elem_id="suites-notice", elem_classes="notice", label="Suites notice")
    with gr.Row(equal_height=True, visible=editable):
        new_name = gr.Textbox(
            label="New suite's name", placeholder="Smoke tests", scale=3, elem_id="suites-new-name"
        )
        create = gr.Button("Create suite", scale=0, min_width=140)
    with gr.Accordion("Suite settings", open=False):
        name = gr.Textbox(label="Name", elem_id="suites-name")
        prompt = gr.Textbox(label="Prompt (the user message of cases without messages; {{variables}})", lines=2,
                            placeholder="Answer briefly: {{question}}", elem_id="suites-prompt")  # fmt: skip
        judge = gr.Textbox(label="Judge for llm-rubric (a model, or assistant:ID; empty: the assistant's model)",
                           elem_id="suites-judge")  # fmt: skip
        with gr.Row(visible=editable):
            save = gr.Button("Save settings", size="sm")
            delete = gr.Button("Delete suite", size="sm", variant="stop")
    with gr.Accordion("Cases", open=True):
        cases = gr.Dataframe(pd.DataFrame([], columns=view.CASE_COLUMNS), label="Cases", interactive=False,
                             wrap=True, max_height=320, elem_id="suites-cases")  # fmt: skip
        with gr.Accordion("Add or edit a case", open=False, visible=editable):
            number = gr.Number(label="Case number (empty: add a new case)", precision=0, value=None)
            description = gr.Textbox(label="Description")
            variables = gr.Textbox(label="Variables (name: value, one a line)", lines=2)
            assertions = gr.Textbox(label="Assertions (one a line: contains: Paris · regex: ^\\d+$ · similar(0.8): … · "
                                    "latency(2000) · @2 for a replayed turn)", lines=3)  # fmt: skip
            messages = gr.Textbox(label="Messages (optional, YAML: - role: user / content: …)", lines=2)
            replay = gr.Checkbox(label="Replay turn by turn (assistant messages are the references)")
            with gr.Row():
                load = gr.Button("Load case", size="sm")
                save_case_button = gr.Button("Save case", size="sm", variant="primary")
                delete_case_button = gr.Button("Delete case", size="sm", variant="stop")
        with gr.Row(equal_height=True):
            upload = gr.File(label="Import a promptfoo file (YAML or CSV)", file_types=[".yaml", ".yml", ".json", ".csv"],
                             type="filepath", visible=editable, elem_id="suites-import-file")  # fmt: skip
            with gr.Column():
                replace = gr.Checkbox(label="Replace the suite's cases", visible=editable)
                import_button = gr.Button("Import", visible=editable)
                export_yaml = gr.Button("Export YAML", size="sm")
                export_csv = gr.Button("Export CSV", size="sm")
        download = gr.File(label="Exported file", interactive=False)
    with gr.Accordion("Run", open=True, visible=editable):
        with gr.Row(equal_height=True):
            targets = gr.Textbox(label="Targets (one a line: current, 3, production, 2 model=gpt-5)", value="current",
                                 lines=2, scale=3, elem_id="suites-targets")  # fmt: skip
            repeats = gr.Number(label="Repeat each case", value=1, precision=0, minimum=1, scale=1)
            concurrency = gr.Number(label="Calls at once", value=4, precision=0, minimum=1, scale=1)
        edited = gr.Textbox(label="Edited instructions to try as one more target (optional)", lines=2)
        with gr.Row():
            run_button = gr.Button("Run suite", variant="primary", elem_id="suites-run")
            cancel = gr.Button("Cancel run", variant="stop", elem_id="suites-cancel")
    run_id = gr.Textbox(label="Run ID", interactive=False, elem_id="suites-run-id")
    status = gr.Markdown("", elem_id="suites-status", label="Run progress")
    with gr.Row(equal_height=True):
        runs = gr.Dropdown(label="Runs", choices=[], allow_custom_value=True, elem_id="suites-runs", scale=3)
        other = gr.Dropdown(
            label="Compare with", choices=[], allow_custom_value=True, elem_id="suites-other", scale=3
        )
        changed_only = gr.Checkbox(label="Changed only", scale=1)
    summary = gr.Markdown("", elem_id="suites-summary", label="Summary")
    rows = gr.State([])
    matrix = gr.Dataframe(pd.DataFrame([], columns=["Case"]), label="Results: cases × targets", interactive=False,
                          wrap=True, max_height=480, elem_id="suites-matrix")  # fmt: skip
    detail = gr.HTML("", elem_id="suites-detail", label="Answer and reasons")
    compare_button = gr.Button("Compare runs", size="sm")
    compare_summary = gr.Markdown("", elem_id="suites-compare-summary", label="Comparison")
    changes = gr.State([])
    compare_table = gr.Dataframe(pd.DataFrame([], columns=view.COMPARE_COLUMNS), label="Cases in both runs",
                                 interactive=False, wrap=True, max_height=360, elem_id="suites-compare")  # fmt: skip
    change_detail = gr.HTML("", elem_id="suites-change-detail", label="Answers compared")

    # --- Wiring: partials of the handlers (Gradio awaits a partial of a coroutine function, not a lambda) ---
    form = [name, prompt, judge, cases, notice]
    gr.on(
        [tab.select, refresh.click],
        partial(assistant_choices, ctx),
        None,
        assistant,
        api_name="suites_assistants",
    )
    assistant.change(partial(list_suites, ctx), assistant, [suite, notice], api_name="suites_list")
    suite.change(partial(open_suite, ctx), suite, form, api_name="suite_open").then(
        partial(list_runs, ctx), suite, [runs, other], api_visibility="private"
    )
    create.click(partial(create_suite, ctx), [assistant, new_name], [suite, notice], api_name="suite_create")
    save.click(partial(save_suite, ctx), [suite, name, prompt, judge], notice, api_name="suite_save")
    delete.click(partial(delete_suite, ctx), [assistant, suite], [suite, notice], api_name="suite_delete")
    case_form = [description, variables, messages, assertions, replay]
    recount: dict[str, Any] = {
        "fn": partial(recount_suites, ctx),
        "inputs": [assistant, suite],
        "outputs": suite,
        "api_visibility": "private",
        "show_progress": "hidden",
    }
    save_case_button.click(
        partial(save_case, ctx), [suite, number, *case_form], [cases, notice], api_name="case_save"
    ).then(**recount)
    load.click(partial(load_case, ctx), [suite, number], [*case_form, notice], api_name="case_load")
    delete_case_button.click(
        partial(delete_case, ctx), [suite, number], [cases, notice], api_name="case_delete"
    ).then(**recount)

    async def importing(
        s: Any,
        path: str | None,
        replacing: bool,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Any:
        return await import_file(ctx, s, path, replacing, progress)

    import_button.click(importing, [suite, upload, replace], [cases, notice], api_name="suite_import").then(
        **recount
    )
    export_yaml.click(
        partial(export_suite, ctx, kind="yaml"), suite, [download, notice], api_name="suite_export_yaml"
    )
    export_csv.click(
        partial(export_suite, ctx, kind="csv"), suite, [download, notice], api_name="suite_export_csv"
    )

    async def running(
        suite_id: Any, targets: str, repeats: float, concurrency: float, instructions: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Any:  # fmt: skip
        async for shown in run_suite(
            ctx, registry, suite_id, targets, repeats, concurrency, instructions, progress
        ):
            yield shown

    run_outputs = [run_id, status, matrix, rows, summary]
    run_button.click(
        running, [suite, targets, repeats, concurrency, edited], run_outputs, api_name="suite_run"
    ).then(partial(list_runs, ctx), [suite, run_id], [runs, other], api_visibility="private")
    cancel.click(partial(cancel_run, registry), run_id, status, api_name="suite_cancel")
    runs.input(partial(show_run, ctx, registry), runs, run_outputs, api_name="run_results")

    async def on_cell(r: str, shown: list[int], evt: gr.SelectData) -> str:
        row, column = (evt.index or [0, 0])[:2]
        return await show_cell(ctx, registry, r, shown, int(row), int(column))

    matrix.select(on_cell, [run_id, rows], detail, api_visibility="private")

    async def cell(r: str, row: float, column: float) -> str:
        """A cell by row and column (column 1 is the first target), for the API."""
        found = await show_run(ctx, registry, r)
        return await show_cell(
            ctx, registry, r, found.rows if isinstance(found.rows, list) else [], int(row), int(column)
        )

    gr.api(cell, api_name="run_cell")
    compared = [compare_table, compare_summary, changes]
    compare_button.click(partial(compare, ctx), [other, runs, changed_only], compared, api_name="run_compare")
    changed_only.change(
        partial(compare, ctx), [other, runs, changed_only], compared, api_visibility="private"
    )

    def on_change(shown: list[dict[str, Any]], evt: gr.SelectData) -> str:
        return show_change(shown, int((evt.index or [0])[0]))

    compare_table.select(on_change, changes, change_detail, api_visibility="private")
    return SuitesTab(assistant=assistant, suite=suite)
