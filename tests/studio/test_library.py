"""Versions recorded through the library, against the real local server and a real store."""

from __future__ import annotations

import pytest

from backend.client import AsyncAssistantsClient
from studio.library import AssistantLibrary
from studio.store import StoreHandle
from studio.store.database import StoreUnavailable

pytestmark = pytest.mark.anyio


async def sources(library: AssistantLibrary, assistant_id: str) -> list[tuple[int, str]]:
    page = await library.history(assistant_id)
    return [(v.number, v.source) for v in reversed(page.versions)]


async def test_every_save_path_records_its_source(library):
    created = await library.create(name="Tutor", model="gpt-5-nano", instructions="Teach.")
    assert created.version is not None and created.version.number == 1 and created.problem == ""
    tutor = created.assistant.id
    await library.update(tutor, instructions="Teach kindly.", note="kinder")
    await library.update(tutor, source="playground", instructions="Teach kindly, briefly.")
    unchanged = await library.update(tutor, instructions="Teach kindly, briefly.")
    assert unchanged.version is None  # nothing changed, nothing recorded
    restored = await library.restore(tutor, 1)
    assert restored.version is not None and restored.version.restored_from == 1
    assert restored.assistant.instructions == "Teach."  # saved back to the API
    for source in ("import", "template", "marketplace"):
        other = await library.create(source=source, name=source, model="gpt-5")
        assert await sources(library, other.assistant.id) == [(1, source)]
    assert await sources(library, tutor) == [(1, "create"), (2, "save"), (3, "playground"), (4, "restore")]
    assert (await library.version(tutor, 2)).note == "kinder"


async def test_changes_made_by_another_client_are_recorded_when_the_studio_reads(library, local_server):
    made = await library.create(name="Poet", model="gpt-5", instructions="Rhyme.")
    async with AsyncAssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as script:
        await script.assistants.update(made.assistant.id, instructions="Rhyme in French.")
        stranger = await script.assistants.create(name="Made by a script", model="gpt-5")
    seen = await library.get(made.assistant.id)
    assert seen.instructions == "Rhyme in French."
    assert await sources(library, made.assistant.id) == [(1, "create"), (2, "outside")]
    await library.list_all()  # the listing notices the stranger, seen for the first time
    assert await sources(library, stranger.id) == [(1, "outside")]


async def test_deleting_keeps_the_history_and_bringing_back_continues_it(library):
    made = await library.create(name="Chef", model="gpt-5", instructions="Cook.")
    await library.update(made.assistant.id, instructions="Cook well.")
    await library.delete(made.assistant.id)
    gone = await library.deleted()
    assert [d.assistant_id for d in gone] == [made.assistant.id]
    back = await library.bring_back(made.assistant.id)
    assert back.assistant.id != made.assistant.id and back.assistant.instructions == "Cook well."
    assert await sources(library, back.assistant.id) == [(1, "create"), (2, "save"), (3, "brought back")]
    assert await library.deleted() == []


async def test_with_the_store_down_saves_still_work_and_say_what_was_not_recorded(local_server, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    store = StoreHandle(f"sqlite:///{blocked / 'workbench.db'}", retry_seconds=0)
    async with AsyncAssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as client:
        library = AssistantLibrary(client, store, "local:test")
        saved = await library.create(name="Still works", model="gpt-5")
        assert saved.assistant.id.startswith("asst_") and saved.version is None
        assert "store" in saved.problem and "everything else works" in saved.problem
        assert "Its version was not recorded" in saved.notice("Created.")
        assert [a.name for a in await library.list_all()] == ["Still works"]  # reading needs no store


async def test_two_tabs_saving_at_once_both_get_versions(library):
    import asyncio

    made = await library.create(name="Twin", model="gpt-5", instructions="v1")
    first, second = await asyncio.gather(
        library.update(made.assistant.id, instructions="from tab A"),
        library.update(made.assistant.id, instructions="from tab B"),
    )
    numbers = sorted(v.number for v in (first.version, second.version) if v is not None)
    assert numbers == [2, 3], (first, second)


class _StoreFailingAfter:
    """The store, failing from its `calls`-th use on: a store that goes down in the middle of a restore,
    between reading the version and recording it, cannot be timed otherwise."""

    def __init__(self, store: StoreHandle, calls: int) -> None:
        self.store, self.left = store, calls

    async def run(self, action):
        self.left -= 1
        if self.left < 0:
            raise StoreUnavailable("The studio's store stopped answering. Check it; everything else works.")
        return await self.store.run(action)


async def test_a_restore_whose_store_fails_after_the_api_changed_says_it_was_restored(library):
    created = await library.create(name="Tutor", model="gpt-5-nano", instructions="Teach.")
    tutor = created.assistant.id
    await library.update(tutor, instructions="Teach kindly.")
    flaky = AssistantLibrary(library.client, _StoreFailingAfter(library.store, 1), library.server)
    restored = await flaky.restore(tutor, 1)
    assert restored.assistant.instructions == "Teach."
    assert (await library.client.assistants.get(tutor)).instructions == "Teach."
    assert restored.notice("Restored version 1.").startswith(
        "Restored version 1. Its version was not recorded"
    )
