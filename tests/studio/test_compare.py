"""Compare's columns, and the merge that streams them at the same time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from studio.compare import MAX_COLUMNS, CompareColumn, CompareSession, merge
from studio.conversation import ChatInputError

pytestmark = pytest.mark.anyio


async def ticking(count: int, delay: float, seen: list[str], name: str) -> AsyncIterator[None]:
    try:
        for _ in range(count):
            await asyncio.sleep(delay)
            seen.append(name)
            yield None
    finally:
        seen.append(f"{name} closed")


async def test_streams_run_at_the_same_time_not_one_after_another():
    seen: list[str] = []
    frames = [changed async for changed in merge([ticking(5, 0.02, seen, str(i)) for i in range(4)],
                                                  frame_seconds=0.01)]  # fmt: skip
    # Every stream had moved before any one of them ended: they ran together, not in turn.
    first_end = min(seen.index(f"{i} closed") for i in range(4))
    assert {"0", "1", "2", "3"} <= set(seen[:first_end])
    assert set().union(*frames) == {0, 1, 2, 3}
    assert sum(entry.endswith("closed") for entry in seen) == 4


async def test_closing_the_merge_closes_every_stream():
    seen: list[str] = []
    merged = merge([ticking(1000, 0.01, seen, str(i)) for i in range(3)])
    await anext(merged)
    await merged.aclose()
    await asyncio.sleep(0)
    assert {"0 closed", "1 closed", "2 closed"} <= set(seen)


async def test_one_failing_stream_does_not_stop_the_others():
    seen: list[str] = []

    async def broken() -> AsyncIterator[None]:
        yield None
        raise RuntimeError("column down")

    frames = [changed async for changed in merge([broken(), ticking(3, 0.02, seen, "ok")])]
    assert seen.count("ok") == 3 and frames


def test_two_to_four_columns_and_one_message_for_all():
    compare = CompareSession()
    assert len(compare.columns) == 2
    compare.add_column()
    compare.add_column()
    with pytest.raises(ChatInputError, match="at most 4 columns"):
        compare.add_column(CompareColumn())
    assert len(compare.columns) == MAX_COLUMNS
    turns = compare.ask("hello")
    assert [t.user for t in turns] == ["hello"] * 4
    with pytest.raises(ChatInputError, match="still streaming"):
        compare.ask("again")
    assert compare.stop() and not compare.busy
    for _ in range(2):
        compare.remove_column(0)
    with pytest.raises(ChatInputError, match="at least 2"):
        compare.remove_column(0)
