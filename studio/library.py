"""My assistants through the API, with their history in the studio's store.

Every change the studio makes to an assistant records a version (create, save, the Playground's save,
import, template, marketplace, restore, bringing a deleted one back); a change made elsewhere is noticed
when the studio reads the assistant and recorded as such. The API comes first: when the store is down the
change is still made, and the result says that its version was not recorded, and why.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.schemas import Assistant
from studio.errors import StudioError
from studio.store import StoreHandle, StoreUnavailable
from studio.store.history import DeletedAssistant, HistoryPage, Source, Version

if TYPE_CHECKING:
    from backend.client import AsyncAssistantsClient

NO_STORE = (
    "The studio has no store configured, so it keeps no history: start it with a data folder or "
    "STUDIO_DATABASE_URL."
)


@dataclass(frozen=True)
class Saved:
    """A change the API made, and the version it recorded (None when it changed nothing, or see problem)."""

    assistant: Assistant
    version: Version | None = None
    problem: str = ""  # why its version could not be recorded; the change itself was made

    def notice(self, done: str) -> str:
        """What to tell the person: what was done, the version, and the store's problem if any."""
        if self.problem:
            return f"{done} Its version was not recorded: {self.problem}"
        if self.version is not None and self.version.number > 1:  # a first version goes without saying
            return f"{done} Recorded as version {self.version.number}."
        return done


class AssistantLibrary:
    """The assistants of one server, for one studio process."""

    def __init__(self, client: AsyncAssistantsClient, store: StoreHandle | None, server: str) -> None:
        self.client = client
        self.store = store
        self.server = server
        # Assistants this process is saving right now: their new state is not an outside change.
        self._saving: set[str] = set()

    # --- Changes -----------------------------------------------------------------------------------

    async def create(self, *, source: Source = "create", note: str = "", **fields: str) -> Saved:
        """Create an assistant (name, model, instructions, description) and record its first version."""
        created = await self.client.assistants.create(**fields)
        return await self._record(created, source, note)

    async def update(
        self, assistant_id: str, *, source: Source = "save", note: str = "", **fields: Any
    ) -> Saved:
        """Change the fields given; records a version unless nothing changed."""
        self._saving.add(assistant_id)
        try:
            updated = await self.client.assistants.update(assistant_id, **fields)
            return await self._record(updated, source, note)
        finally:
            self._saving.discard(assistant_id)

    async def delete(self, assistant_id: str) -> Assistant:
        """Delete it from the API; its history stays in the store, to bring it back from."""
        gone = await self.client.assistants.get(assistant_id)
        await self.client.assistants.delete(assistant_id)
        await self._quietly(lambda s: s.history.mark_deleted(self.server, assistant_id))
        return gone

    async def restore(self, assistant_id: str, number: int, note: str = "") -> Saved:
        """Save version `number` back to the API as a new version (history is never rewritten)."""
        old = await self.version(assistant_id, number)
        self._saving.add(assistant_id)
        try:
            updated = await self.client.assistants.update(assistant_id, **old.fields)
            # The API has changed now: a store that fails from here on is reported, not a failed restore.
            return await self._record(
                updated, "restore", note or f"Restored version {number}.", restored_from=number
            )
        finally:
            self._saving.discard(assistant_id)

    async def bring_back(self, deleted_id: str, note: str = "") -> Saved:
        """Create a deleted assistant again from its last version; the API gives it a new id, and its
        history goes on under that id."""
        store = self._store()
        last = await store.run(lambda s: s.history.latest(self.server, deleted_id))
        if last is None:
            raise StudioError(f"The studio has no history of {deleted_id}: there is nothing to bring back.")
        created = await self.client.assistants.create(**last.fields)
        await store.run(lambda s: s.history.link_brought_back(self.server, deleted_id, created.id))
        text = note or f"Brought back from {deleted_id}, deleted; its version {last.number}."
        return await self._record(created, "brought back", text)

    # --- Reading, noticing outside changes ------------------------------------------------------------

    async def get(self, assistant_id: str) -> Assistant:
        """The assistant as the API holds it; a change made outside the studio is recorded."""
        found = await self.client.assistants.get(assistant_id)
        await self._observe([found], complete=False)
        return found

    async def list_all(self) -> list[Assistant]:
        """Every assistant; outside changes and deletions are recorded."""
        found = await self.client.assistants.list_all()
        await self._observe(found, complete=True)
        return found

    async def history(self, assistant_id: str, page: int = 1) -> HistoryPage:
        return await self._store().run(lambda s: s.history.page(self.server, assistant_id, page))

    async def version(self, assistant_id: str, ref: str | int) -> Version:
        """A version by number or label."""
        return await self._store().run(lambda s: s.history.resolve(self.server, assistant_id, ref))

    async def latest_version(self, assistant_id: str) -> Version | None:
        return await self._store().run(lambda s: s.history.latest(self.server, assistant_id))

    async def set_label(self, assistant_id: str, label: str, number: int) -> None:
        await self._store().run(lambda s: s.history.set_label(self.server, assistant_id, label, number))

    async def remove_label(self, assistant_id: str, label: str) -> bool:
        return await self._store().run(lambda s: s.history.remove_label(self.server, assistant_id, label))

    async def deleted(self) -> list[DeletedAssistant]:
        return await self._store().run(lambda s: s.history.deleted(self.server))

    async def record_win(self, **details: Any) -> None:
        """Compare's "Prefer this answer"."""
        await self._store().run(lambda s: s.history.record_win(self.server, **details))

    # --- Inside ------------------------------------------------------------------------------------

    def _store(self) -> StoreHandle:
        if self.store is None:
            raise StoreUnavailable(NO_STORE)
        return self.store

    async def _record(
        self, assistant: Assistant, source: Source, note: str, restored_from: int | None = None
    ) -> Saved:
        try:
            version = await self._store().run(
                lambda s: s.history.record(self.server, assistant, source, note, restored_from=restored_from)
            )
        except StoreUnavailable as err:
            return Saved(assistant, None, str(err))
        return Saved(assistant, version)

    async def _observe(self, found: list[Assistant], *, complete: bool) -> None:
        if self._saving:
            found = [a for a in found if a.id not in self._saving]
            complete = False  # one being saved is missing from the list on purpose, not deleted
        await self._quietly(lambda s: s.history.observe(self.server, found, complete=complete))

    async def _quietly(self, action: Any) -> None:
        """A store write that must not fail what the person asked for: the status line tells the problem."""
        if self.store is None:
            return
        with contextlib.suppress(StoreUnavailable):
            await self.store.run(action)
