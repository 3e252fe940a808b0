"""What every tab is given: the API client, the studio's store and how the studio was launched.
Nothing per-user lives here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from backend.client import AsyncAssistantsClient
from studio.errors import ReadOnlyError
from studio.library import AssistantLibrary
from studio.store import GenerationRecord, StoreHandle

PLAYGROUND_TAB_ID = "playground"
ASSISTANTS_TAB_ID = "assistants"
MARKETPLACE_TAB_ID = "marketplace"
TEMPLATES_TAB_ID = "templates"


@dataclass(frozen=True)
class StudioContext:
    client: AsyncAssistantsClient
    demo: bool = False  # read-only: visitors can chat and browse, not create, change or delete
    server_label: str = "Local server"
    store: StoreHandle | None = None  # the studio's own store; None: no history is kept
    server_key: str = ""  # the server the store files records under (studio.servers.server_key)
    browser_secret: str = ""  # encrypts the conversations kept in browsers; "": one made per start
    browser_fingerprint: str = ""  # which server and key a kept conversation was held with (a digest)

    @cached_property
    def library(self) -> AssistantLibrary:
        """My assistants with their history; one per studio, shared by every session."""
        return AssistantLibrary(self.client, self.store, self.server_key)

    def log_generation(self, record: GenerationRecord) -> None:
        """Write one generate call to the store's log (if there is a store); never waits on it."""
        if self.store is not None:
            self.store.log(record)


def require_editable(ctx: StudioContext) -> None:
    """Refuse a change in demo mode: the UI hides the buttons, and this guards the API endpoints too."""
    if ctx.demo:
        raise ReadOnlyError()


def open_request(
    kind: Literal["mine", "market", "template", "blank"],
    *,
    assistant_id: str | None = None,
    item: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What another tab sets on the Playground's `open_request` state to open an assistant there.

    kind "mine": one of my assistants, by id. kind "market" (or "template"): a marketplace item (or a
    template as one), passed whole (a dump of backend.schemas.MarketplaceItem), tried without copying.
    kind "blank": no assistant. The nonce makes every request a change, so opening the same assistant
    twice still fires.
    """
    return {"kind": kind, "assistant_id": assistant_id, "item": item, "nonce": uuid.uuid4().hex}
