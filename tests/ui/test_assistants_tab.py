"""My Assistants: handlers against the real local server, then the main flows through the launched studio."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from backend.schemas import DESCRIPTION_MAX, INSTRUCTIONS_MAX, NAME_MAX
from ui import assistants_io as aio
from ui import assistants_tab as tab

pytestmark = pytest.mark.anyio


async def _create(
    ctx, name="Tutor", model="gpt-5-nano", instructions="Teach kindly.", description="A patient tutor"
):
    result = await tab.create_assistant(ctx, name, model, instructions, description)
    assert result.notice.startswith("Created"), result.notice
    return result.assistant_id


async def test_empty_list_says_where_to_start(studio_ctx):
    listed = await tab.list_assistants(studio_ctx, "")
    assert listed.table.empty
    assert list(listed.table.columns) == aio.COLUMNS
    assert listed.notice == aio.EMPTY_TEXT


async def test_create_then_list_and_search(studio_ctx):
    tutor = await _create(studio_ctx)
    await _create(studio_ctx, name="Poet", model="gpt-5", instructions="Rhyme.", description="Writes verse")
    listed = await tab.list_assistants(studio_ctx, "")
    assert sorted(listed.table["Name"]) == ["Poet", "Tutor"]
    assert tutor in set(listed.table["ID"])
    assert set(listed.table["Last update"]) == {"just now"}
    for words, expected in [("TUTOR", ["Tutor"]), ("verse", ["Poet"]), ("gpt-5-nano", ["Tutor"])]:
        found = await tab.list_assistants(studio_ctx, words)
        assert list(found.table["Name"]) == expected, words
        assert found.notice == "Showing 1 of 2 assistants."
    none = await tab.list_assistants(studio_ctx, "zebra")
    assert none.table.empty and "No assistants match" in none.notice and "zebra" in none.notice


async def test_local_check_names_each_field_and_creates_nothing(studio_ctx):
    result = await tab.create_assistant(
        studio_ctx, "  ", None, "x" * (INSTRUCTIONS_MAX + 1), "d" * (DESCRIPTION_MAX + 1)
    )
    assert "correct the marked fields" in result.notice
    assert "Name is required" in result.name_error
    assert "Model is required" in result.model_error
    assert f"{INSTRUCTIONS_MAX:,}" in result.instructions_error
    assert f"{DESCRIPTION_MAX:,}" in result.description_error
    assert (await tab.list_assistants(studio_ctx, "")).table.empty


async def test_server_validation_lands_beside_the_model_field(studio_ctx):
    result = await tab.create_assistant(studio_ctx, "Bot", "no-such-model", "", "")
    assert "correct the marked fields" in result.notice
    assert "no-such-model" in result.model_error
    assert result.name_error == result.instructions_error == result.description_error == ""
    assert (await tab.list_assistants(studio_ctx, "")).table.empty


async def test_update_get_and_delete(studio_ctx):
    assistant_id = await _create(studio_ctx)
    saved = await tab.update_assistant(
        studio_ctx, assistant_id, "Tutor 2", "gpt-5", "Teach briskly.", "Faster"
    )
    assert saved.notice == "Saved “Tutor 2”. Recorded as version 2." and saved.assistant_id == assistant_id
    form = await tab.get_assistant(studio_ctx, assistant_id)
    assert (form.name, form.model, form.instructions, form.description) == (
        "Tutor 2",
        "gpt-5",
        "Teach briskly.",
        "Faster",
    )
    too_long = await tab.update_assistant(studio_ctx, assistant_id, "n" * (NAME_MAX + 1), "gpt-5", "", "")
    assert "Name" in too_long.name_error and too_long.assistant_id == assistant_id
    row, question, _ = tab.ask_delete(assistant_id, "Tutor 2")
    assert "Tutor 2" in question and "keeps its history" in question  # deleting can be undone from History
    deleted = await tab.delete_assistant(studio_ctx, assistant_id)
    assert deleted.notice.startswith("Deleted “Tutor 2”.") and "history is kept" in deleted.notice
    assert deleted.assistant_id == "" and deleted.name == ""
    assert (await tab.list_assistants(studio_ctx, "")).table.empty
    again = await tab.delete_assistant(studio_ctx, assistant_id)
    assert again.notice.startswith("Not deleted:") and "list them again" in again.notice


async def test_nothing_selected_is_explained(studio_ctx):
    assert "select an assistant" in (await tab.update_assistant(studio_ctx, "", "a", "gpt-5", "", "")).notice
    assert "select an assistant" in (await tab.delete_assistant(studio_ctx, "")).notice
    assert "select an assistant" in tab.ask_delete("", "")[2]  # told in the notice, which is visible


async def test_export_all_and_one(studio_ctx, local_server):
    first = await _create(studio_ctx)
    await _create(studio_ctx, name="Poet", instructions="Rhyme.")
    path, notice = await tab.export_assistants(studio_ctx, "all", "")
    assert notice.startswith("Exported 2 assistants")
    text = Path(path).read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["format"] == aio.EXPORT_FORMAT and document["version"] == 1 and document["exported_at"]
    assert sorted(a["name"] for a in document["assistants"]) == ["Poet", "Tutor"]
    assert all(set(a) == set(aio.FIELDS) for a in document["assistants"])
    assert local_server.api_key not in text and first not in text
    one, _ = await tab.export_assistants(studio_ctx, "selected", first)
    assert [a["name"] for a in json.loads(Path(one).read_text())["assistants"]] == ["Tutor"]
    assert (await tab.export_assistants(studio_ctx, "selected", ""))[0] is None


async def test_import_mixed_file_creates_only_valid_items(studio_ctx, tmp_path):
    items = [
        {"name": "Good one", "model": "gpt-5-nano", "instructions": "Help.", "description": "ok"},
        {"model": "gpt-5-nano"},
        {"name": "Unknown model", "model": "gpt-0"},
        {"name": "Too long", "model": "gpt-5", "instructions": "x" * (INSTRUCTIONS_MAX + 1)},
        "just a string",
        {"name": 7, "model": "gpt-5"},
        {"name": "Good two", "model": "gpt-5"},
    ]
    file = tmp_path / "mixed.json"
    file.write_text(json.dumps(items), encoding="utf-8")
    steps: list[tuple[int, int]] = []
    result = await tab.import_assistants(studio_ctx, str(file), lambda step, desc="": steps.append(step))
    report = {row["#"]: row for row in result.report.to_dict("records")}
    assert [report[str(n)]["result"] for n in range(1, 8)] == [
        "created",
        "refused",
        "refused",
        "refused",
        "refused",
        "refused",
        "created",
    ]
    assert "Name is required" in report["2"]["detail"]
    assert "gpt-0" in report["3"]["detail"]
    assert f"{INSTRUCTIONS_MAX:,}" in report["4"]["detail"]
    assert "not an assistant object" in report["5"]["detail"]
    assert "must be text" in report["6"]["detail"]
    assert "Created 2 of 7" in result.notice and "Refused 5" in result.notice
    assert steps == [(n, 7) for n in range(7)]
    listed = await tab.list_assistants(studio_ctx, "")
    assert sorted(listed.table["Name"]) == ["Good one", "Good two"]


async def test_importing_the_same_file_twice_adds_nothing_new(studio_ctx, tmp_path):
    file = tmp_path / "two.json"
    file.write_text(json.dumps([{"name": "Twin", "model": "gpt-5"}, {"name": "Twin", "model": "gpt-5"}]))
    first = await tab.import_assistants(studio_ctx, str(file))
    assert list(first.report["result"]) == ["created", "skipped"]
    again = await tab.import_assistants(studio_ctx, str(file))
    assert list(again.report["result"]) == ["skipped", "skipped"]
    assert again.notice == "Created 0 of 2 assistants. Skipped 2 identical to ones you already have."
    assert list((await tab.list_assistants(studio_ctx, "")).table["Name"]) == ["Twin"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something/else", "assistants": []}', "something/else"),
        ('{"assistants": 3}', "Expected a list of assistants"),
        ("[]", "holds no assistants"),
    ],
)
async def test_import_refuses_unreadable_files(studio_ctx, tmp_path, content, expected):
    file = tmp_path / "bad.json"
    file.write_text(content, encoding="utf-8")
    result = await tab.import_assistants(studio_ctx, str(file))
    assert expected in result.notice
    assert (await tab.list_assistants(studio_ctx, "")).table.empty


async def test_import_without_a_file(studio_ctx):
    assert "Choose a .json file" in (await tab.import_assistants(studio_ctx, None)).notice


async def test_demo_refuses_every_change(studio_ctx, demo_ctx, tmp_path):
    existing = await _create(studio_ctx)
    created = await tab.create_assistant(demo_ctx, "Nope", "gpt-5", "", "")
    updated = await tab.update_assistant(demo_ctx, existing, "Changed", "gpt-5", "", "")
    deleted = await tab.delete_assistant(demo_ctx, existing)
    file = tmp_path / "one.json"
    file.write_text(json.dumps([{"name": "Imported", "model": "gpt-5"}]), encoding="utf-8")
    imported = await tab.import_assistants(demo_ctx, str(file))
    for notice in (created.notice, updated.notice, deleted.notice, imported.notice):
        assert "read-only demo" in notice
    listed = await tab.list_assistants(demo_ctx, "")
    assert list(listed.table["Name"]) == ["Tutor"]


def test_model_labels_carry_the_price():
    from backend.schemas import ModelInfo

    choices = aio.model_choices(
        [ModelInfo(slug="gpt-5-nano", token_cost=1), ModelInfo(slug="gpt-5", token_cost=2)]
    )
    assert choices == [("gpt-5-nano · 1 token/request", "gpt-5-nano"), ("gpt-5 · 2 tokens/request", "gpt-5")]


def test_humanize_time():
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    ago = {timedelta(seconds=5): "just now", timedelta(minutes=1): "1 minute ago", timedelta(hours=3): "3 hours ago",
           timedelta(hours=30): "yesterday", timedelta(days=4): "4 days ago", timedelta(days=40): "29 Jan 2025"}  # fmt: skip
    for delta, text in ago.items():
        assert aio.humanize_time((now - delta).isoformat().replace("+00:00", "Z"), now) == text
    assert aio.humanize_time(None) == "" and aio.humanize_time("not a time") == "not a time"


# --- Through the launched studio ----------------------------------------------------------------------


def test_flows_through_the_launched_studio(launched_studio, tmp_path):
    client = Client(launched_studio, verbose=False, download_files=str(tmp_path))
    created = client.predict("Tutor", "gpt-5-nano", "Teach kindly.", "A tutor", api_name="/create_assistant")
    notice, *errors, assistant_id = created
    assert notice == "Created “Tutor”." and errors == ["", "", "", ""] and assistant_id.startswith("asst_")
    table, _ = client.predict("", api_name="/list_assistants")
    assert [row[0] for row in table["data"]] == ["Tutor"]

    invalid = client.predict("", "gpt-5-nano", "", "", api_name="/create_assistant")
    assert "Name is required" in invalid[1] and invalid[2] == ""

    saved = client.predict(
        assistant_id, "Tutor 2", "gpt-5", "Teach.", "Renamed", api_name="/update_assistant"
    )
    assert saved[0] == "Saved “Tutor 2”. Recorded as version 2."
    form = client.predict(assistant_id, api_name="/get_assistant")
    assert form[:5] == (assistant_id, "Tutor 2", "gpt-5", "Teach.", "Renamed")

    exported, export_notice = client.predict("all", "", api_name="/export_assistants")
    assert export_notice.startswith("Exported 1 assistant")
    deleted = client.predict(assistant_id, api_name="/delete_assistant")
    assert deleted[-1].startswith("Deleted “Tutor 2”.")
    assert client.predict("", api_name="/list_assistants")[1] == aio.EMPTY_TEXT

    report, summary = client.predict(handle_file(exported), api_name="/import_assistants")
    assert summary == "Created 1 of 1 assistants." and report["data"][0][2] == "created"
    table, _ = client.predict("", api_name="/list_assistants")
    assert [row[:3] for row in table["data"]] == [["Tutor 2", "gpt-5", "Renamed"]]


def test_demo_studio_refuses_changes_through_the_api(launched_demo_studio):
    client = Client(launched_demo_studio, verbose=False)
    created = client.predict("Sneaky", "gpt-5-nano", "", "", api_name="/create_assistant")
    assert "read-only demo" in created[0]
    assert client.predict("", api_name="/list_assistants")[1] == aio.EMPTY_TEXT
