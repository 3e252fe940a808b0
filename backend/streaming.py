"""A generation as a stream of typed events, read from Server-Sent Events with httpx-sse."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack
from types import TracebackType
from typing import Any

import anyio
import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from backend.errors import AssistantsError, StreamError, StreamInterruptedError, UnexpectedResponseError
from backend.schemas import (
    ContentDelta,
    GenerationEnd,
    GenerationStart,
    Queued,
    StreamErrorEvent,
    StreamEvent,
)

_EVENT = TypeAdapter(StreamEvent)
# After [DONE], read at most this many more events: the body normally ends at once, and reading its end
# lets the connection go back to the pool (closing early drops it, and every turn pays a new handshake).
_DRAIN_EVENTS = 4
_KNOWN_TYPES = frozenset({"generation_start", "content_delta", "generation_end", "error", "queued"})

CLOSED = "This stream is closed: call generate_stream() again to send a new request."

Opened = tuple[ExitStack, EventSource]
AsyncOpened = tuple[AsyncExitStack, EventSource]


class StreamState:
    """What a stream has said so far; turns each SSE into an event, or an error. No I/O."""

    def __init__(self) -> None:
        self.text = ""
        self.start: GenerationStart | None = None
        self.end: GenerationEnd | None = None
        self.queued_position: int | None = None
        self.done = False

    def feed(self, sse: ServerSentEvent) -> StreamEvent | None:
        """The event in `sse`, or None for one to skip; raises StreamError for an `error` event."""
        data = sse.data.strip()
        if data == "[DONE]":
            self.done = True
            return None
        if not data:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            if sse.event == "error":  # a server that names the event may send the error as plain text
                raise StreamError(data, partial=self.text) from None
            raise UnexpectedResponseError(f"A stream event is not JSON: {data[:80]!r}.") from None
        if not isinstance(payload, dict):
            if sse.event == "error":
                raise StreamError(str(payload) or "The generation failed.", partial=self.text)
            return None
        # Some servers name the event in the SSE `event:` field rather than in the payload.
        if "type" not in payload and sse.event in _KNOWN_TYPES:
            payload = {**payload, "type": sse.event}
        if payload.get("type") not in _KNOWN_TYPES:
            return None  # a newer server's event: not ours to fail on
        try:
            event = _EVENT.validate_python(payload)
        except PydanticValidationError:
            raise UnexpectedResponseError(
                f"A {payload['type']} event has an unexpected shape: {data[:80]!r}."
            ) from None
        self._apply(event)
        return event

    def _apply(self, event: StreamEvent) -> None:
        if isinstance(event, ContentDelta):
            self.text += event.delta
        elif isinstance(event, GenerationStart):
            self.start = event
        elif isinstance(event, GenerationEnd):
            self.end = event
        elif isinstance(event, Queued):
            self.queued_position = event.position
        elif isinstance(event, StreamErrorEvent):
            raise StreamError(event.message or "The generation failed.", code=event.error, partial=self.text)

    def finished(self) -> None:
        """The stream has no more events: fine after generation_end, an interruption before it."""
        if self.end is None:
            raise StreamInterruptedError("The answer stopped before it was complete.", partial=self.text)

    def dropped(self, exc: httpx.HTTPError) -> StreamInterruptedError | None:
        """The error for an answer lost mid-stream; None if the answer was already complete."""
        if self.end is not None:
            return None
        if isinstance(exc, httpx.TimeoutException):
            return StreamInterruptedError("The server stopped sending mid-answer.", partial=self.text)
        if not isinstance(exc, httpx.TransportError):  # e.g. a DecodingError: bytes came, unreadable
            return StreamInterruptedError(
                f"The rest of the answer could not be read ({type(exc).__name__}).", partial=self.text
            )
        return StreamInterruptedError("The connection dropped mid-answer.", partial=self.text)


#: Blanks the client's own key out of an error (in place) before the stream raises it.
Hide = Callable[[AssistantsError], AssistantsError]


def _keep(error: AssistantsError) -> AssistantsError:
    return error


class _StreamBase:
    """The accumulated state, shared by the sync and async streams."""

    def __init__(self, hide: Hide | None = None) -> None:
        self._state = StreamState()
        self._hide = hide or _keep

    @property
    def text(self) -> str:
        """The answer so far: every content delta joined."""
        return self._state.text

    @property
    def start(self) -> GenerationStart | None:
        return self._state.start

    @property
    def end(self) -> GenerationEnd | None:
        return self._state.end

    @property
    def queued_position(self) -> int | None:
        return self._state.queued_position


class GenerationStream(_StreamBase):
    """`with client.generate_stream(...) as stream: for event in stream: ...`; leaving closes the response."""

    def __init__(self, opener: Callable[[], Opened], hide: Hide | None = None) -> None:
        super().__init__(hide)
        self._opener = opener
        self._stack: ExitStack | None = None
        self._events: Iterator[ServerSentEvent] | None = None
        self._closed = False

    def __enter__(self) -> GenerationStream:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> GenerationStream:
        return self

    def __next__(self) -> StreamEvent:
        try:
            return self._next()
        except AssistantsError as error:
            self._hide(error)  # blanks the client's key out of this very error, in place
            raise

    def _next(self) -> StreamEvent:
        if self._closed and self._events is not None:
            raise StopIteration
        events = self._open()
        while not self._state.done:
            try:
                sse = next(events)
            except StopIteration:
                break
            except httpx.HTTPError as exc:
                self.close()
                error = self._state.dropped(exc)
                if error is None:
                    raise StopIteration from None
                raise error from exc
            except BaseException:  # interrupted (Ctrl+C, a closed generator): free the server's model at once
                self.close()
                raise
            try:
                event = self._state.feed(sse)
            except Exception:
                self.close()
                raise
            if event is not None:
                return event
        if self._state.done:
            with contextlib.suppress(httpx.HTTPError):
                for _ in itertools.islice(events, _DRAIN_EVENTS):
                    pass
        self.close()
        self._state.finished()
        raise StopIteration

    def close(self) -> None:
        """Close the HTTP response now, which tells the server to stop generating."""
        self._closed = True
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _open(self) -> Iterator[ServerSentEvent]:
        if self._events is None:
            if self._closed:
                raise RuntimeError(CLOSED)
            try:
                self._stack, source = self._opener()
            except BaseException:
                self._closed = True  # a failed open leaves the stream closed: iterating again sends nothing
                raise
            self._events = source.iter_sse()
            self._stack.callback(self._events.close)  # type: ignore[attr-defined]
        return self._events


class AsyncGenerationStream(_StreamBase):
    """`async with client.generate_stream(...) as stream: async for event in stream: ...`."""

    def __init__(self, opener: Callable[[], Awaitable[AsyncOpened]], hide: Hide | None = None) -> None:
        super().__init__(hide)
        self._opener = opener
        self._stack: AsyncExitStack | None = None
        self._events: AsyncIterator[ServerSentEvent] | None = None
        self._closed = False

    async def __aenter__(self) -> AsyncGenerationStream:
        await self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __aiter__(self) -> AsyncGenerationStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            return await self._next()
        except AssistantsError as error:
            self._hide(error)  # blanks the client's key out of this very error, in place
            raise

    async def _next(self) -> StreamEvent:
        if self._closed and self._events is not None:
            raise StopAsyncIteration
        events = await self._open()
        while not self._state.done:
            try:
                sse = await anext(events)
            except StopAsyncIteration:
                break
            except httpx.HTTPError as exc:
                await self.close()
                error = self._state.dropped(exc)
                if error is None:
                    raise StopAsyncIteration from None
                raise error from exc
            except BaseException:  # cancelled: free the server's model at once
                await self.close()
                raise
            try:
                event = self._state.feed(sse)
            except Exception:
                await self.close()
                raise
            if event is not None:
                return event
        if self._state.done:
            with contextlib.suppress(httpx.HTTPError, StopAsyncIteration):
                for _ in range(_DRAIN_EVENTS):
                    await anext(events)
        await self.close()
        self._state.finished()
        raise StopAsyncIteration

    async def close(self) -> None:
        """Close the HTTP response now, even inside a cancelled task."""
        self._closed = True
        stack, self._stack = self._stack, None
        if stack is not None:
            with anyio.CancelScope(shield=True):
                await stack.aclose()

    async def _open(self) -> AsyncIterator[ServerSentEvent]:
        if self._events is None:
            if self._closed:
                raise RuntimeError(CLOSED)
            try:
                self._stack, source = await self._opener()
            except BaseException:
                self._closed = True  # a failed open leaves the stream closed: iterating again sends nothing
                raise
            events: Any = source.aiter_sse()
            self._events = events
            self._stack.push_async_callback(events.aclose)
        return self._events
