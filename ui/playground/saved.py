"""Conversations kept in the browser (gr.BrowserState): read once per page, written after each answer.

A conversation held with another server or key (another studio, or the same one started with another key)
is listed but not continued until the person chooses to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.conversation import ChatParameters
from studio.saved_chats import SavedChat, SavedChats
from ui.playground.session import PlaygroundSession

OTHER_SERVER = (
    "This conversation was held with another server or API key. Press “Continue it here” to send its "
    "next messages to this one."
)


@dataclass
class Reopened:
    """A saved conversation brought back into the chat, with what the Playground showed around it."""

    saved: SavedChat | None
    notice: str = ""
    needs_confirmation: bool = False


def load(session: PlaygroundSession, document: Any, fingerprint: str) -> Reopened:
    """Read the browser's copy once per page; an empty chat takes back the newest conversation held with
    this server and key. The page reads its storage after the load event may have fired, so this runs on
    the load event and on the copy's first change, whichever brings the copy."""
    if session.saved_loaded or document is None:  # None: the browser has not read its storage yet
        return Reopened(None)
    session.saved, notice = SavedChats.load(document)
    session.saved_loaded = True
    if session.chat.turns:
        return Reopened(None, notice)
    newest = next((c for c in session.saved.chats if c.chat.turns and c.server == fingerprint), None)
    if newest is not None:
        session.chat = newest.chat
        session.use_values(newest.chat.variables)
    return Reopened(newest, notice)


def keep(
    session: PlaygroundSession, fingerprint: str, instructions: str, params: ChatParameters
) -> dict | None:
    """The browser's new copy with the chat kept at the top (a chat emptied by Clear or Undo leaves the
    list); None when the copy does not change."""
    if not session.chat.turns:
        return session.saved.to_document() if session.saved.remove(session.chat.id) else None
    session.saved.keep(SavedChat(session.chat, fingerprint, instructions, params))
    return session.saved.to_document()


def reopen(session: PlaygroundSession, chat_id: str | None, fingerprint: str, *, confirmed: bool) -> Reopened:
    """Bring a saved conversation back into the chat (asking first if another server held it)."""
    saved = session.saved.find(chat_id or "")
    if saved is None:
        return Reopened(None, "Pick a conversation in the list first.")
    if saved.server != fingerprint and not confirmed:
        return Reopened(None, OTHER_SERVER, needs_confirmation=True)
    session.chat.stop()
    session.chat = saved.chat
    saved.server = fingerprint  # continued here from now on
    session.use_values(saved.chat.variables)
    return Reopened(saved)


def forget(session: PlaygroundSession, chat_id: str | None) -> tuple[dict, str]:
    """Delete a saved conversation from this browser; the new copy and a notice."""
    if not session.saved.remove(chat_id or ""):
        return session.saved.to_document(), "Pick a conversation in the list first."
    return session.saved.to_document(), "Removed from this browser's list."
