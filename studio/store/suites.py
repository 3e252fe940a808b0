"""Test suites in the store: suites and their cases, runs and their results.

Every method is one transaction. Importing a file adds all its cases in one transaction, so an import that
fails leaves nothing behind. A run is `running` while a studio process works on it; the process writes its
results in batches with a heartbeat. When the store opens, runs whose process is gone (this machine's
process no longer alive, or no heartbeat for STALE_MS from any machine) are marked `interrupted`, keeping
the results they had written.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, case, func, select, update
from sqlalchemy import exc as sa_exc

from studio.store.database import Database
from studio.store.history import now_ms
from studio.store.schema import assistants, test_cases, test_results, test_runs, test_suites
from studio.suites.assertions import Outcome
from studio.suites.model import Assertion, Case, Suite, SuiteError, check_suite_name
from studio.suites.results import CaseResult, RunInfo, TurnResult

log = logging.getLogger(__name__)
STALE_MS = 120_000  # a run whose heartbeat is older than this, from any machine, was cut short
HOST = socket.gethostname()[:255]
_BATCH = 1_000


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _lineage(db: Connection, server: str, assistant_id: str) -> str:
    found = db.scalar(
        select(assistants.c.lineage).where(
            assistants.c.server == server, assistants.c.assistant_id == assistant_id
        )
    )
    return found or assistant_id


def _case_row(case: Case, suite_id: int, position: int, created: int) -> dict[str, Any]:
    return {
        "suite_id": suite_id, "position": position, "description": case.description, "vars": dict(case.vars),
        "messages": [dict(m) for m in case.messages], "assertions": [a.to_dict() for a in case.assertions],
        "replay": case.replay, "created_ms": created,
    }  # fmt: skip


def _case(row: Any) -> Case:
    return Case(
        description=row["description"],
        vars={str(k): str(v) for k, v in (row["vars"] or {}).items()},
        messages=list(row["messages"] or []),
        assertions=[
            Assertion(**{k: a.get(k) for k in ("type", "value", "threshold", "turn")})
            for a in row["assertions"] or []
        ],
        replay=bool(row["replay"]),
        id=row["id"],
    )


def _suite(row: Any, count: int = 0) -> Suite:
    return Suite(
        name=row["name"], assistant_id=row["assistant_id"], prompt=row["prompt"], judge=row["judge"], id=row["id"],
        server=row["server"], lineage=row["lineage"], created_ms=row["created_ms"], updated_ms=row["updated_ms"],
        case_count=count,
    )  # fmt: skip


def result_row(run_id: str, result: CaseResult) -> dict[str, Any]:
    return {
        "run_id": run_id, "case_index": result.case_index, "case_id": result.case_id,
        "description": result.description, "target": result.target, "repeat": result.repeat,
        "status": result.status, "answer": result.answer, "error": result.error,
        "outcomes": [o.to_dict() for o in result.outcomes],
        "turns": None if result.turns is None else [t.to_dict() for t in result.turns],
        "model": result.model, "tokens_used": result.tokens_used, "judge_tokens": result.judge_tokens,
        "latency_ms": result.latency_ms, "first_token_ms": result.first_token_ms, "created_ms": now_ms(),
    }  # fmt: skip


def _result(row: Any) -> CaseResult:
    return CaseResult(
        case_index=row["case_index"], target=row["target"], repeat=row["repeat"], status=row["status"],
        description=row["description"], case_id=row["case_id"], answer=row["answer"], error=row["error"],
        outcomes=[Outcome.from_dict(o) for o in row["outcomes"] or []],
        turns=None if row["turns"] is None else [TurnResult.from_dict(t) for t in row["turns"]],
        model=row["model"], tokens_used=row["tokens_used"], judge_tokens=row["judge_tokens"],
        latency_ms=row["latency_ms"], first_token_ms=row["first_token_ms"],
    )  # fmt: skip


class SuiteStore:
    """Reads and writes suites, cases, runs and results."""

    def __init__(self, database: Database) -> None:
        self.db = database
        try:
            self.mark_interrupted()
        except sa_exc.SQLAlchemyError as err:  # not worth failing the store over: tried again on listing
            log.warning("Runs cut short could not be marked: %s", type(err).__name__)

    # --- Suites ------------------------------------------------------------------------------------------

    def suites(self, server: str, assistant_id: str) -> list[Suite]:
        """The assistant's suites (under its lineage), by name, with their numbers of cases."""
        counts = (
            select(test_cases.c.suite_id, func.count().label("n")).group_by(test_cases.c.suite_id).subquery()
        )
        with self.db.read() as db:
            lineage = _lineage(db, server, assistant_id)
            rows = db.execute(
                select(test_suites, func.coalesce(counts.c.n, 0).label("n"))
                .outerjoin(counts, counts.c.suite_id == test_suites.c.id)
                .where(test_suites.c.server == server, test_suites.c.lineage == lineage)
                .order_by(test_suites.c.name)
            ).mappings()
            return [_suite(row, row["n"]) for row in rows]

    def suite(self, suite_id: int, *, with_cases: bool = True) -> Suite:
        """A suite (with its cases in order); SuiteError when there is no such suite."""
        with self.db.read() as db:
            row = db.execute(select(test_suites).where(test_suites.c.id == suite_id)).mappings().first()
            if row is None:
                raise SuiteError(f"There is no suite {suite_id}: it may have been deleted. Pick another.")
            found = _suite(row)
            if with_cases:
                found.cases = self._cases(db, suite_id)
            found.case_count = (
                len(found.cases)
                if with_cases
                else int(db.scalar(select(func.count()).where(test_cases.c.suite_id == suite_id)) or 0)
            )
            return found

    def suite_named(self, server: str, assistant_id: str, name: str) -> Suite | None:
        with self.db.read() as db:
            lineage = _lineage(db, server, assistant_id)
            row = (
                db.execute(
                    select(test_suites).where(
                        test_suites.c.server == server,
                        test_suites.c.lineage == lineage,
                        test_suites.c.name == name.strip(),
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else self.suite(row["id"])

    def create_suite(
        self,
        server: str,
        assistant_id: str,
        name: str,
        prompt: str = "",
        judge: str = "",
        cases: Iterable[Case] = (),
    ) -> Suite:
        """A new suite for the assistant, with its first cases, in one transaction."""
        name = check_suite_name(name)
        created = now_ms()
        with self.db.write() as db:
            lineage = _lineage(db, server, assistant_id)
            self._refuse_taken(db, server, lineage, name)
            suite_id = db.execute(
                test_suites.insert().values(
                    server=server,
                    lineage=lineage,
                    assistant_id=assistant_id,
                    name=name,
                    prompt=prompt or "",
                    judge=(judge or "").strip(),
                    created_ms=created,
                    updated_ms=created,
                )  # fmt: skip
            ).inserted_primary_key[0]
            self._insert_cases(db, suite_id, list(cases), 0)
        return self.suite(int(suite_id))

    def update_suite(
        self, suite_id: int, *, name: str | None = None, prompt: str | None = None, judge: str | None = None
    ) -> Suite:
        values: dict[str, Any] = {"updated_ms": now_ms()}
        if prompt is not None:
            values["prompt"] = prompt
        if judge is not None:
            values["judge"] = judge.strip()
        with self.db.write() as db:
            row = db.execute(select(test_suites).where(test_suites.c.id == suite_id)).mappings().first()
            if row is None:
                raise SuiteError(f"There is no suite {suite_id}: it may have been deleted. Pick another.")
            if name is not None and check_suite_name(name) != row["name"]:
                values["name"] = check_suite_name(name)
                self._refuse_taken(db, row["server"], row["lineage"], values["name"])
            db.execute(update(test_suites).where(test_suites.c.id == suite_id).values(**values))
        return self.suite(suite_id, with_cases=False)

    def delete_suite(self, suite_id: int) -> bool:
        """Delete a suite and its cases; its runs and their results stay, named by the suite's name."""
        with self.db.write() as db:
            db.execute(test_cases.delete().where(test_cases.c.suite_id == suite_id))
            gone = db.execute(test_suites.delete().where(test_suites.c.id == suite_id))
        return bool(gone.rowcount)

    # --- Cases -------------------------------------------------------------------------------------------

    def cases(self, suite_id: int) -> list[Case]:
        with self.db.read() as db:
            return self._cases(db, suite_id)

    def add_cases(self, suite_id: int, cases: list[Case], *, replace: bool = False) -> int:
        """Append cases to a suite (or replace them all), in one transaction; returns how many were added."""
        with self.db.write() as db:
            if db.scalar(select(test_suites.c.id).where(test_suites.c.id == suite_id)) is None:
                raise SuiteError(f"There is no suite {suite_id}: it may have been deleted. Pick another.")
            if replace:
                db.execute(test_cases.delete().where(test_cases.c.suite_id == suite_id))
            last = db.scalar(select(func.max(test_cases.c.position)).where(test_cases.c.suite_id == suite_id))
            self._insert_cases(db, suite_id, cases, -1 if last is None else int(last))
            db.execute(update(test_suites).where(test_suites.c.id == suite_id).values(updated_ms=now_ms()))
        return len(cases)

    def update_case(self, case_id: int, case: Case) -> None:
        with self.db.write() as db:
            row = db.execute(select(test_cases).where(test_cases.c.id == case_id)).mappings().first()
            if row is None:
                raise SuiteError(f"There is no case {case_id}: it may have been deleted.")
            values = _case_row(case, row["suite_id"], row["position"], row["created_ms"])
            db.execute(update(test_cases).where(test_cases.c.id == case_id).values(**values))

    def delete_case(self, case_id: int) -> bool:
        with self.db.write() as db:
            gone = db.execute(test_cases.delete().where(test_cases.c.id == case_id))
        return bool(gone.rowcount)

    # --- Runs --------------------------------------------------------------------------------------------

    def start_run(self, info: RunInfo) -> None:
        with self.db.write() as db:
            db.execute(
                test_runs.insert().values(
                    id=info.id,
                    server=info.server,
                    lineage=info.lineage,
                    suite_id=info.suite_id,
                    suite_name=info.suite_name,
                    origin=info.origin,
                    status="running",
                    targets=info.targets,
                    cases=info.cases,
                    repeats=info.repeats,
                    concurrency=info.concurrency,
                    host=HOST,
                    pid=os.getpid(),
                    heartbeat_ms=now_ms(),
                    started_ms=info.started_ms,
                )  # fmt: skip
            )

    def add_results(self, run_id: str, results: list[CaseResult]) -> None:
        """Write finished results (and the run's heartbeat) in one transaction."""
        with self.db.write() as db:
            if results:
                db.execute(test_results.insert(), [result_row(run_id, r) for r in results])
            db.execute(update(test_runs).where(test_runs.c.id == run_id).values(heartbeat_ms=now_ms()))

    def finish_run(self, run_id: str, status: str) -> None:
        with self.db.write() as db:
            db.execute(
                update(test_runs)
                .where(test_runs.c.id == run_id)
                .values(status=status, finished_ms=now_ms(), heartbeat_ms=now_ms())
            )

    def mark_interrupted(self) -> int:
        """Mark runs whose process is gone as interrupted; returns how many."""
        now = now_ms()
        with self.db.write() as db:
            rows = db.execute(
                select(test_runs.c.id, test_runs.c.host, test_runs.c.pid, test_runs.c.heartbeat_ms).where(
                    test_runs.c.status == "running"
                )
            ).all()
            cut = [
                run_id
                for run_id, host, pid, beat in rows
                if now - beat > STALE_MS or (host == HOST and not _alive(pid))
            ]
            if cut:
                db.execute(
                    update(test_runs)
                    .where(test_runs.c.id.in_(cut), test_runs.c.status == "running")
                    .values(status="interrupted", finished_ms=now)
                )
        return len(cut)

    def runs(
        self, server: str, assistant_id: str, *, suite_id: int | None = None, limit: int = 50
    ) -> list[RunInfo]:
        """The assistant's runs (of one suite, when given), newest first, with how many results and passes."""
        self.mark_interrupted()
        counts = (
            select(
                test_results.c.run_id,
                func.count().label("done"),
                func.sum(case((test_results.c.status == "pass", 1), else_=0)).label("passed"),
            )
            .group_by(test_results.c.run_id)
            .subquery()
        )
        with self.db.read() as db:
            lineage = _lineage(db, server, assistant_id)
            query = (
                select(test_runs, counts.c.done, counts.c.passed)
                .outerjoin(counts, counts.c.run_id == test_runs.c.id)
                .where(test_runs.c.server == server, test_runs.c.lineage == lineage)
                .order_by(test_runs.c.started_ms.desc())
                .limit(limit)
            )
            if suite_id is not None:
                query = query.where(test_runs.c.suite_id == suite_id)
            return [self._run(row) for row in db.execute(query).mappings()]

    def run(self, run_id: str) -> RunInfo:
        with self.db.read() as db:
            row = db.execute(select(test_runs).where(test_runs.c.id == run_id)).mappings().first()
            if row is None:
                raise SuiteError(f"There is no run {run_id}: pick one from the list of runs.")
            done, passed = db.execute(
                select(func.count(), func.sum(case((test_results.c.status == "pass", 1), else_=0))).where(
                    test_results.c.run_id == run_id
                )
            ).one()
        return self._run({**row, "done": done, "passed": passed})

    def results(self, run_id: str) -> list[CaseResult]:
        with self.db.read() as db:
            rows = db.execute(
                select(test_results)
                .where(test_results.c.run_id == run_id)
                .order_by(test_results.c.case_index, test_results.c.target, test_results.c.repeat)
            ).mappings()
            return [_result(row) for row in rows]

    # --- Inside a transaction ----------------------------------------------------------------------------

    @staticmethod
    def _cases(db: Connection, suite_id: int) -> list[Case]:
        rows = db.execute(
            select(test_cases)
            .where(test_cases.c.suite_id == suite_id)
            .order_by(test_cases.c.position, test_cases.c.id)
        ).mappings()
        return [_case(row) for row in rows]

    @staticmethod
    def _insert_cases(db: Connection, suite_id: int, cases: list[Case], last: int) -> None:
        created = now_ms()
        rows = [_case_row(c, suite_id, last + 1 + i, created) for i, c in enumerate(cases)]
        for start in range(0, len(rows), _BATCH):
            db.execute(test_cases.insert(), rows[start : start + _BATCH])

    @staticmethod
    def _refuse_taken(db: Connection, server: str, lineage: str, name: str) -> None:
        taken = db.scalar(
            select(test_suites.c.id).where(
                test_suites.c.server == server, test_suites.c.lineage == lineage, test_suites.c.name == name
            )
        )
        if taken is not None:
            raise SuiteError(f"This assistant already has a suite named “{name}”: pick another name.")

    @staticmethod
    def _run(row: Any) -> RunInfo:
        return RunInfo(
            id=row["id"], server=row["server"], lineage=row["lineage"], suite_id=row["suite_id"],
            suite_name=row["suite_name"], origin=row["origin"], status=row["status"], targets=list(row["targets"] or []),
            cases=row["cases"], repeats=row["repeats"], concurrency=row["concurrency"], started_ms=row["started_ms"],
            finished_ms=row["finished_ms"], done=int(row["done"] or 0), passed=int(row["passed"] or 0),
        )  # fmt: skip
