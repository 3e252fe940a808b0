"""The fair queue in front of the local model's slots, used directly (no model needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.server.engines.base import EngineRequest, Waiting
from backend.server.engines.model_queue import ModelQueue


def answer(name: str) -> Iterator[str]:
    yield f"{name} answers"


def request() -> EngineRequest:
    return EngineRequest(model="m", messages=[])


def test_slots_are_shared_and_the_rest_wait_in_order() -> None:
    queue = ModelQueue(slots=2)
    first, second = (
        queue.turn(request(), lambda: answer("first")),
        queue.turn(request(), lambda: answer("second")),
    )
    assert next(first) == "first answers" and next(second) == "second answers"  # both hold a slot at once
    assert queue.held == 2
    third, fourth = (
        queue.turn(request(), lambda: answer("third")),
        queue.turn(request(), lambda: answer("fourth")),
    )
    assert next(third) == Waiting(1) and next(fourth) == Waiting(2)
    assert list(second) == []  # it ends and gives its slot back
    assert next(third) == "third answers"  # the first in line takes it
    assert next(fourth) == Waiting(1)
    first.close()
    assert next(fourth) == "fourth answers"
    third.close()
    fourth.close()
    assert not queue.busy


def test_a_waiter_that_gives_up_leaves_its_place() -> None:
    queue = ModelQueue(slots=1)
    holder = queue.turn(request(), lambda: answer("holder"))
    next(holder)
    quitter_request = request()
    quitter, last = (
        queue.turn(quitter_request, lambda: answer("quitter")),
        queue.turn(request(), lambda: answer("last")),
    )
    assert next(quitter) == Waiting(1) and next(last) == Waiting(2)
    quitter_request.cancel()
    assert list(quitter) == []
    assert next(last) == Waiting(1)
    holder.close()
    assert next(last) == "last answers"


def test_a_queue_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        ModelQueue(slots=0)
