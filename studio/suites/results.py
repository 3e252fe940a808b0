"""A run's results as data: one per case, target and repeat; summaries per target; two runs compared."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from studio.suites.assertions import Outcome, Status

RunStatus = Literal["running", "finished", "cancelled", "interrupted"]
Change = Literal["fixed", "broken", "same", "new", "gone"]


@dataclass
class TurnResult:
    """One user turn of a replayed conversation: the answer beside the reference, and its checks."""

    user: str
    reference: str
    answer: str
    status: Status
    outcomes: list[Outcome] = field(default_factory=list)
    tokens_used: int = 0
    latency_ms: float | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user, "reference": self.reference, "answer": self.answer, "status": self.status,
            "outcomes": [o.to_dict() for o in self.outcomes], "tokens_used": self.tokens_used,
            "latency_ms": self.latency_ms, "error": self.error,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnResult:
        return cls(
            data["user"], data["reference"], data["answer"], data["status"],
            [Outcome.from_dict(o) for o in data.get("outcomes", [])], data.get("tokens_used", 0),
            data.get("latency_ms"), data.get("error", ""),
        )  # fmt: skip


@dataclass
class CaseResult:
    """One answer of a run: a case (one repeat of it) against one target."""

    case_index: int
    target: int
    repeat: int
    status: Status
    description: str = ""
    case_id: int | None = None
    answer: str = ""
    error: str = ""  # why the call failed (status "error")
    outcomes: list[Outcome] = field(default_factory=list)
    turns: list[TurnResult] | None = None
    model: str = ""
    tokens_used: int = 0
    judge_tokens: int = 0
    latency_ms: float | None = None
    first_token_ms: float | None = None

    @property
    def key(self) -> tuple[str, int]:
        """What identifies the case across runs: the suite's case, else its place in the file."""
        return ("case", self.case_id) if self.case_id is not None else ("index", self.case_index)

    def reasons(self) -> str:
        """Every check's result on one line each, for a summary or a JUnit failure."""
        lines = [f"call failed: {self.error}"] if self.error else []
        lines += [
            f"[{o.status}] {o.check or o.type}{f' (turn {o.turn})' if o.turn else ''}: {o.reason}"
            for o in self.outcomes
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class RunInfo:
    """A stored run: what it ran, how far it got, how it ended."""

    id: str
    server: str
    lineage: str
    suite_id: int | None
    suite_name: str
    origin: str
    status: RunStatus
    targets: list[dict[str, Any]]
    cases: int
    repeats: int
    concurrency: int
    started_ms: int
    finished_ms: int | None = None
    done: int = 0
    passed: int = 0

    @property
    def total(self) -> int:
        return self.cases * len(self.targets) * self.repeats

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.done if self.done else None

    def target_labels(self) -> list[str]:
        return [str(t.get("label") or f"target {i + 1}") for i, t in enumerate(self.targets)]


@dataclass(frozen=True)
class TargetSummary:
    """One target's column of the matrix, summed up."""

    label: str
    passed: int
    failed: int
    errors: int
    tokens_used: int
    judge_tokens: int
    latency_median_ms: float | None
    latency_p95_ms: float | None

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.total if self.total else None


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def summarize(results: list[CaseResult], labels: list[str]) -> list[TargetSummary]:
    """Pass rate, cost and latency per target."""
    out = []
    for index, label in enumerate(labels):
        mine = [r for r in results if r.target == index]
        latencies = [r.latency_ms for r in mine if r.latency_ms is not None and not r.error]
        out.append(
            TargetSummary(
                label=label,
                passed=sum(r.status == "pass" for r in mine),
                failed=sum(r.status == "fail" for r in mine),
                errors=sum(r.status == "error" for r in mine),
                tokens_used=sum(r.tokens_used for r in mine),
                judge_tokens=sum(r.judge_tokens for r in mine),
                latency_median_ms=statistics.median(latencies) if latencies else None,
                latency_p95_ms=_p95(latencies),
            )
        )
    return out


def pass_rate(results: list[CaseResult]) -> float | None:
    return sum(r.status == "pass" for r in results) / len(results) if results else None


def cell_status(results: list[CaseResult]) -> Status:
    """A cell of the matrix (a case against a target) over its repeats: it passes only if every repeat does."""
    statuses = {r.status for r in results}
    return "fail" if "fail" in statuses else "error" if "error" in statuses else "pass"


@dataclass(frozen=True)
class CellChange:
    """A case against a target in two runs."""

    key: tuple[str, int]
    target: int
    description: str
    change: Change
    old: Status | None
    new: Status | None
    old_answer: str
    new_answer: str


def _cells(results: list[CaseResult]) -> dict[tuple[tuple[str, int], int], list[CaseResult]]:
    cells: dict[tuple[tuple[str, int], int], list[CaseResult]] = {}
    for result in sorted(results, key=lambda r: (r.case_index, r.target, r.repeat)):
        cells.setdefault((result.key, result.target), []).append(result)
    return cells


def compare_runs(old: list[CaseResult], new: list[CaseResult]) -> list[CellChange]:
    """Each case against each target: fixed (now passes), broken (passed, now does not), the same, or only
    in one of the runs; in the newer run's order, then the cases it lacks."""
    before, after = _cells(old), _cells(new)
    changes = []
    for cell in [*after, *(c for c in before if c not in after)]:
        a, b = before.get(cell), after.get(cell)
        old_status, new_status = (cell_status(a) if a else None), (cell_status(b) if b else None)
        if a is None:
            change: Change = "new"
        elif b is None:
            change = "gone"
        elif (old_status == "pass") == (new_status == "pass"):
            change = "same"
        else:
            change = "fixed" if new_status == "pass" else "broken"
        described = (b or a or [])[0]
        changes.append(
            CellChange(
                cell[0], cell[1], described.description, change, old_status, new_status,
                a[0].answer if a else "", b[0].answer if b else "",
            )
        )  # fmt: skip
    return changes
