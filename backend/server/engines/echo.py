"""A deterministic engine that repeats the last user message: for tests and demos, never the default.

By default it answers every request at once, so that benchmarks measure the studio, not a queue. With
``one_at_a_time`` it behaves like a single local model: the others wait their turn in the same fair
queue the llama engine uses, and are told their place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from backend.server.engines.base import Delta, EngineEvent, EngineRequest, EngineStatus, Finished
from backend.server.engines.model_queue import ModelQueue
from backend.settings import Settings

# A word with the spaces after it, or leading spaces: the pieces join back into the exact reply.
_TOKEN = re.compile(r"\S+\s*|\s+")


def echo_reply(messages: list[dict[str, str]]) -> str:
    """What the echo engine answers to this conversation."""
    users = [m["content"] for m in messages if m.get("role") == "user"]
    last = users[-1] if users else ""
    system = next((m["content"] for m in messages if m.get("role") == "system"), None)
    if system is not None:
        return f"[turn {len(users)} | instructions {len(system)} chars] You said: {last}"
    return f"[turn {len(users)}] You said: {last}"


def split_tokens(text: str) -> list[str]:
    """The reply cut at whitespace boundaries, spaces kept."""
    return _TOKEN.findall(text)


class EchoEngine:
    """Answers "[turn N] You said: ..." token by token, with an optional delay per token."""

    name = "echo"

    def __init__(self, delay_ms: float = 0.0, *, one_at_a_time: bool = False) -> None:
        self.delay = delay_ms / 1000.0
        self._queue = ModelQueue() if one_at_a_time else None

    @classmethod
    def from_settings(cls, settings: Settings) -> EchoEngine:
        return cls(delay_ms=settings.echo_delay_ms, one_at_a_time=settings.echo_one_at_a_time)

    def status(self) -> EngineStatus:
        return EngineStatus(
            engine=self.name, state="ready", detail="Deterministic echo of the last user message."
        )

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        """Wait for a turn (when one at a time), then yield the reply piece by piece and the word counts."""
        if self._queue is None:
            yield from self._answer(request)
        else:
            yield from self._queue.turn(request, lambda: self._answer(request))

    def _answer(self, request: EngineRequest) -> Iterator[EngineEvent]:
        tokens = split_tokens(echo_reply(request.messages))
        if request.max_tokens is not None:
            tokens = tokens[: request.max_tokens]
        emitted = 0
        for token in tokens:
            if request.cancelled.is_set() or (self.delay and request.cancelled.wait(self.delay)):
                return
            emitted += 1
            yield Delta(text=token)
        prompt = sum(len(m.get("content", "").split()) for m in request.messages)
        yield Finished(prompt_tokens=prompt, completion_tokens=emitted)

    def close(self) -> None:
        """Nothing to free."""
