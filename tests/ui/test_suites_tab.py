"""The Test Suites tab's handlers against the real local server (echo engine) and a real store, and its
named endpoints through the launched studio."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from studio.conversation import AssistantProfile, ChatSession, Turn, TurnStats
from studio.suites.runner import RunRegistry
from ui import suites_tab as st

pytestmark = pytest.mark.anyio


async def assistant(ctx, instructions: str = "Be brief.") -> str:
    made = await ctx.library.create(name="Geo", model="gpt-5-nano", instructions=instructions)
    return made.assistant.id


async def new_suite(ctx, assistant_id: str, name: str = "Smoke") -> str:
    picker, notice = await st.create_suite(ctx, assistant_id, name)
    assert notice.startswith(f"Created the suite “{name}”"), notice
    return picker.value


def frame(value) -> pd.DataFrame:
    return value.data if hasattr(value, "data") else value  # a Styler, or the frame itself


async def run_to_end(ctx, registry, suite_id, **options):
    seen = []
    views = [
        v
        async for v in st.run_suite(
            ctx, registry, suite_id, progress=lambda f, desc="": seen.append(f), **options
        )
    ]
    return views, seen


async def test_suites_and_cases_from_the_form(studio_ctx):
    ctx = studio_ctx
    geo = await assistant(ctx)
    suite_id = await new_suite(ctx, geo)
    picker, _ = await st.create_suite(ctx, geo, "Smoke")
    assert picker is not None
    _, refused = await st.create_suite(ctx, geo, "Smoke")
    assert "already has a suite named “Smoke”" in refused
    assert "Smoke" in (await st.save_suite(ctx, suite_id, "Smoke", "Q: {{question}}", ""))

    table, notice = await st.save_case(ctx, suite_id, None, "capital", "question: Capital of France?",
                                       assertions="contains: France\n@1 regex: x")  # fmt: skip
    assert (
        "Not saved" in notice and "checks turn 1, and the case has 1" in notice
    )  # kept in the form: no table
    table, notice = await st.save_case(ctx, suite_id, None, "capital", "question: Capital of France?",
                                       assertions="contains: France\nnot-icontains: london\nlatency(60000)")  # fmt: skip
    assert notice == "Added the case." and list(table["Description"]) == ["capital"]
    assert table["Assertions"][0] == "contains “France”; not-icontains “london”; latency ≤ 60000 ms"
    _, bad = await st.save_case(ctx, suite_id, None, "x", "question: [unclosed", assertions="javascript: 1")
    assert "Not saved" in bad and "Nothing you typed was lost" in bad
    _, unknown = await st.save_case(ctx, suite_id, None, "x", "", assertions="contains: a\njavascript: 1")
    assert "Assertion line 2" in unknown and "javascript" in unknown
    _, typo = await st.save_case(ctx, suite_id, None, "x", "", assertions="similar(abc): x")
    assert "Assertion line 1: “similar(abc):” names the similar assertion" in typo  # not saved as equals

    loaded = await st.load_case(ctx, suite_id, 1)
    assert loaded[:5] == (
        "capital",
        "question: Capital of France?",
        "",
        "contains:France\nnot-icontains:london\nlatency(60000)",
        False,
    )
    table, notice = await st.save_case(ctx, suite_id, 1, "capital city", loaded[1], "", loaded[3])
    assert notice == "Saved case 1." and list(table["Description"]) == ["capital city"]
    _, notice = await st.delete_case(ctx, suite_id, 4)
    assert "There is no case 4: pick one of 1 to 1" in notice
    form = await st.open_suite(ctx, suite_id)
    assert (form.name, form.prompt, form.notice) == ("Smoke", "Q: {{question}}", "“Smoke”: 1 case.")
    picker, notice = await st.list_suites(ctx, geo, suite_id)
    assert picker.value == suite_id and picker.choices[0][0] == "Smoke · 1 case"
    await st.save_case(ctx, suite_id, None, "second", "question: Capital of Peru?", "", "contains: Lima")
    picker = await st.recount_suites(ctx, geo, suite_id)
    assert picker.value == suite_id and picker.choices[0][0] == "Smoke · 2 cases"
    _, notice = await st.delete_suite(ctx, geo, suite_id)
    assert notice.startswith("Deleted the suite")


async def test_import_both_formats_with_progress_and_nothing_from_a_bad_file(studio_ctx, tmp_path):
    ctx = studio_ctx
    suite_id = await new_suite(ctx, await assistant(ctx))
    csv = tmp_path / "tests.csv"
    csv.write_text("question,__expected\nOne?,contains:One\nTwo?,python: x\n", encoding="utf-8")
    steps = []
    table, notice = await st.import_file(
        ctx, suite_id, str(csv), progress=lambda f, desc="": steps.append(desc)
    )
    assert list(table["Variables"]) == ["question=One?"]
    assert notice.startswith("1 case imported, 1 left out (line 3: The assertion type “python”")
    assert steps[0] == "Reading tests.csv" and steps[-1] == "Saving 1 case"

    yaml_file = tmp_path / "tests.yaml"
    yaml_file.write_text(
        "prompts: ['Q: {{question}}']\ntests:\n  - vars: {question: Three?}\n", encoding="utf-8"
    )
    table, notice = await st.import_file(ctx, suite_id, str(yaml_file), replace=True)
    assert list(table["Variables"]) == ["question=Three?"] and "prompt became the suite's" in notice
    assert (await st.open_suite(ctx, suite_id)).prompt == "Q: {{question}}"

    broken = tmp_path / "broken.yaml"
    broken.write_text("tests:\n  - vars: {q: 1}\n  - oops\n", encoding="utf-8")
    table, notice = await st.import_file(ctx, suite_id, str(broken))
    assert notice.startswith("Nothing was imported: Line 3: each test must be a mapping")
    assert len((await st.open_suite(ctx, suite_id)).cases) == 1

    path, notice = await st.export_suite(ctx, suite_id, "yaml")
    assert path.endswith("Smoke.yaml") and "Three?" in Path(path).read_text(encoding="utf-8")
    path, _ = await st.export_suite(ctx, suite_id, "csv")
    assert Path(path).read_text(encoding="utf-8").startswith("question,__description")


async def test_a_run_its_matrix_a_cell_and_two_runs_compared(studio_ctx):
    ctx = studio_ctx
    geo = await assistant(ctx, "Be brief.")
    await ctx.library.update(geo, instructions="Answer at length, please.")
    suite_id = await new_suite(ctx, geo)
    await st.save_suite(ctx, suite_id, "Smoke", "{{question}}", "")
    await st.save_case(ctx, suite_id, None, "brief", "question: Capital?", assertions="contains: 9 chars")
    await st.save_case(ctx, suite_id, None, "any", "question: Hello", assertions="contains: Hello")
    registry = RunRegistry()

    views, progress = await run_to_end(ctx, registry, suite_id, targets="1\ncurrent")
    final = views[-1]
    assert final.run_id and "4 of 4 done · 1 failed" in final.status and "finished" in final.status
    shown = frame(final.matrix)
    assert list(shown.columns) == ["Case", "v1", "current (v2)"]
    assert list(shown["v1"]) == ["✓ pass", "✓ pass"] and list(shown["current (v2)"]) == ["✗ fail", "✓ pass"]
    assert "| v1 | **100%** | 2 | 0 | 0 | 2 |" in final.summary

    stored = await st.show_run(ctx, RunRegistry(), final.run_id)  # read back from the store
    assert list(frame(stored.matrix)["current (v2)"]) == ["✗ fail", "✓ pass"] and "finished" in stored.summary
    detail = await st.show_cell(ctx, registry, final.run_id, stored.rows, 0, 2)
    assert "[turn 1 | instructions 25 chars] You said: Capital?" in detail
    assert "does not contain “9 chars”" in detail and "<strong>fail</strong>" in detail

    # A second run with a fix: the brief case now passes on the current version.
    await ctx.library.update(geo, instructions="Be brief.")
    second = (await run_to_end(ctx, registry, suite_id, targets="1\ncurrent"))[0][-1]
    table, summary, changes = await st.compare(ctx, final.run_id, second.run_id, changed_only=True)
    assert summary.startswith("Pass rate 75% → **100%** (+25 points) · 1 fixed · 3 same")
    assert list(frame(table)["Change"]) == ["fixed"]
    assert list(frame(table)["Target"]) == ["current (v2) → current (v3)"]  # the version each run ran
    assert "<del>25</del><ins>9</ins>" in st.show_change(changes, 0)

    runs, other = await st.list_runs(ctx, suite_id)
    assert runs.value == second.run_id and other.value == final.run_id
    assert st.cancel_run(registry, final.run_id) == "That run has already ended."


async def test_a_failing_call_and_bad_targets_are_reported(studio_ctx):
    ctx = studio_ctx
    suite_id = await new_suite(ctx, await assistant(ctx))
    await st.save_suite(ctx, suite_id, "Smoke", "{{question}}", "")
    [view] = [v async for v in st.run_suite(ctx, RunRegistry(), suite_id)]
    assert view.status.startswith("Not started: The suite “Smoke” has no cases yet")
    await st.save_case(ctx, suite_id, None, "one", "question: hi", assertions="contains: hi")
    [view] = [v async for v in st.run_suite(ctx, RunRegistry(), suite_id, targets="7")]
    assert "There is no version 7" in view.status
    views, _ = await run_to_end(ctx, RunRegistry(), suite_id, targets="current model=no-such-model")
    assert list(frame(views[-1].matrix).iloc[:, 1]) == ["! error"]
    cell = await st.show_cell(ctx, RunRegistry(), views[-1].run_id, views[-1].rows, 0, 1)
    assert "The call failed" in cell and "no-such-model" in cell
    assert "No assertions" not in cell  # its assertion was never checked: nothing claims it passes


async def test_the_demo_refuses_changes_and_runs(demo_ctx, studio_ctx):
    geo = await assistant(studio_ctx)
    suite_id = await new_suite(studio_ctx, geo)
    _, notice = await st.create_suite(demo_ctx, geo, "Other")
    assert "read-only demo" in notice
    [view] = [v async for v in st.run_suite(demo_ctx, RunRegistry(), suite_id)]
    assert "read-only demo" in view.status
    assert "read-only demo" in (await st.save_case(demo_ctx, suite_id, None, "x", ""))[1]
    assert (await st.open_suite(demo_ctx, suite_id)).name == "Smoke"  # reading is fine


def conversation_with(assistant_id: str) -> ChatSession:
    profile = AssistantProfile(kind="mine", name="Geo", model="gpt-5-nano", instructions="Be brief.",
                               assistant_id=assistant_id, version=1)  # fmt: skip
    chat = ChatSession(assistant=profile, variables={"city": "Paris"})
    chat.turns = [
        Turn(
            "Hello there",
            "[turn 1 | instructions 9 chars] You said: Hello there",
            "done",
            TurnStats("gpt-5-nano"),
        ),
        Turn("Tell me more", "A reference answer from another day", "done", TurnStats("gpt-5-nano")),
        Turn("Broken", "", "failed", error="down"),
    ]
    return chat


async def test_save_conversation_as_case_then_replay_it_with_a_word_diff(studio_ctx):
    ctx = studio_ctx
    geo = await assistant(ctx)
    notice = await st.save_conversation_as_case(ctx, conversation_with(geo), "Conversations")
    assert notice == "Saved this conversation (2 turns) as a test case in the new suite “Conversations”."
    again = await st.save_conversation_as_case(ctx, conversation_with(geo), "Conversations", "second")
    assert again.endswith("in the suite “Conversations”.")
    picker, _ = await st.list_suites(ctx, geo)
    [(label, suite_id)] = picker.choices
    form = await st.open_suite(ctx, suite_id)
    assert list(form.cases["Messages"]) == ["replay, 2 turns", "replay, 2 turns"]
    assert list(form.cases["Description"]) == ["Hello there — Geo (v1)", "second"]

    views, _ = await run_to_end(ctx, RunRegistry(), suite_id)
    assert list(frame(views[-1].matrix).iloc[:, 1]) == [
        "✗ fail",
        "✗ fail",
    ]  # turn 2 is not like its reference
    detail = await st.show_cell(ctx, RunRegistry(), views[-1].run_id, views[-1].rows, 0, 1)
    assert "<th>Reference</th>" in detail and "A reference answer from another day" in detail
    assert (
        "<ins>[</ins>" in detail or "<ins>" in detail
    )  # the answer beside the reference, differences marked

    market = conversation_with(geo)
    market.assistant.kind = "market"
    assert "belong to your own assistants" in await st.save_conversation_as_case(ctx, market, "x")
    empty = conversation_with(geo)
    empty.turns = []
    assert "no answered message yet" in await st.save_conversation_as_case(ctx, empty, "x")


def test_the_tabs_endpoints_through_the_launched_studio(launched_studio, local_server):
    from gradio_client import Client

    from backend.client import AssistantsClient

    with AssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as api:
        geo = api.assistants.create(name="Geo", model="gpt-5-nano", instructions="").id
    client = Client(launched_studio, verbose=False)
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    expected = {"/suites_assistants", "/suites_list", "/suite_create", "/suite_open", "/suite_save", "/suite_delete",
                "/case_save", "/case_load", "/case_delete", "/suite_import", "/suite_export_yaml", "/suite_export_csv",
                "/suite_run", "/suite_cancel", "/run_results", "/run_cell", "/run_compare"}  # fmt: skip
    assert expected <= names
    picker, notice = client.predict(geo, "Smoke", api_name="/suite_create")
    assert notice.startswith("Created the suite “Smoke”")
    suite_id = picker["value"]  # the suite picker, with the new suite chosen
    client.predict(suite_id, "Smoke", "{{question}}", "", api_name="/suite_save")
    table, notice = client.predict(
        suite_id, None, "one", "question: hi", "", "contains: hi", False, api_name="/case_save"
    )
    assert notice == "Added the case."
    run_id, status, matrix, summary = client.predict(suite_id, "current", 1, 2, "", api_name="/suite_run")
    assert "1 of 1 done · 0 failed" in status and run_id
    detail = client.predict(run_id, 0, 1, api_name="/run_cell")
    assert "You said: hi" in detail and "contains “hi”" in detail
