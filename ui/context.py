"""What every tab is given: the API client and how the studio was launched. Nothing per-user lives here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from backend.client import AsyncAssistantsClient

PLAYGROUND_TAB_ID = "playground"
ASSISTANTS_TAB_ID = "assistants"
MARKETPLACE_TAB_ID = "marketplace"
TEMPLATES_TAB_ID = "templates"


@dataclass(frozen=True)
class StudioContext:
    client: AsyncAssistantsClient
    demo: bool = False  # read-only: visitors can chat and browse, not create, change or delete
    server_label: str = "Local server"


class DemoModeError(PermissionError):
    """Raised by handlers that change data when the studio runs in demo mode."""

    def __str__(self) -> str:
        return "This is a read-only demo: creating, changing and deleting assistants is turned off."


def require_editable(ctx: StudioContext) -> None:
    """Refuse a change in demo mode: the UI hides the buttons, and this guards the API endpoints too."""
    if ctx.demo:
        raise DemoModeError()


def open_request(
    kind: Literal["mine", "market", "blank"],
    *,
    assistant_id: str | None = None,
    item: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What another tab sets on the Playground's `open_request` state to open an assistant there.

    kind "mine": one of my assistants, by id. kind "market": a marketplace item, passed whole (a dump of
    backend.schemas.MarketplaceItem), tried without copying. kind "blank": no assistant. The nonce makes
    every request a change, so opening the same assistant twice still fires.
    """
    return {"kind": kind, "assistant_id": assistant_id, "item": item, "nonce": uuid.uuid4().hex}
