"""Compare: one message sent to 2 to 4 columns at once, each an assistant, a version of one, a model
override or an edited copy of the instructions, each with its own conversation and parameters.

The answers stream side by side: `merge` runs every column's stream at the same time and says which
column changed, so the page is drawn from all of them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from backend.schemas import DEFAULT_TEMPERATURE
from studio.answering import FRAME_SECONDS
from studio.conversation import ChatInputError, ChatParameters, ChatSession, Turn

MIN_COLUMNS = 2
MAX_COLUMNS = 4


@dataclass
class ColumnSpec:
    """What one column runs: an assistant (its picker key), a version of it, and its own parameters."""

    key: str = ""  # the assistant picker's key; "" is the chat's assistant
    version: int | None = None  # a version of my assistant; None: as the API holds it now
    model: str | None = None
    instructions: str = ""  # an edited copy of the instructions; "" uses the assistant's (or version's)
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = None

    @property
    def parameters(self) -> ChatParameters:
        return ChatParameters(
            model=self.model or None, temperature=self.temperature, max_tokens=self.max_tokens
        )


@dataclass
class CompareColumn:
    """One column: what it runs and the conversation it has had."""

    spec: ColumnSpec = field(default_factory=ColumnSpec)
    conversation: ChatSession = field(default_factory=ChatSession)

    def describe(self, default_model: str = "the default model") -> str:
        """A line saying what the column runs, e.g. "Tutor · v3 · gpt-5 · temperature 0.2"."""
        profile = self.conversation.assistant
        parts = [profile.name]
        if profile.version is not None:
            parts.append(f"v{profile.version}" + ("" if profile.live else " (older)"))
        parts.append(self.spec.model or profile.model or default_model)
        if profile.instructions_edited(self.spec.instructions):
            parts.append("edited instructions")
        parts.append(f"temperature {self.spec.temperature:g}")
        if self.spec.max_tokens:
            parts.append(f"max {self.spec.max_tokens} tokens")
        return " · ".join(parts)


@dataclass
class CompareSession:
    """The columns of one browser tab's Compare."""

    columns: list[CompareColumn] = field(default_factory=lambda: [CompareColumn(), CompareColumn()])

    @property
    def busy(self) -> bool:
        return any(column.conversation.busy for column in self.columns)

    def add_column(self, column: CompareColumn | None = None) -> CompareColumn:
        if len(self.columns) >= MAX_COLUMNS:
            raise ChatInputError(
                f"Compare shows at most {MAX_COLUMNS} columns: remove one before adding another."
            )
        if self.busy:
            raise ChatInputError("Answers are still streaming: wait for them, or press Stop first.")
        added = column or CompareColumn()
        self.columns.append(added)
        return added

    def remove_column(self, index: int) -> None:
        if len(self.columns) <= MIN_COLUMNS:
            raise ChatInputError(f"Compare needs at least {MIN_COLUMNS} columns; switch to Chat for one.")
        self.column(index).conversation.stop()
        del self.columns[index]

    def column(self, index: int) -> CompareColumn:
        if not 0 <= index < len(self.columns):
            raise ChatInputError(f"There is no column {index + 1}: pick one of 1 to {len(self.columns)}.")
        return self.columns[index]

    def ask(self, text: str) -> list[Turn]:
        """The same message as a new turn in every column; refused as a whole if any column is busy."""
        if not text.strip():
            raise ChatInputError("Type a message first.")
        if self.busy:
            raise ChatInputError("Answers are still streaming: wait for them, or press Stop first.")
        return [column.conversation.add_user_turn(text) for column in self.columns]

    def stop(self) -> bool:
        """Stop every column's answer; True if any was on its way."""
        return any([column.conversation.stop() for column in self.columns])

    def clear(self) -> None:
        for column in self.columns:
            column.conversation.clear()


async def merge(
    streams: list[AsyncIterator[None]], *, frame_seconds: float = FRAME_SECONDS
) -> AsyncIterator[set[int]]:
    """Run the streams at the same time; yield the indexes of those that moved, at most once a frame.

    Closing this generator (Stop, a closed tab) cancels every stream, which closes their HTTP streams.
    """
    queue: asyncio.Queue[tuple[int, bool]] = asyncio.Queue()

    async def pump(index: int, stream: AsyncIterator[None]) -> None:
        try:
            async for _ in stream:
                queue.put_nowait((index, False))
        finally:
            queue.put_nowait((index, True))

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    running = len(tasks)
    try:
        while running:
            changed: set[int] = set()
            index, done = await queue.get()
            changed.add(index)
            running -= done
            deadline = time.perf_counter() + frame_seconds
            while running and (left := deadline - time.perf_counter()) > 0:
                try:
                    index, done = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    break
                changed.add(index)
                running -= done
            while not queue.empty():  # whatever is already waiting goes into this frame
                index, done = queue.get_nowait()
                changed.add(index)
                running -= done
            yield changed
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
