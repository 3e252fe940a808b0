"""The versions of one assistant side by side: what each cost, how fast and how reliably it answered, how
often it won in Compare, and how it passed its test suites.

The pass rates come from the test suites' runs (`suite_pass_rates`, given as a `PassRates` so a test can
pass its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import Connection, case, func, select

from studio.store.database import Database
from studio.store.schema import generations, test_results, test_runs, wins
from studio.usage.filters import UNSAVED, UsageFilter, UsageInputError, conditions
from studio.usage.queries import percentile_rows

PICK_ONE = "Pick one of your assistants in the Assistant filter to compare its versions."


@dataclass(frozen=True)
class PassRate:
    """Test cases passed out of those run, for one version."""

    passed: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.passed / self.total if self.total else None


class PassRates(Protocol):
    """Test suites' pass rate per version of one assistant (a lineage), for runs within the time range
    (an open end: unbounded). Versions never tested are left out."""

    def __call__(
        self,
        connection: Connection,
        *,
        server: str | None,
        lineage: str,
        start_ms: int | None,
        end_ms: int | None,
    ) -> Mapping[int, PassRate]: ...


def suite_pass_rates(
    connection: Connection, *, server: str | None, lineage: str, start_ms: int | None, end_ms: int | None
) -> Mapping[int, PassRate]:
    """The test suites' pass rates per version, from the runs started within the range, read in the same
    transaction as the rest. A result counts as passed only if it passed: a fail and an error (a call or a
    check that could not be made) both count against it."""
    runs = select(test_runs.c.id, test_runs.c.targets).where(test_runs.c.lineage == lineage)
    if server is not None:
        runs = runs.where(test_runs.c.server == server)
    if start_ms is not None:
        runs = runs.where(test_runs.c.started_ms >= start_ms)
    if end_ms is not None:
        runs = runs.where(test_runs.c.started_ms < end_ms)
    versions_of: dict[tuple[str, int], int] = {}
    for run_id, targets in connection.execute(runs):
        for index, target in enumerate(targets or []):
            if isinstance(target, dict) and isinstance(target.get("version"), int):
                versions_of[(run_id, index)] = target["version"]
    if not versions_of:
        return {}
    counts = connection.execute(
        select(
            test_results.c.run_id,
            test_results.c.target,
            func.count(),
            func.sum(case((test_results.c.status == "pass", 1), else_=0)),
        )
        .where(test_results.c.run_id.in_({run_id for run_id, _ in versions_of}))
        .group_by(test_results.c.run_id, test_results.c.target)
    )
    totals: dict[int, list[int]] = {}
    for run_id, target, total, passed in counts:
        version = versions_of.get((run_id, target))
        if version is not None:
            tally = totals.setdefault(version, [0, 0])
            tally[0] += int(passed or 0)
            tally[1] += int(total)
    return {version: PassRate(passed, total) for version, (passed, total) in totals.items()}


@dataclass(frozen=True)
class VersionRow:
    """One version's figures within the filter; None where it made no such call."""

    version: int | None  # None: calls logged without a version
    calls: int
    tokens: int
    failed: int
    p50_ms: float | None
    p95_ms: float | None
    first_p50_ms: float | None
    wins: int
    pass_rate: PassRate | None

    @property
    def label(self) -> str:
        return f"v{self.version}" if self.version is not None else "unknown version"

    @property
    def tokens_per_call(self) -> float | None:
        return self.tokens / self.calls if self.calls else None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.calls if self.calls else None


def compare_versions(
    db: Database, flt: UsageFilter, pass_rates: PassRates = suite_pass_rates
) -> list[VersionRow]:
    """Every version of the filter's assistant with calls, wins or test runs in the range, oldest first.
    The version filter is ignored: the point is to see them all."""
    lineage = flt.assistant
    if lineage is None or lineage.startswith(UNSAVED):
        raise UsageInputError(PICK_ONE)
    g, w = generations.c, wins.c
    every = replace(flt, version=None)
    with db.read() as connection:
        counts = {
            version: (int(calls), int(tokens or 0), int(failed or 0))
            for version, calls, tokens, failed in connection.execute(
                select(
                    g.version,
                    func.count(),
                    func.sum(g.tokens_used),
                    func.sum(case((g.outcome == "failed", 1), else_=0)),
                )
                .where(*conditions(every))
                .group_by(g.version)
            )
        }
        timed = {
            row[0]: row[2:]
            for row in percentile_rows(
                connection, [g.version], [*conditions(every), g.outcome == "completed"]
            )
        }
        won = [w.lineage == lineage]
        won += [w.server == flt.server] if flt.server is not None else []
        won += [w.created_ms >= flt.start_ms] if flt.start_ms is not None else []
        won += [w.created_ms < flt.end_ms] if flt.end_ms is not None else []
        won_by = dict(connection.execute(select(w.number, func.count()).where(*won).group_by(w.number)).all())
        tested = dict(
            pass_rates(
                connection, server=flt.server, lineage=lineage, start_ms=flt.start_ms, end_ms=flt.end_ms
            )
        )
    found = set(counts) | set(won_by) | set(tested)
    rows = []
    for version in sorted(found, key=lambda v: (v is None, v or 0)):
        calls, tokens, failed = counts.get(version, (0, 0, 0))
        p50, p95, first_p50, _first_p95 = timed.get(version, (None, None, None, None))
        rows.append(
            VersionRow(
                version,
                calls,
                tokens,
                failed,
                p50,
                p95,
                first_p50,
                int(won_by.get(version, 0)),
                tested.get(version) if version is not None else None,
            )  # fmt: skip
        )
    return rows
