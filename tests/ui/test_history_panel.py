"""My Assistants' History panel: its handlers against the real local server and store, then through the
launched studio with gradio_client."""

from __future__ import annotations

import pytest
from gradio_client import Client

from ui import assistants_tab as tab
from ui import history_panel as hp

pytestmark = pytest.mark.anyio


async def _tutor(ctx) -> str:
    made = await tab.create_assistant(ctx, "Tutor", "gpt-5-nano", "Teach kindly.", "", "first draft")
    await tab.update_assistant(
        ctx, made.assistant_id, "Tutor", "gpt-5-nano", "Teach kindly and briefly.", "", "v2"
    )
    await tab.update_assistant(ctx, made.assistant_id, "Tutor", "gpt-5", "Teach briefly.", "", "")
    return made.assistant_id


async def test_the_history_lists_versions_newest_first_and_diffs_the_last_two(studio_ctx):
    tutor = await _tutor(studio_ctx)
    view = await hp.load_history(studio_ctx, tutor)
    assert list(view.table["Version"]) == ["v3", "v2", "v1"]
    assert list(view.table["Source"]) == [
        "saved in My Assistants",
        "saved in My Assistants",
        "created in the studio",
    ]
    assert (
        view.table["Note"][1] == "v2"
        and view.table["Note"][2] == "first draft"
        and "3 versions" in view.summary
        and (view.old, view.new) == (2, 3)
    )
    html = await hp.show_diff(studio_ctx, tutor, 2, 3)
    assert (
        "<del>kindly and </del>" in html and "<td><del>gpt-5-nano</del></td><td><ins>gpt-5</ins></td>" in html
    )
    same = await hp.show_diff(studio_ctx, tutor, 3, 3)
    assert "the same" in same
    assert "no version 9" in await hp.show_diff(studio_ctx, tutor, 1, 9)


async def test_the_diff_shows_text_as_written_never_as_markup(studio_ctx):
    made = await tab.create_assistant(studio_ctx, "Html", "gpt-5", "Use <b>bold</b>.", "")
    await tab.update_assistant(
        studio_ctx, made.assistant_id, "Html", "gpt-5", "Use <img src=x onerror=alert(1)>.", ""
    )
    html = await hp.show_diff(studio_ctx, made.assistant_id, 1, 2)
    assert "<img" not in html and "<b>" not in html
    assert "<ins>img src=x onerror=alert(1)</ins>&gt;" in html and "&lt;<del>b&gt;bold&lt;/b</del>" in html


async def test_labels_and_restore(studio_ctx):
    tutor = await _tutor(studio_ctx)
    assert "points at version 1" in await hp.set_label(studio_ctx, tutor, "production", 1)
    assert "cannot be a label" in await hp.set_label(studio_ctx, tutor, "not ok", 1)
    view = await hp.load_history(studio_ctx, tutor)
    assert view.table["Labels"][2] == "production" and "production: v1" in view.summary
    restored = await hp.restore_version(studio_ctx, tutor, 1, "back to the kind one")
    assert restored.startswith("Restored version 1") and "version 4" in restored
    assert (await studio_ctx.client.assistants.get(tutor)).instructions == "Teach kindly."
    assert "holds version 1 already" in await hp.restore_version(studio_ctx, tutor, 1)
    assert "Removed the label" in await hp.remove_label(studio_ctx, tutor, "production")


async def test_a_deleted_assistant_is_listed_and_brought_back(studio_ctx):
    tutor = await _tutor(studio_ctx)
    await tab.delete_assistant(studio_ctx, tutor)
    table, notice = await hp.list_deleted(studio_ctx)
    assert list(table["ID"]) == [tutor] and list(table["Versions"]) == ["3"] and notice == ""
    done, new_id = await hp.bring_back(studio_ctx, tutor)
    assert "Brought back “Tutor”" in done and new_id != tutor
    view = await hp.load_history(studio_ctx, new_id)
    assert list(view.table["Version"]) == ["v4", "v3", "v2", "v1"]
    assert (await hp.list_deleted(studio_ctx))[0].empty


async def test_the_demo_refuses_history_changes(studio_ctx, demo_ctx):
    tutor = await _tutor(studio_ctx)
    for refused in (
        await hp.restore_version(demo_ctx, tutor, 1),
        await hp.set_label(demo_ctx, tutor, "production", 1),
        (await hp.bring_back(demo_ctx, tutor))[0],
    ):
        assert "read-only demo" in refused


def test_history_through_the_launched_studio(launched_studio):
    client = Client(launched_studio, verbose=False)
    *_, tutor = client.predict("Tutor", "gpt-5-nano", "One.", "", api_name="/create_assistant")
    client.predict(tutor, "Tutor", "gpt-5-nano", "Two.", "", "second", api_name="/update_assistant")
    table, summary, page, old, new = client.predict(tutor, 1, api_name="/history")
    assert [row[0] for row in table["data"]] == ["v2", "v1"] and (old, new) == (1, 2)
    assert "<del>One</del><ins>Two</ins>" in client.predict(tutor, 1, 2, api_name="/history_diff")
    assert "points at version 2" in client.predict(tutor, "production", 2, api_name="/history_set_label")
    assert client.predict(tutor, 1, "", api_name="/history_restore").startswith("Restored version 1")
