"""Conversations kept in the browser, so a reload or a closed tab brings them back.

They live in the browser only (never on the server), as a JSON document with a format and a version. The
document never holds the API key: a conversation carries a fingerprint of the server and key it was held
with (a one-way digest), so that it is not continued against another server or key unless the person
chooses to. A copy that is corrupt, or from another format, is dropped with a notice.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as SchemaError

from studio.conversation import ChatParameters, ChatSession

FORMAT = "assistant-studio/saved-chats"
VERSION = 1
MAX_SAVED = 10
MAX_BYTES = 2_000_000  # browsers give a site about 5 MB; leave room for everything else
DROPPED = "Your saved conversations in this browser could not be read ({why}) and were dropped."

_CHAT = TypeAdapter(ChatSession)
_PARAMS = TypeAdapter(ChatParameters)


SECRET_FILE = "browser_secret"


def browser_secret(data_dir: Path) -> str:
    """The key that encrypts conversations kept in browsers: made once (readable by its owner only) and
    kept, so a restarted studio can still read what browsers kept."""
    path = Path(data_dir).expanduser() / SECRET_FILE
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError:
        secret = ""
    if secret:
        return secret
    secret = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written whole under another name, then linked into place, which fails if the file exists: of
        # several processes starting at once on one data folder, the first one's secret is everyone's.
        draft = path.with_name(f".{SECRET_FILE}.{secrets.token_hex(8)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secret + "\n")
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
        return path.read_text(encoding="utf-8").strip() or secret
    except OSError:  # a read-only disk: conversations are kept until the studio restarts
        return secret


def fingerprint(server_key: str, api_key: str | None) -> str:
    """Which server and key a conversation was held with: a digest that cannot give the key back."""
    digest = hashlib.sha256(f"{server_key}\n{api_key or ''}".encode())
    return digest.hexdigest()[:16]


@dataclass
class SavedChat:
    """One conversation as the browser keeps it, with what the Playground showed around it."""

    chat: ChatSession
    server: str  # the fingerprint of the server and key
    instructions: str = ""
    parameters: ChatParameters = field(default_factory=ChatParameters)
    saved_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def to_record(self) -> dict[str, Any]:
        chat = _CHAT.dump_python(self.chat, mode="json")
        for turn in chat["turns"]:  # an answer cut by the reload is kept as stopped
            if turn["status"] in ("pending", "streaming"):
                turn["status"] = "stopped"
            turn["notice"] = ""
        return {
            "chat": chat,
            "server": self.server,
            "instructions": self.instructions,
            "parameters": _PARAMS.dump_python(self.parameters, mode="json"),
            "saved_ms": self.saved_ms,
        }

    @classmethod
    def from_record(cls, record: Any) -> SavedChat:
        if not isinstance(record, dict):
            raise ValueError("not a conversation")
        return cls(
            chat=_CHAT.validate_python(record["chat"]),
            server=str(record["server"]),
            instructions=str(record.get("instructions") or ""),
            parameters=_PARAMS.validate_python(record.get("parameters") or {}),
            saved_ms=int(record.get("saved_ms") or 0),
        )


@dataclass
class SavedChats:
    """The browser's recent conversations, newest first."""

    chats: list[SavedChat] = field(default_factory=list)

    @classmethod
    def load(cls, document: Any) -> tuple[SavedChats, str]:
        """The conversations of the browser's copy, and a notice if some or all had to be dropped."""
        if document in (None, "", {}, []):
            return cls(), ""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            return cls(), DROPPED.format(why="not the studio's format")
        if document.get("version") != VERSION:
            return cls(), DROPPED.format(
                why=f"saved by another version of the studio ({document.get('version')})"
            )
        chats, bad = [], 0
        for record in document.get("chats") or []:
            try:
                chats.append(SavedChat.from_record(record))
            except (SchemaError, ValueError, KeyError, TypeError):
                bad += 1
        notice = (
            f"{bad} saved conversation{'s' if bad != 1 else ''} could not be read and {'were' if bad != 1 else 'was'} dropped."
            if bad
            else ""
        )
        return cls(chats[:MAX_SAVED]), notice

    def to_document(self) -> dict[str, Any]:
        """The JSON the browser keeps; the oldest conversations go first if it would outgrow MAX_BYTES."""
        records = [chat.to_record() for chat in self.chats]
        while len(records) > 1 and len(json.dumps(records, ensure_ascii=False).encode()) > MAX_BYTES:
            records.pop()
        self.chats = self.chats[: len(records)]
        return {"format": FORMAT, "version": VERSION, "chats": records}

    def keep(self, saved: SavedChat) -> None:
        """Keep (or update) a conversation at the top; the oldest go beyond MAX_SAVED."""
        self.chats = [saved, *(c for c in self.chats if c.chat.id != saved.chat.id)][:MAX_SAVED]

    def find(self, chat_id: str) -> SavedChat | None:
        return next((c for c in self.chats if c.chat.id == chat_id), None)

    def remove(self, chat_id: str) -> bool:
        before = len(self.chats)
        self.chats = [c for c in self.chats if c.chat.id != chat_id]
        return len(self.chats) != before

    def choices(self) -> list[tuple[str, str]]:
        """(label, id) for the list of recent conversations."""
        return [
            (f"{c.chat.title} · {len(c.chat.turns)} turns", c.chat.id) for c in self.chats if c.chat.turns
        ]
