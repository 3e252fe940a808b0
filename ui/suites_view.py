"""How the Test Suites tab shows things: the cases, the results matrix coloured by outcome, the summary per
target, a cell's answer with every assertion's reason (a replayed turn beside its reference, word diff),
and two runs compared. Every piece of text from a case or an answer is escaped."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from studio import pricing
from studio.diff import word_diff
from studio.suites.model import Case
from studio.suites.results import CaseResult, CellChange, RunInfo, TargetSummary, cell_status
from ui.theme import escape_md

CASE_COLUMNS = ["#", "Description", "Variables", "Messages", "Assertions"]
COMPARE_COLUMNS = ["Case", "Target", "Before", "Now", "Change"]
MARKS = {"pass": "✓ pass", "fail": "✗ fail", "error": "! error"}
# Light fills with dark text, and the word itself in each cell: readable in both themes, and without colour.
FILLS = {"pass": "background-color: #dcfce7; color: #14532d", "fail": "background-color: #fee2e2; color: #7f1d1d",
         "error": "background-color: #fef3c7; color: #78350f"}  # fmt: skip
CHANGE_FILLS = {"fixed": FILLS["pass"], "broken": FILLS["fail"]}


def when(ms: int | None) -> str:
    return "" if not ms else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(text: str, limit: int = 80) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cases_table(cases: list[Case]) -> pd.DataFrame:
    rows = []
    for index, case in enumerate(cases):
        variables = ", ".join(f"{k}={v}" for k, v in case.vars.items())
        messages = f"replay, {len(case.user_turns())} turns" if case.replay else (
            f"{len(case.messages)} messages" if case.messages else "the suite's prompt"
        )  # fmt: skip
        checks = "; ".join(a.summary() + (f" (turn {a.turn})" if a.turn else "") for a in case.assertions)
        rows.append(
            [str(index + 1), _short(case.description, 60), _short(variables), messages, _short(checks, 120)]
        )
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def run_choice(info: RunInfo) -> tuple[str, str]:
    """A run as the runs list names it: when, status, pass rate, targets."""
    rate = "-" if info.pass_rate is None else f"{info.pass_rate:.0%}"
    targets = ", ".join(info.target_labels())
    return f"{when(info.started_ms)} · {info.status} · {rate} of {info.done:,} · {targets}", info.id


def _cell_text(results: list[CaseResult]) -> str:
    status = cell_status(results)
    if len(results) == 1:
        return MARKS[status]
    passed = sum(r.status == "pass" for r in results)
    return f"{MARKS[status]} ({passed}/{len(results)} passed)"


def matrix(results: list[CaseResult], labels: list[str]) -> tuple[Any, list[int]]:
    """Cases × targets, each cell coloured by its outcome (over its repeats); and the case index of each row."""
    cells: dict[tuple[int, int], list[CaseResult]] = {}
    names: dict[int, str] = {}
    for result in results:
        cells.setdefault((result.case_index, result.target), []).append(result)
        names[result.case_index] = result.description
    order = sorted(names)
    rows = [[names[i]] + [_cell_text(cells[(i, t)]) if (i, t) in cells else "…" for t in range(len(labels))]
            for i in order]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["Case", *labels])

    def fill(value: Any) -> str:
        text = str(value)
        return next((style for key, style in FILLS.items() if text.startswith(MARKS[key])), "")

    return frame.style.map(fill, subset=labels), order


def summary_markdown(summaries: list[TargetSummary], info: RunInfo | None = None) -> str:
    """Pass rate, cost and latency per target, and how the run stands."""
    lines = [
        "| Target | Pass rate | Passed | Failed | Errors | Tokens | Median latency | p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        rate = "-" if s.pass_rate is None else f"**{s.pass_rate:.0%}**"
        tokens = f"{s.tokens_used:,}" + (f" (+{s.judge_tokens:,} judge)" if s.judge_tokens else "")
        median = "-" if s.latency_median_ms is None else f"{s.latency_median_ms:,.0f} ms"
        p95 = "-" if s.latency_p95_ms is None else f"{s.latency_p95_ms:,.0f} ms"
        lines.append(
            f"| {escape_md(s.label)} | {rate} | {s.passed} | {s.failed} | {s.errors} | {tokens} | {median} | {p95} |"
        )
    if info is not None:
        head = f"Run of **{escape_md(info.suite_name)}**, {when(info.started_ms)} · {info.status}"
        if info.status == "interrupted":
            head += " (the studio stopped during the run; the results it had are kept)"
        head += f" · {info.done:,} of {info.total:,} answers"
        lines = [head, ""] + lines
    return "\n".join(lines)


def _diff_html(old: str, new: str) -> str:
    marks = {"equal": "{}", "insert": "<ins>{}</ins>", "delete": "<del>{}</del>"}
    return "".join(marks[p.op].format(html.escape(p.text)) for p in word_diff(old, new))


def _outcomes_html(result_outcomes: list[Any]) -> str:
    if not result_outcomes:
        return "<p>No assertions: the answer passes when the call succeeds.</p>"
    items = "".join(
        f"<li class='suite-{html.escape(o.status)}'><strong>{html.escape(o.status)}</strong> · "
        f"{html.escape(o.check or o.type)}: {html.escape(o.reason)}</li>"
        for o in result_outcomes
    )
    return f"<ul class='suite-outcomes'>{items}</ul>"


def cell_detail(results: list[CaseResult], label: str) -> str:
    """A cell of the matrix: each repeat's answer and every assertion's reason; a replay turn by turn."""
    if not results:
        return "<p>No answer here yet.</p>"
    parts = [f"<h4>{html.escape(results[0].description)} · {html.escape(label)}</h4>"]
    for result in results:
        stats = [result.model or "", pricing.tokens(result.tokens_used)]
        if result.latency_ms is not None:
            stats.append(f"{result.latency_ms:,.0f} ms")
        head = (
            f"{'Repeat ' + str(result.repeat + 1) + ' · ' if len(results) > 1 else ''}{MARKS[result.status]}"
        )
        parts.append(
            f"<p><strong>{html.escape(head)}</strong> · {html.escape(' · '.join(s for s in stats if s))}</p>"
        )
        if result.error:
            parts.append(f"<p class='suite-error'>The call failed: {html.escape(result.error)}</p>")
        if result.turns is not None:
            parts.append(_turns_html(result))
            continue
        if result.error and not result.outcomes:
            continue  # nothing was answered, so nothing was checked: the failure above is the whole story
        parts.append(f"<pre class='suite-answer' aria-label='Answer'>{html.escape(result.answer)}</pre>")
        parts.append(_outcomes_html(result.outcomes))
    return "".join(parts)


def _turns_html(result: CaseResult) -> str:
    rows = []
    for number, turn in enumerate(result.turns or [], start=1):
        diff = _diff_html(turn.reference, turn.answer) if turn.reference else html.escape(turn.answer)
        rows.append(
            f"<tr><th scope='row'>{number}</th><td>{html.escape(turn.user)}</td>"
            f"<td><pre>{html.escape(turn.reference)}</pre></td><td><pre aria-label='Answer, changes from the reference "
            f"marked'>{diff}</pre></td><td>{html.escape(turn.status)}{_outcomes_html(turn.outcomes) if turn.outcomes else ''}"
            f"{html.escape(turn.error)}</td></tr>"
        )
    return (
        "<table class='suite-turns'><thead><tr><th>Turn</th><th>You</th><th>Reference</th>"
        "<th>This version (word diff)</th><th>Checks</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def compare_table(
    changes: list[CellChange], old_labels: list[str], new_labels: list[str], changed_only: bool
) -> Any:
    """The cells of two runs, paired by the targets' places in each run; a pair of different targets is
    named as such ("v1 → current (v5)"), so a change is never credited to a target that did not run before."""

    def target(index: int) -> str:
        def named(labels: list[str]) -> str:
            return labels[index] if index < len(labels) else str(index + 1)

        before, after = named(old_labels), named(new_labels)
        return after if before == after else f"{before} → {after}"

    shown = [c for c in changes if not changed_only or c.change != "same"]
    rows = [[c.description, target(c.target), c.old or "-", c.new or "-", c.change] for c in shown]
    frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    return frame.style.map(lambda v: CHANGE_FILLS.get(str(v), ""), subset=["Change"])


def compare_summary(old: RunInfo, new: RunInfo, changes: list[CellChange]) -> str:
    def rate(info: RunInfo) -> str:
        return "-" if info.pass_rate is None else f"{info.pass_rate:.0%}"

    delta = ""
    if old.pass_rate is not None and new.pass_rate is not None:
        points = (new.pass_rate - old.pass_rate) * 100
        delta = f" ({points:+.0f} points)"
    counts = {
        kind: sum(c.change == kind for c in changes) for kind in ("fixed", "broken", "same", "new", "gone")
    }
    listed = " · ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    return f"Pass rate {rate(old)} → **{rate(new)}**{delta} · {listed}"


def change_detail(change: CellChange) -> str:
    """The two answers of a compared cell, as a word diff (older → newer)."""
    head = f"<h4>{html.escape(change.description)} · {html.escape(change.change)}</h4>"
    return (
        head
        + f"<pre class='diff-text' aria-label='Answers, changes marked'>{_diff_html(change.old_answer, change.new_answer)}</pre>"
    )
