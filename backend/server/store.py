"""SQLite storage of the local server: API keys, assistants, generations and the account's balance.

One connection guarded by a lock; WAL with synchronous=FULL, so a write is on disk once it is acknowledged.
The database and its -wal/-shm files are readable by their owner only: they hold every generation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from backend.schemas import utc_now

log = logging.getLogger(__name__)

KEY_FILE = "api_key"
DB_FILE = "studio.db"
_KEY_ALPHABET = string.ascii_letters + string.digits
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    expires_at TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assistants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    id TEXT PRIMARY KEY,
    assistant_id TEXT,
    model TEXT NOT NULL,
    engine TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    tokens_used INTEGER NOT NULL DEFAULT 0,
    usage TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token_balance INTEGER NOT NULL,
    plan TEXT NOT NULL,
    plan_expires_at TEXT
);
"""

_ASSISTANT_FIELDS = ("name", "model", "instructions", "description")
KeyCheck = Literal["ok", "expired", "unknown"]


def new_api_key() -> str:
    """A key in the service's format: "nb_" and 45 letters or digits, 48 characters in all."""
    return "nb_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(45))


def new_id(prefix: str, length: int = 12) -> str:
    """A random id such as asst_01j9x2abc123."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _hash_key(key: str) -> str:
    # Keys are long and random, so a plain digest is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _parse_time(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_UPSERT_GENERATION = (
    "INSERT OR REPLACE INTO generations "
    "(id, assistant_id, model, engine, content, tokens_used, usage, status, created_at) "
    "VALUES (:id, :assistant_id, :model, :engine, :content, :tokens_used, :usage, :status, :created_at)"
)


def _private(path: Path) -> None:
    """Create `path` readable by its owner only, or make it so if it exists (SQLite gives its -wal and -shm
    files the database file's mode, so a private database keeps them private too)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _generation_row(generation: dict[str, Any], status: str) -> dict[str, Any]:
    row = {"assistant_id": None, "content": "", "usage": None, **generation, "status": status}
    row["usage"] = json.dumps(row["usage"]) if row["usage"] is not None else None
    return row


class Store:
    """Everything the local server keeps, in <data_dir>/studio.db."""

    def __init__(self, data_dir: Path, *, initial_balance: int, plan: str, busy_timeout: float = 5.0) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self.closed = False
        #: Refunds the database refused (generation id -> status), retried before the balance is next
        #: read or charged; if the process ends first, their rows are still 'pending' for the next start.
        self._owed: dict[str, str] = {}
        path = self.data_dir / DB_FILE
        for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm"):
            if name == DB_FILE or (self.data_dir / name).exists():
                _private(self.data_dir / name)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._db.executescript(_SCHEMA)
            # The balance is data and survives restarts; the plan follows the settings of this start.
            self._db.execute(
                "INSERT INTO account (id, token_balance, plan) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET plan = excluded.plan",
                (initial_balance, plan),
            )
            rows = self._db.execute("SELECT key_hash, expires_at FROM api_keys").fetchall()
        self._keys: dict[str, datetime | None] = {r["key_hash"]: _parse_time(r["expires_at"]) for r in rows}
        self.recovered = self._refund_unsettled()

    def close(self) -> None:
        self._settle_owed()  # a last try; what is still owed stays 'pending' for the next start
        with self._lock:
            self._db.close()
            self.closed = True

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed (and synced) on leaving the block, rolled back on an error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _write(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        """Run one statement in its own transaction; it is committed (and synced) when this returns."""
        with self._transaction() as db:
            return db.execute(sql, params)

    def _read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- API keys ---------------------------------------------------------------------------------

    def add_key(self, key: str, expires_at: datetime | str | None = None) -> None:
        """Accept `key` from now on, until `expires_at` (UTC) if given."""
        expiry = _parse_time(expires_at)
        text = expiry.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if expiry else None
        digest = _hash_key(key)
        self._write(
            "INSERT INTO api_keys (key_hash, expires_at, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key_hash) DO UPDATE SET expires_at = excluded.expires_at",
            (digest, text, utc_now()),
        )
        self._keys = {**self._keys, digest: expiry}

    def check_key(self, key: str | None) -> KeyCheck:
        """Whether `key` is one of ours and still valid; every stored key is compared, in constant time."""
        if not key:
            return "unknown"
        digest = _hash_key(key)
        match: datetime | None | bool = False
        for stored, expiry in self._keys.items():
            if hmac.compare_digest(stored, digest):
                match = expiry
        if match is False:
            return "unknown"
        if isinstance(match, datetime) and match <= datetime.now(UTC):
            return "expired"
        return "ok"

    def default_key(self) -> str:
        """The key in <data_dir>/api_key, made (mode 600) on first start and reused afterwards."""
        path = self.data_dir / KEY_FILE
        try:
            key = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            key = ""
        if key:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
        else:
            key = new_api_key()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            path.chmod(0o600)
        if self.check_key(key) != "ok":
            self.add_key(key)
        return key

    # --- Assistants -------------------------------------------------------------------------------

    def create_assistant(self, fields: dict[str, str]) -> dict[str, Any]:
        """Store a new assistant and return it."""
        now = utc_now()
        row = {"id": new_id("asst_"), **{f: fields.get(f, "") for f in _ASSISTANT_FIELDS}}
        row.update(created_at=now, updated_at=now)
        self._write(
            "INSERT INTO assistants (id, name, model, instructions, description, created_at, updated_at) "
            "VALUES (:id, :name, :model, :instructions, :description, :created_at, :updated_at)",
            row,  # type: ignore[arg-type]
        )
        return row

    def get_assistant(self, assistant_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM assistants WHERE id = ?", (assistant_id,))
        return dict(rows[0]) if rows else None

    def list_assistants(self, *, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of assistants, newest first, and how many there are in all."""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM assistants").fetchone()[0]
            rows = self._db.execute(
                "SELECT * FROM assistants ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (limit, (page - 1) * limit),
            ).fetchall()
        return [dict(r) for r in rows], total

    def update_assistant(self, assistant_id: str, changes: dict[str, str]) -> dict[str, Any] | None:
        """Apply `changes` (any of the four fields); None when there is no such assistant."""
        changes = {k: v for k, v in changes.items() if k in _ASSISTANT_FIELDS}
        # One transaction: the answer is the row as this update left it, even when another lands just after.
        with self._transaction() as db:
            if changes:
                assignments = ", ".join(f"{name} = ?" for name in changes)
                db.execute(
                    f"UPDATE assistants SET {assignments}, updated_at = ? WHERE id = ?",
                    (*changes.values(), utc_now(), assistant_id),
                )
            rows = db.execute("SELECT * FROM assistants WHERE id = ?", (assistant_id,)).fetchall()
        return dict(rows[0]) if rows else None

    def delete_assistant(self, assistant_id: str) -> bool:
        return self._write("DELETE FROM assistants WHERE id = ?", (assistant_id,)).rowcount > 0

    # --- Account ----------------------------------------------------------------------------------

    def balance(self) -> dict[str, Any]:
        self._settle_owed()
        row = self._read("SELECT token_balance, plan, plan_expires_at FROM account WHERE id = 1")[0]
        return dict(row)

    def reserve(self, cost: int, generation: dict[str, Any] | None = None) -> int | None:
        """Take `cost` from the balance if it is there; the new balance, or None when it is too low.

        With `generation`, its row is kept as 'pending' in the same transaction, holding the cost: if the
        process dies before the generation is settled, the next start gives the cost back.
        """
        self._settle_owed()
        with self._transaction() as db:
            taken = db.execute(
                "UPDATE account SET token_balance = token_balance - ? WHERE id = 1 AND token_balance >= ?",
                (cost, cost),
            ).rowcount
            if taken == 1 and generation is not None:
                db.execute(
                    _UPSERT_GENERATION, _generation_row({**generation, "tokens_used": cost}, "pending")
                )
            left = db.execute("SELECT token_balance FROM account WHERE id = 1").fetchone()[0]
        return left if taken == 1 else None

    def refund(self, generation_id: str, status: str = "failed") -> int | None:
        """Give back what the 'pending' generation holds and mark it `status`; the new balance.

        It reads nothing of the generation but its id and its held cost, so no content can make it fail,
        and it gives back once only, however often it is called. When the database refuses the write, the
        refund is kept owed and retried before the balance is next read or charged; None then.
        """
        self._owed[generation_id] = status
        return self._settle_owed()

    def _settle_owed(self) -> int | None:
        """Make the owed refunds; the balance after the last, or None while the database refuses them."""
        left = None
        for generation_id, status in list(self._owed.items()):
            try:
                with self._transaction() as db:
                    held = db.execute(
                        "SELECT tokens_used FROM generations WHERE id = ? AND status = 'pending'",
                        (generation_id,),
                    ).fetchone()
                    if held is not None:
                        db.execute(
                            "UPDATE account SET token_balance = token_balance + ? WHERE id = 1", (held[0],)
                        )
                        db.execute(
                            "UPDATE generations SET status = ?, tokens_used = 0 WHERE id = ?",
                            (status, generation_id),
                        )
                    left = db.execute("SELECT token_balance FROM account WHERE id = 1").fetchone()[0]
            except sqlite3.Error:
                log.warning("Could not give back generation %s's cost yet; retrying later.", generation_id)
                return None
            self._owed.pop(generation_id, None)
        return left

    def keep_partial(self, generation_id: str, content: str) -> None:
        """Keep what a failed or cancelled generation said before it ended; best effort, after its refund."""
        try:
            self._write("UPDATE generations SET content = ? WHERE id = ?", (content, generation_id))
        except (sqlite3.Error, UnicodeError):
            log.warning("Could not keep the partial answer of generation %s.", generation_id)

    # --- Generations ------------------------------------------------------------------------------

    def complete(self, generation: dict[str, Any]) -> int:
        """Keep a finished generation: the cost reserved for it stays charged. The balance after it."""
        with self._transaction() as db:
            db.execute(_UPSERT_GENERATION, _generation_row(generation, "completed"))
            return db.execute("SELECT token_balance FROM account WHERE id = 1").fetchone()[0]

    def _refund_unsettled(self) -> int:
        """Give back what generations still 'pending' hold (the last run stopped mid-answer); how many."""
        with self._transaction() as db:
            held = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(tokens_used), 0) FROM generations WHERE status = 'pending'"
            ).fetchone()
            if held[0]:
                db.execute("UPDATE account SET token_balance = token_balance + ? WHERE id = 1", (held[1],))
                db.execute(
                    "UPDATE generations SET status = 'failed', tokens_used = 0 WHERE status = 'pending'"
                )
        return held[0]

    def get_generation(self, generation_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM generations WHERE id = ?", (generation_id,))
        if not rows:
            return None
        row = dict(rows[0])
        row["usage"] = json.loads(row["usage"]) if row["usage"] else None
        return row
