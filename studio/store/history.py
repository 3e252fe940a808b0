"""Assistants' history in the store: versions, labels, deleted assistants and Compare's wins.

A version is the whole assistant (name, model, instructions, description) with its number, time, source
and note. Numbers come from a counter on the lineage's row, taken under the write lock (SQLite's BEGIN
IMMEDIATE, PostgreSQL's row lock), so two saves at once get distinct numbers and a save that changes
nothing is seen as such even when another one has just landed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, and_, bindparam, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from studio.errors import StudioError
from studio.store.database import Database
from studio.store.schema import assistants, labels, versions, wins

FIELDS = ("name", "model", "instructions", "description")
Source = Literal[
    "create", "save", "playground", "import", "template", "marketplace", "restore", "brought back", "outside"
]
SOURCE_WORDS: dict[str, str] = {
    "create": "created in the studio",
    "save": "saved in My Assistants",
    "playground": "saved from the Playground",
    "import": "imported",
    "template": "created from a template",
    "marketplace": "added from the marketplace",
    "restore": "restored",
    "brought back": "brought back after deletion",
    "outside": "changed outside the studio",
}
FIRST_SEEN_NOTE = "First seen by the studio: made before it kept history, or by another client."
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PAGE_SIZE = 50


# The last version of a lineage: read on every save, so built once.
_LATEST = (
    select(versions)
    .where(versions.c.server == bindparam("server"), versions.c.lineage == bindparam("lineage"))
    .order_by(versions.c.number.desc())
    .limit(1)
)


class _Unchanged(Exception):
    """Raised inside a write to roll it back: the save changed nothing."""


class HistoryError(StudioError):
    """A history action that cannot be done as asked; the message says why and what to do."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Version:
    """One version of an assistant, as the History panel and the Playground show it."""

    number: int
    assistant_id: str
    name: str
    model: str
    instructions: str
    description: str
    source: str
    note: str
    created_ms: int
    restored_from: int | None = None
    labels: tuple[str, ...] = ()
    wins: int = 0

    @property
    def fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


@dataclass(frozen=True)
class HistoryPage:
    """One page of an assistant's versions, newest first."""

    lineage: str
    versions: list[Version]
    total: int
    page: int
    pages: int
    labels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DeletedAssistant:
    assistant_id: str
    lineage: str
    name: str
    deleted_ms: int
    last_number: int


def _fields(assistant: Any) -> dict[str, str]:
    """The four fields of an assistant given as an object or a mapping."""
    get = (
        assistant.get
        if isinstance(assistant, dict)
        else lambda key, default="": getattr(assistant, key, default)
    )
    return {name: str(get(name, "") or "") for name in FIELDS}


def _insert(table: Any, dialect_name: str) -> Any:
    """INSERT in the dialect at hand: its ON CONFLICT clauses are the dialect's own."""
    return (postgresql if dialect_name == "postgresql" else sqlite).insert(table)


def _insert_ignore(table: Any, connection: Connection) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, in the dialect at hand."""
    return _insert(table, connection.dialect.name).on_conflict_do_nothing()


class History:
    """Reads and writes assistants' history; every method is one transaction."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._upserts: dict[str, Any] = {}

    # --- Recording ---------------------------------------------------------------------------------

    def record(
        self,
        server: str,
        assistant: Any,
        source: Source,
        note: str = "",
        *,
        restored_from: int | None = None,
    ) -> Version | None:
        """Record the assistant's current state as a new version; None when it is what the last one holds
        (except when it is brought back: a new id is worth a version of its own)."""
        assistant_id = str(getattr(assistant, "id", None) or assistant["id"])
        fields = _fields(assistant)
        try:
            with self.db.write() as db:
                lineage, number = self._bump(db, server, assistant_id, fields["name"])
                latest = self._latest(db, server, lineage)
                if latest is not None and latest.fields == fields and source != "brought back":
                    raise _Unchanged  # rolls the number back with the rest
                if latest is None and source == "outside" and not note:
                    note = FIRST_SEEN_NOTE
                return self._insert(
                    db, server, lineage, number, assistant_id, fields, source, note, restored_from
                )
        except _Unchanged:
            return None

    def observe(
        self, server: str, assistants_seen: Iterable[Any], *, complete: bool = False
    ) -> list[Version]:
        """Compare what the API holds with the last versions; record each difference as an outside change.

        `complete`: the assistants are every one the server has, so one the store knows and the list lacks
        was deleted outside the studio.
        """
        seen = {str(getattr(a, "id", None) or a["id"]): a for a in assistants_seen}
        latest = self.latest_fields(server, list(seen))
        recorded = [
            version
            for assistant_id, assistant in seen.items()
            if latest.get(assistant_id) != _fields(assistant)
            and (version := self.record(server, assistant, "outside")) is not None
        ]
        if not seen and not complete:
            return recorded
        with self.db.write() as db:
            if seen:  # seen on the server, so not deleted, whatever an earlier incomplete list suggested
                db.execute(
                    update(assistants)
                    .where(assistants.c.server == server, assistants.c.deleted_ms.is_not(None))
                    .where(assistants.c.assistant_id.in_(list(seen)))
                    .values(deleted_ms=None)
                )
            if complete:
                db.execute(
                    update(assistants)
                    .where(assistants.c.server == server, assistants.c.deleted_ms.is_(None))
                    .where(assistants.c.assistant_id.not_in(list(seen)) if seen else true())
                    .values(deleted_ms=now_ms())
                )
        return recorded

    def latest_fields(self, server: str, assistant_ids: list[str]) -> dict[str, dict[str, str]]:
        """The four fields of each assistant's last version, for those that have one."""
        if not assistant_ids:
            return {}
        newest = (
            select(versions.c.lineage, func.max(versions.c.number).label("number"))
            .where(versions.c.server == server)
            .group_by(versions.c.lineage)
            .subquery()
        )
        query = (
            select(assistants.c.assistant_id, *(versions.c[name] for name in FIELDS))
            .join(newest, and_(newest.c.lineage == assistants.c.lineage))
            .join(
                versions,
                and_(
                    versions.c.server == server,
                    versions.c.lineage == newest.c.lineage,
                    versions.c.number == newest.c.number,
                ),
            )
            .where(assistants.c.server == server)
        )
        wanted = set(assistant_ids)
        with self.db.read() as db:
            rows = db.execute(query).mappings().all()
        return {
            row["assistant_id"]: {n: row[n] for n in FIELDS} for row in rows if row["assistant_id"] in wanted
        }

    def mark_deleted(self, server: str, assistant_id: str) -> None:
        """The assistant is gone from the API; its history stays, to be brought back from."""
        with self.db.write() as db:
            db.execute(
                update(assistants)
                .where(assistants.c.server == server, assistants.c.assistant_id == assistant_id)
                .values(deleted_ms=now_ms())
            )

    def link_brought_back(self, server: str, old_id: str, new_id: str) -> str:
        """The deleted assistant `old_id` lives on as `new_id`: its history continues under the new id."""
        with self.db.write() as db:
            lineage = self._lineage(db, server, old_id)
            if lineage is None:
                raise HistoryError(f"The studio has no history of {old_id}: nothing to bring back.")
            db.execute(
                update(assistants)
                .where(assistants.c.server == server, assistants.c.assistant_id == old_id)
                .values(restored_as=new_id)
            )
            db.execute(
                _insert_ignore(assistants, db).values(
                    server=server, assistant_id=new_id, lineage=lineage, name="", first_seen_ms=now_ms()
                )
            )
        return lineage

    # --- Reading -----------------------------------------------------------------------------------

    def lineage_of(self, server: str, assistant_id: str) -> str | None:
        with self.db.read() as db:
            return self._lineage(db, server, assistant_id)

    def page(self, server: str, assistant_id: str, page: int = 1, size: int = PAGE_SIZE) -> HistoryPage:
        """One page of the assistant's versions, newest first, with their labels and wins."""
        with self.db.read() as db:
            lineage = self._lineage(db, server, assistant_id) or assistant_id
            total = db.scalar(
                select(func.count()).where(versions.c.server == server, versions.c.lineage == lineage)
            )
            pages = max(1, -(-int(total or 0) // size))
            page = min(max(1, page), pages)
            rows = db.execute(
                select(versions)
                .where(versions.c.server == server, versions.c.lineage == lineage)
                .order_by(versions.c.number.desc())
                .limit(size)
                .offset((page - 1) * size)
            ).mappings()
            named = self._labels(db, server, lineage)
            counts = self._wins(db, server, lineage)
            by_number: dict[int, list[str]] = {}
            for label, number in named.items():
                by_number.setdefault(number, []).append(label)
            found = [self._version(row, by_number, counts) for row in rows]
        return HistoryPage(lineage, found, int(total or 0), page, pages, named)

    def get(self, server: str, assistant_id: str, number: int) -> Version:
        """Version `number` of the assistant; HistoryError names the numbers there are when it is not one."""
        with self.db.read() as db:
            lineage = self._lineage(db, server, assistant_id) or assistant_id
            row = (
                db.execute(
                    select(versions).where(
                        versions.c.server == server,
                        versions.c.lineage == lineage,
                        versions.c.number == number,
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                last = self._last_number(db, server, lineage)
                raise HistoryError(
                    f"There is no version {number} of this assistant"
                    + (f": pick one from 1 to {last}." if last else ": it has no history yet.")
                )
            named = self._labels(db, server, lineage)
            by_number: dict[int, list[str]] = {}
            for label, labelled in named.items():
                by_number.setdefault(labelled, []).append(label)
            return self._version(row, by_number, self._wins(db, server, lineage))

    def latest(self, server: str, assistant_id: str) -> Version | None:
        with self.db.read() as db:
            lineage = self._lineage(db, server, assistant_id)
            return None if lineage is None else self._latest(db, server, lineage)

    def resolve(self, server: str, assistant_id: str, ref: str | int) -> Version:
        """A version by number ("3", "v3") or by label ("production")."""
        text = str(ref).strip()
        digits = text[1:] if text[:1] in ("v", "V") else text
        if digits.isdigit():
            return self.get(server, assistant_id, int(digits))
        with self.db.read() as db:
            lineage = self._lineage(db, server, assistant_id) or assistant_id
            number = self._labels(db, server, lineage).get(text)
        if number is None:
            raise HistoryError(
                f"No version of this assistant is labelled “{text}”: label one in its History first."
            )
        return self.get(server, assistant_id, number)

    def deleted(self, server: str) -> list[DeletedAssistant]:
        """Assistants deleted (in the studio or outside) and not brought back, newest deletion first."""
        with self.db.read() as db:
            rows = db.execute(
                select(assistants)
                .where(
                    assistants.c.server == server,
                    assistants.c.deleted_ms.is_not(None),
                    assistants.c.restored_as.is_(None),
                )
                .order_by(assistants.c.deleted_ms.desc())
            ).mappings()
            found = []
            for row in rows:
                found.append(
                    DeletedAssistant(
                        row["assistant_id"],
                        row["lineage"],
                        row["name"],
                        row["deleted_ms"],
                        self._last_number(db, server, row["lineage"]),
                    )
                )
        return found

    # --- Labels ------------------------------------------------------------------------------------

    def set_label(self, server: str, assistant_id: str, label: str, number: int) -> None:
        """Point `label` at version `number` (moving it from wherever it was)."""
        label = (label or "").strip()
        if not LABEL_PATTERN.match(label):
            raise HistoryError(
                f"“{label}” cannot be a label: use up to 64 letters, digits, dots, dashes or underscores, "
                "starting with a letter or digit (e.g. production, staging)."
            )
        self.get(server, assistant_id, number)  # the version must exist
        with self.db.write() as db:
            lineage = self._lineage(db, server, assistant_id) or assistant_id
            # One statement, so two people labelling at once both succeed (the last one wins).
            statement = _insert(labels, db.dialect.name).values(
                server=server, lineage=lineage, label=label, number=number, updated_ms=now_ms()
            )
            db.execute(
                statement.on_conflict_do_update(
                    index_elements=[labels.c.server, labels.c.lineage, labels.c.label],
                    set_={"number": statement.excluded.number, "updated_ms": statement.excluded.updated_ms},
                )
            )

    def remove_label(self, server: str, assistant_id: str, label: str) -> bool:
        with self.db.write() as db:
            lineage = self._lineage(db, server, assistant_id) or assistant_id
            gone = db.execute(
                labels.delete().where(
                    labels.c.server == server, labels.c.lineage == lineage, labels.c.label == label.strip()
                )
            )
        return bool(gone.rowcount)

    # --- Compare's wins ------------------------------------------------------------------------------

    def record_win(
        self,
        server: str,
        *,
        assistant_id: str | None,
        number: int | None,
        assistant_name: str,
        model: str,
        columns: int,
    ) -> None:
        """One "Prefer this answer": the version (of one of my assistants) or the assistant that won."""
        with self.db.write() as db:
            lineage = self._lineage(db, server, assistant_id) if assistant_id else None
            db.execute(
                wins.insert().values(
                    server=server,
                    lineage=lineage or assistant_id,
                    number=number,
                    assistant_name=assistant_name,
                    model=model,
                    columns=columns,
                    created_ms=now_ms(),
                )
            )

    # --- Inside a transaction ------------------------------------------------------------------------

    def _bump(self, db: Connection, server: str, assistant_id: str, name: str) -> tuple[str, int]:
        """Take the next version number, under the lineage row's lock: the assistant's row is made on first
        sight (its lineage its own id) or updated (name, not deleted), in one statement. An assistant brought
        back keeps counting on its lineage's row."""
        lineage, number = db.execute(
            self._upsert(db), {"server": server, "assistant_id": assistant_id, "name": name, "now": now_ms()}
        ).one()
        if lineage != assistant_id:
            number = db.execute(
                update(assistants)
                .where(assistants.c.server == server, assistants.c.assistant_id == lineage)
                .values(last_number=assistants.c.last_number + 1)
                .returning(assistants.c.last_number)
            ).scalar_one()
        return lineage, int(number)

    def _upsert(self, db: Connection) -> Any:
        """INSERT ... ON CONFLICT DO UPDATE ... RETURNING, built once per dialect: it is on every save."""
        name = db.dialect.name
        if name not in self._upserts:
            statement = _insert(assistants, name).values(
                server=bindparam("server"),
                assistant_id=bindparam("assistant_id"),
                lineage=bindparam("assistant_id"),
                name=bindparam("name"),
                last_number=1,
                first_seen_ms=bindparam("now"),
            )
            self._upserts[name] = statement.on_conflict_do_update(
                index_elements=[assistants.c.server, assistants.c.assistant_id],
                set_={
                    "name": statement.excluded.name,
                    "deleted_ms": None,
                    "last_number": assistants.c.last_number + 1,
                },
            ).returning(assistants.c.lineage, assistants.c.last_number)
        return self._upserts[name]

    def _insert(
        self,
        db: Connection,
        server: str,
        lineage: str,
        number: int,
        assistant_id: str,
        fields: dict[str, str],
        source: str,
        note: str,
        restored_from: int | None,
    ) -> Version:
        created = now_ms()
        row = {"server": server, "lineage": lineage, "number": number, "assistant_id": assistant_id,
               "source": source, "note": note or "", "restored_from": restored_from, "created_ms": created,
               **fields}  # fmt: skip
        db.execute(versions.insert(), row)  # values as parameters: the statement is compiled once
        return Version(number, assistant_id, **fields, source=source, note=note or "", created_ms=created,
                       restored_from=restored_from)  # fmt: skip

    @staticmethod
    def _lineage(db: Connection, server: str, assistant_id: str) -> str | None:
        return db.scalar(
            select(assistants.c.lineage).where(
                assistants.c.server == server, assistants.c.assistant_id == assistant_id
            )
        )

    @staticmethod
    def _last_number(db: Connection, server: str, lineage: str) -> int:
        return int(
            db.scalar(
                select(func.max(versions.c.number)).where(
                    versions.c.server == server, versions.c.lineage == lineage
                )
            )
            or 0
        )

    def _latest(self, db: Connection, server: str, lineage: str) -> Version | None:
        row = db.execute(_LATEST, {"server": server, "lineage": lineage}).mappings().first()
        return None if row is None else self._version(row, {}, {})

    @staticmethod
    def _labels(db: Connection, server: str, lineage: str) -> dict[str, int]:
        rows = db.execute(
            select(labels.c.label, labels.c.number)
            .where(labels.c.server == server, labels.c.lineage == lineage)
            .order_by(labels.c.label)
        )
        return {label: number for label, number in rows}

    @staticmethod
    def _wins(db: Connection, server: str, lineage: str) -> dict[int, int]:
        rows = db.execute(
            select(wins.c.number, func.count())
            .where(wins.c.server == server, wins.c.lineage == lineage, wins.c.number.is_not(None))
            .group_by(wins.c.number)
        )
        return {number: count for number, count in rows}

    @staticmethod
    def _version(row: Any, by_number: dict[int, list[str]], counts: dict[int, int]) -> Version:
        number = row["number"]
        return Version(
            number=number,
            assistant_id=row["assistant_id"],
            **{name: row[name] for name in FIELDS},
            source=row["source"],
            note=row["note"],
            created_ms=row["created_ms"],
            restored_from=row["restored_from"],
            labels=tuple(sorted(by_number.get(number, []))),
            wins=counts.get(number, 0),
        )
