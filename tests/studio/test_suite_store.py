"""Suites, cases, runs and results in the store, on SQLite and PostgreSQL; the migration from revision 0001."""

from __future__ import annotations

import subprocess

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, func, inspect, select, text, update
from sqlalchemy.exc import StatementError

from studio.store import StoreHandle
from studio.store.database import MIGRATIONS, _normalise
from studio.store.schema import assistants, generations, test_cases, test_runs, versions
from studio.store.suites import HOST
from studio.suites.assertions import Outcome
from studio.suites.model import Assertion, Case, SuiteError
from studio.suites.results import CaseResult, RunInfo, TurnResult

SERVER = "local:/data"


def cases(count: int) -> list[Case]:
    return [
        Case(f"case {i}", {"q": f"question {i}"}, [], [Assertion("contains", str(i))]) for i in range(count)
    ]


def test_suites_and_cases(store):
    suites = store.get().suites
    made = suites.create_suite(
        SERVER, "asst_1", " Smoke ", prompt="Q: {{q}}", judge="gpt-5-nano", cases=cases(3)
    )
    assert (made.name, made.prompt, made.judge, made.case_count) == ("Smoke", "Q: {{q}}", "gpt-5-nano", 3)
    assert [c.description for c in made.cases] == ["case 0", "case 1", "case 2"]
    assert made.cases[1].assertions == [Assertion("contains", "1")]
    with pytest.raises(SuiteError, match="already has a suite named “Smoke”"):
        suites.create_suite(SERVER, "asst_1", "Smoke")
    suites.create_suite(SERVER, "asst_1", "Another")
    suites.create_suite(SERVER, "asst_2", "Smoke")  # another assistant may use the name
    assert [(s.name, s.case_count) for s in suites.suites(SERVER, "asst_1")] == [("Another", 0), ("Smoke", 3)]

    replay = Case("chat", {}, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                  [Assertion("similar", "Hello", 0.5, turn=1)], replay=True)  # fmt: skip
    assert suites.add_cases(made.id, [replay]) == 1
    loaded = suites.suite(made.id)
    assert loaded.cases[-1].replay and loaded.cases[-1].messages[1]["content"] == "Hello"
    assert loaded.cases[-1].assertions == [Assertion("similar", "Hello", 0.5, 1)]

    first = loaded.cases[0]
    first.description = "edited"
    suites.update_case(first.id, first)
    assert suites.delete_case(loaded.cases[1].id)
    assert [c.description for c in suites.cases(made.id)] == ["edited", "case 2", "chat"]

    renamed = suites.update_suite(made.id, name="Regression", prompt="{{q}}?")
    assert (renamed.name, renamed.prompt) == ("Regression", "{{q}}?")
    with pytest.raises(SuiteError, match="named “Another”"):
        suites.update_suite(made.id, name="Another")
    assert suites.delete_suite(made.id)
    with pytest.raises(SuiteError, match="There is no suite"):
        suites.suite(made.id)
    with store.get().db.read() as db:
        assert db.scalar(select(func.count()).where(test_cases.c.suite_id == made.id)) == 0


def test_suites_follow_the_assistants_lineage(store):
    """A deleted assistant brought back has a new id; its suites are still its own."""
    suites = store.get().suites
    with store.get().db.write() as db:
        db.execute(assistants.insert().values(server=SERVER, assistant_id="asst_old", lineage="asst_old",
                                              first_seen_ms=1))  # fmt: skip
        db.execute(assistants.insert().values(server=SERVER, assistant_id="asst_new", lineage="asst_old",
                                              first_seen_ms=2))  # fmt: skip
    suites.create_suite(SERVER, "asst_old", "Kept")
    assert [s.name for s in suites.suites(SERVER, "asst_new")] == ["Kept"]


def test_an_import_that_fails_leaves_nothing(store):
    suites = store.get().suites
    made = suites.create_suite(SERVER, "asst_1", "Big")
    broken = cases(2_500)
    broken[2_200] = Case("bad", {}, [], [Assertion("contains", {1, 2})])  # not JSON: fails in the 3rd batch
    with pytest.raises((StatementError, TypeError), match="not JSON serializable"):
        suites.add_cases(made.id, broken)
    assert suites.suite(made.id).case_count == 0
    assert suites.add_cases(made.id, cases(10_000)) == 10_000
    assert suites.suite(made.id, with_cases=False).case_count == 10_000


def _info(run_id: str, suite_id: int | None = None, targets: int = 2) -> RunInfo:
    return RunInfo(
        id=run_id, server=SERVER, lineage="asst_1", suite_id=suite_id, suite_name="Smoke", origin="studio",
        status="running", targets=[{"label": f"v{i + 1}"} for i in range(targets)], cases=2, repeats=1,
        concurrency=4, started_ms=1_000,
    )  # fmt: skip


def _result(index: int, target: int, status: str = "pass") -> CaseResult:
    outcome = Outcome("contains", status, f"reason {index}", "contains “x”")
    turns = [TurnResult("hi", "hello", "hey", status, [outcome], 1, 5.0)] if index == 1 else None
    return CaseResult(index, target, 0, status, f"case {index}", case_id=10 + index, answer=f"answer {index}",
                      outcomes=[outcome], turns=turns, model="gpt-5-nano", tokens_used=1, latency_ms=12.5)  # fmt: skip


def test_runs_and_results(store):
    suites = store.get().suites
    suites.start_run(_info("run-a", suite_id=7))
    written = [_result(0, 0), _result(0, 1, "fail"), _result(1, 0, "error")]
    suites.add_results("run-a", written[:2])
    suites.add_results("run-a", written[2:])
    listed = suites.runs(SERVER, "asst_1")
    assert [(r.id, r.status, r.done, r.passed, r.total) for r in listed] == [("run-a", "running", 3, 1, 4)]
    suites.finish_run("run-a", "cancelled")
    info = suites.run("run-a")
    assert (info.status, info.target_labels(), info.pass_rate) == ("cancelled", ["v1", "v2"], 1 / 3)
    assert info.finished_ms is not None
    back = suites.results("run-a")
    assert back == sorted(written, key=lambda r: (r.case_index, r.target))
    assert suites.runs(SERVER, "asst_1", suite_id=8) == []
    with pytest.raises(SuiteError, match="no run nowhere"):
        suites.run("nowhere")


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_runs_whose_process_died_are_marked_interrupted_when_the_store_opens(store_url):
    first = StoreHandle(store_url)
    suites = first.get().suites
    for run_id in ("alive", "dead", "other-host-stale", "other-host-fresh"):
        suites.start_run(_info(run_id))
    suites.add_results("dead", [_result(0, 0)])
    with first.get().db.write() as db:
        db.execute(update(test_runs).where(test_runs.c.id == "dead").values(pid=_dead_pid()))
        db.execute(
            update(test_runs).where(test_runs.c.id.like("other-host%")).values(host="elsewhere", pid=1)
        )
        db.execute(update(test_runs).where(test_runs.c.id == "other-host-stale").values(heartbeat_ms=1))
    first.close()

    reopened = StoreHandle(store_url)
    suites = reopened.get().suites
    status = {r.id: r.status for r in suites.runs(SERVER, "asst_1")}
    assert status == {"alive": "running", "dead": "interrupted", "other-host-stale": "interrupted",
                      "other-host-fresh": "running"}  # fmt: skip
    assert suites.run("dead").done == 1  # its finished results are kept
    assert HOST
    reopened.close()


def test_a_database_at_revision_0001_keeps_its_data_when_migrated_to_head(store_url):
    url = _normalise(store_url)
    if url.get_backend_name() == "sqlite":
        from pathlib import Path

        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as connection:
        assert "test_suites" not in inspect(connection).get_table_names()
        connection.execute(assistants.insert().values(server=SERVER, assistant_id="asst_1", lineage="asst_1",
                                                      name="Tutor", last_number=1, first_seen_ms=5))  # fmt: skip
        connection.execute(versions.insert().values(server=SERVER, lineage="asst_1", number=1, assistant_id="asst_1",
                                                    name="Tutor", model="gpt-5", instructions="Teach.",
                                                    description="", source="create", created_ms=5))  # fmt: skip
        connection.execute(generations.insert().values(at_ms=6, server=SERVER, model="gpt-5", origin="playground",
                                                       total_ms=12.0, outcome="completed"))  # fmt: skip
    engine.dispose()

    handle = StoreHandle(store_url)
    store = handle.get()
    with store.db.read() as db:
        assert db.scalar(text("SELECT version_num FROM alembic_version")) == "0002"
        assert db.execute(select(versions.c.instructions)).scalar_one() == "Teach."
        assert db.execute(select(generations.c.total_ms)).scalar_one() == 12.0
    assert store.history.latest(SERVER, "asst_1").number == 1
    made = store.suites.create_suite(SERVER, "asst_1", "After the upgrade", cases=cases(1))
    assert store.suites.suite(made.id).case_count == 1
    handle.close()
