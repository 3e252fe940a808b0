"""The studio's own store: assistants' history, the generation log, and (later) test suites and runs.

`StoreHandle` is what the rest of the studio holds. The store must never be a single point of failure:
when it cannot be opened (a bad URL, PostgreSQL down, a read-only disk) the studio still starts, the
handle's `problem` says what is wrong and how to fix it, and every action that needs the store raises
StoreUnavailable with that message while everything else keeps working. The handle tries again on its own,
at most every `retry_seconds`, so a database that comes back is used again without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc

from studio.store.database import (
    Database,
    StoreUnavailable,
    default_url,
    describe_failure,
    safe_url,
    store_url,
)
from studio.store.generation_log import GenerationLog, GenerationRecord
from studio.store.history import History
from studio.store.suites import SuiteStore

__all__ = [
    "GenerationRecord",
    "Store",
    "StoreHandle",
    "StoreUnavailable",
    "default_url",
    "safe_url",
    "store_url",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_SECONDS = 30.0


class Store:
    """The opened store: its database, the history of assistants, the generation log, and test suites."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)
        self.history = History(self.db)
        self.log = GenerationLog(self.db)
        self.suites = SuiteStore(self.db)

    def close(self) -> None:
        self.log.close()
        self.db.close()


class StoreHandle:
    """The store, or why it cannot be used now."""

    def __init__(self, url: str, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.url = url
        self.retry_seconds = retry_seconds
        self._store: Store | None = None
        self._problem = ""
        self._tried = float("-inf")
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        """Where the store is, fit to show (no password)."""
        return safe_url(self.url)

    @property
    def problem(self) -> str:
        """Why the store cannot be used, with the way out; "" when it works."""
        if self._store is None and not self._problem:
            self.open()
        if self._store is not None and self._store.log.problem:
            return self._store.log.problem
        return self._problem

    def open(self) -> Store | None:
        """Open the store now (once; again after a failure, at most every retry_seconds)."""
        with self._lock:
            if self._store is not None:
                return self._store
            if time.monotonic() - self._tried < self.retry_seconds:
                return None
            self._tried = time.monotonic()
            try:
                self._store = Store(self.url)
                self._problem = ""
            except StoreUnavailable as err:
                self._problem = str(err)
                log.warning("The studio's store is unavailable: %s", self._problem)
            return self._store

    def get(self) -> Store:
        """The store; raises StoreUnavailable saying why it cannot be used."""
        store = self._store or self.open()
        if store is None:
            raise StoreUnavailable(self._problem)
        return store

    def call(self, action: Callable[[Store], T]) -> T:
        """Run `action` on the store; a database failure becomes StoreUnavailable with the way out."""
        store = self.get()
        try:
            result = action(store)
        except exc.SQLAlchemyError as err:
            self._problem = describe_failure(err, store.db.url)
            raise StoreUnavailable(self._problem) from err
        self._problem = ""
        return result

    def log(self, record: GenerationRecord) -> None:
        """Hand a record to the generation log; dropped while the store is unavailable (the status line
        says so), never holding up the answer it describes."""
        store = self._store or self.open()
        if store is not None:
            store.log.record(record)

    async def run(self, action: Callable[[Store], T]) -> T:
        """`call` in a worker thread, so the event loop never waits on the disk or the network."""
        return await asyncio.to_thread(self.call, action)

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
