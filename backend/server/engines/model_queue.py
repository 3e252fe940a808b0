"""A fair first-come, first-served queue for the one local model that every request shares."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

from backend.server.engines.base import EngineRequest, Waiting

T = TypeVar("T")

# A waiter is woken by request.cancel(); this poll only catches a flag set directly on the Event.
_POLL_SECONDS = 0.25


class Ticket:
    """One request's place in the queue."""

    __slots__ = ("number",)

    def __init__(self, number: int) -> None:
        self.number = number

    def __repr__(self) -> str:
        return f"Ticket({self.number})"


class ModelQueue:
    """Hands the model to one holder at a time, in the order the requests arrived."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._holder: Ticket | None = None
        self._issued = 0

    def turn(self, request: EngineRequest, answer: Callable[[], Iterator[T]]) -> Iterator[Waiting | T]:
        """Wait in line, yielding Waiting when the place changes, then yield from `answer()` with the model.

        The model is given back however this ends; a request cancelled while waiting gets nothing more.
        """
        ticket = self.join()
        try:
            for position in self.wait_turn(ticket, request):
                yield Waiting(position)
            if self.holds(ticket):
                yield from answer()
        finally:
            # Whatever happened (finished, cancelled, failed, or the consumer closed us), the next one goes.
            self.leave(ticket)

    def join(self) -> Ticket:
        """Take a ticket at the back of the queue."""
        with self._cond:
            self._issued += 1
            ticket = Ticket(self._issued)
            self._waiting.append(ticket)
            return ticket

    def wait_turn(self, ticket: Ticket, request: EngineRequest) -> Iterator[int]:
        """Yield the position (1 is next) whenever it changes; return on holding the model or on cancel."""
        # A cancelled ticket leaves the queue before this returns; callers tell the outcomes apart by holds().
        request.on_cancel(self._wake)
        last: int | None = None
        while True:
            with self._cond:
                if request.cancelled.is_set():
                    self._forget(ticket)
                    return
                if self._holder is None and self._waiting and self._waiting[0] is ticket:
                    self._waiting.popleft()
                    self._holder = ticket
                    return
                if ticket not in self._waiting:
                    return  # already left (the caller gave up); nothing to wait for
                # Whoever holds the model counts as one ahead; so does a waiter about to take a free model.
                position = self._waiting.index(ticket) + (1 if self._holder is not None else 0)
                if position == last:
                    self._cond.wait(timeout=_POLL_SECONDS)
                    continue
            # Yield outside the lock: the consumer may take its time, and must never block the queue.
            last = position
            yield position

    def holds(self, ticket: Ticket) -> bool:
        """Whether this ticket currently holds the model."""
        with self._cond:
            return self._holder is ticket

    def leave(self, ticket: Ticket) -> None:
        """Give the model back, or leave the line; safe to call more than once."""
        with self._cond:
            self._forget(ticket)

    @property
    def busy(self) -> bool:
        """Whether a request holds the model now."""
        with self._cond:
            return self._holder is not None

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _forget(self, ticket: Ticket) -> None:
        # Called with the lock held; everyone re-checks their position after any change.
        if self._holder is ticket:
            self._holder = None
        elif ticket in self._waiting:
            self._waiting.remove(ticket)
        self._cond.notify_all()
