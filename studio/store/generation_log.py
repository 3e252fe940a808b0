"""The generation log: every generate call the studio makes, how it went, never what was said.

The API promises statelessness and people paste private text, so a record holds times, counts, the model
and the outcome, and no message. Records are written by a background thread in small batches, so an answer
never waits on the disk; `flush()` waits for what was handed over.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

from sqlalchemy import select

from studio.store.database import Database
from studio.store.history import now_ms
from studio.store.schema import assistants, generations

log = logging.getLogger(__name__)

Origin = Literal["playground", "compare", "test"]
Outcome = Literal["completed", "stopped", "failed"]
_BATCH = 500
LINGER_SECONDS = 0.25
_STOP = object()


@dataclass
class GenerationRecord:
    """One generate call."""

    server: str
    origin: Origin
    model: str
    outcome: Outcome
    total_ms: float
    assistant_id: str | None = None
    version: int | None = None
    assistant_name: str = ""
    engine: str | None = None
    run_id: str | None = None
    tokens_used: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    first_token_ms: float | None = None
    error_class: str | None = None
    balance_after: int | None = None
    at_ms: int = field(default_factory=now_ms)


class GenerationLog:
    """Hands records to a writer thread; a failing store loses log lines, never an answer."""

    def __init__(self, database: Database, *, linger: float = LINGER_SECONDS) -> None:
        self.db = database
        self.linger = linger
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._hurry = threading.Event()  # flush() asks the writer not to linger
        # An id's lineage never changes once the studio has seen it (a brought-back assistant gets a new id).
        self._lineages: dict[tuple[str, str], str] = {}
        self.problem = ""  # the last write's failure, "" once writes work again

    def record(self, entry: GenerationRecord) -> None:
        """Log one call; returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_forever, name="generation-log", daemon=True
                )
                self._thread.start()
        self._queue.put(entry)

    def flush(self) -> None:
        """Wait until every record handed over so far is written (or dropped after a failure)."""
        if self._thread is not None:
            self._hurry.set()
            self._queue.join()
            self._hurry.clear()

    def close(self) -> None:
        """Write what is pending, then stop the writer."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    def _write_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Linger a moment: the answer that made this record is still drawing its last frames, and the
            # write would compete with it for the interpreter; records arriving meanwhile share one commit.
            deadline = time.monotonic() + self.linger
            while len(batch) < _BATCH and batch[-1] is not _STOP:
                left = 0.0 if self._hurry.is_set() else deadline - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            entries = [item for item in batch if isinstance(item, GenerationRecord)]
            try:
                if entries:
                    self._write(entries)
                self.problem = ""
            except Exception as err:  # the store is down or full: the log loses these lines, nothing else
                self.problem = (
                    f"{len(entries)} generation log records were not written ({type(err).__name__}): the "
                    "store refused them (full disk, or the database down). Usage misses those calls; "
                    "free space or restart the database, and later calls are logged again."
                )
                log.warning("The generation log could not be written: %s", type(err).__name__)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if any(item is _STOP for item in batch):
                return

    def _write(self, entries: list[GenerationRecord]) -> None:
        rows = [asdict(entry) for entry in entries]
        with self.db.write() as db:
            wanted = {(row["server"], row["assistant_id"]) for row in rows if row["assistant_id"]}
            for server, assistant_id in wanted - self._lineages.keys():
                found = db.scalar(
                    select(assistants.c.lineage).where(
                        assistants.c.server == server, assistants.c.assistant_id == assistant_id
                    )
                )
                if found is not None:  # not yet seen by the history: looked up again next time
                    self._lineages[(server, assistant_id)] = found
            for row in rows:
                key = (row["server"], row["assistant_id"])
                row["lineage"] = self._lineages.get(key, row["assistant_id"]) if row["assistant_id"] else None
            db.execute(generations.insert(), rows)
