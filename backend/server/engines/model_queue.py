"""A fair first-come, first-served queue for the local model's answer slots, which every request shares."""

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
    """Lets at most `slots` holders use the model at once, the others waiting in the order they arrived."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"A model queue needs at least one slot, not {slots}.")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._holders: set[Ticket] = set()
        self._issued = 0

    def turn(self, request: EngineRequest, answer: Callable[[], Iterator[T]]) -> Iterator[Waiting | T]:
        """Wait in line, yielding Waiting when the place changes, then yield from `answer()` in a slot.

        The slot is given back however this ends; a request cancelled while waiting gets nothing more.
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
        """Yield the position (1 is next) whenever it changes; return on holding a slot or on cancel."""
        # A cancelled ticket leaves the queue before this returns; callers tell the outcomes apart by holds().
        request.on_cancel(self._wake)
        last: int | None = None
        while True:
            with self._cond:
                if request.cancelled.is_set():
                    self._forget(ticket)
                    return
                if len(self._holders) < self.slots and self._waiting and self._waiting[0] is ticket:
                    self._waiting.popleft()
                    self._holders.add(ticket)
                    self._cond.notify_all()  # the next in line may fit in another free slot
                    return
                if ticket not in self._waiting:
                    return  # already left (the caller gave up); nothing to wait for
                # Position 1 takes the next slot that frees up.
                position = self._waiting.index(ticket) + 1
                if position == last:
                    self._cond.wait(timeout=_POLL_SECONDS)
                    continue
            # Yield outside the lock: the consumer may take its time, and must never block the queue.
            last = position
            yield position

    def holds(self, ticket: Ticket) -> bool:
        """Whether this ticket currently holds a slot."""
        with self._cond:
            return ticket in self._holders

    def leave(self, ticket: Ticket) -> None:
        """Give the slot back, or leave the line; safe to call more than once."""
        with self._cond:
            self._forget(ticket)

    @property
    def busy(self) -> bool:
        """Whether a request holds a slot now."""
        with self._cond:
            return bool(self._holders)

    @property
    def held(self) -> int:
        """How many slots are in use now."""
        with self._cond:
            return len(self._holders)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _forget(self, ticket: Ticket) -> None:
        # Called with the lock held; everyone re-checks their position after any change.
        if ticket in self._holders:
            self._holders.discard(ticket)
        elif ticket in self._waiting:
            self._waiting.remove(ticket)
        self._cond.notify_all()
