"""What a generation engine is: a thing that turns a conversation into a stream of text.

The local server runs ``Engine.generate`` in a worker thread and forwards what it yields to the caller.
An engine checks ``request.cancelled`` between tokens and stops at once when it is set (the caller pressed
stop or closed the tab), so the model is free for the next request. An engine that blocks elsewhere (on a
socket, in a queue) registers ``request.on_cancel(callback)`` to be woken; the server calls
``request.cancel()``, which sets the flag and runs those callbacks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

log = logging.getLogger(__name__)


@dataclass
class EngineRequest:
    model: str  # the slug the caller asked for
    messages: list[dict[str, str]]  # [{"role", "content"}]; the instructions come first as a system message
    temperature: float = 0.7
    max_tokens: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    _callbacks: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the request is cancelled (in the cancelling thread); now if it already is."""
        with self._lock:
            if not self.cancelled.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def cancel(self) -> None:
        """Stop this request: set `cancelled`, then run each registered callback once.

        Safe from any thread, the event loop's included: a callback only wakes something up.
        """
        with self._lock:
            self.cancelled.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one broken callback must not keep the others from waking their waiter
                log.exception("A cancel callback failed.")


@dataclass
class Delta:
    """A piece of the answer."""

    text: str


@dataclass
class Waiting:
    """The request waits for the model; ``position`` 1 means it is next."""

    position: int


@dataclass
class Finished:
    """The answer is complete; real token counts from the engine's tokenizer."""

    prompt_tokens: int
    completion_tokens: int
    history_truncated: bool = False


EngineEvent = Delta | Waiting | Finished
EngineState = Literal["ready", "not_loaded", "loading", "unavailable"]


class EngineUnavailable(Exception):
    """The engine cannot run at all (model file missing, runtime not installed): 503 model_unavailable.

    The message says what to install or configure.
    """


class EngineFailed(Exception):
    """The engine failed while answering: 500 provider_error, nothing charged."""


@dataclass
class EngineStatus:
    engine: str  # "llama", "openai", "echo"
    state: EngineState
    detail: str = ""  # e.g. the model file, the endpoint URL, or why it is unavailable


class Engine(Protocol):
    name: str

    def status(self) -> EngineStatus: ...

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        """Yield Waiting (optional, while queued), then Delta pieces, then exactly one Finished.

        Raises EngineUnavailable or EngineFailed. Returns early, without Finished, once
        ``request.cancelled`` is set.
        """
        ...

    def close(self) -> None: ...
