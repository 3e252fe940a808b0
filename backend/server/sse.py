"""The answer of POST /generate: the engine runs in a worker thread, its events go out as JSON or SSE.

The cost is reserved before the answer starts (`Job.reserve`, in the same transaction as a 'pending'
row of the generation) and given back by `Job.settle` unless the generation completed: on an engine
failure, and when the caller leaves before the end (the stop button, a closed tab). The refund reads only
the generation's id, never what was asked or answered; one the database refuses is retried before the
balance is next read or charged, and if the process dies first, the row is still 'pending' and the next
start gives the cost back. Leaving also cancels the engine request at once, so the model is freed.

An engine's words are made valid text (`scalar_text`) as they arrive, so what is streamed, stored and
answered is the same, whatever an upstream server sent.

Once a stream's headers are out, while it waits for the engine's next event (queued behind another
request, a slow word), an SSE comment goes out every `keepalive` seconds so that no client or proxy times
the silence out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import anyio
import anyio.abc
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from backend.errors import redact
from backend.schemas import (
    ContentDelta,
    Generation,
    GenerationEnd,
    GenerationStart,
    Queued,
    StreamErrorEvent,
    Usage,
    utc_now,
)
from backend.server.auth import error_response
from backend.server.engines.base import (
    Delta,
    Engine,
    EngineEvent,
    EngineFailed,
    EngineRequest,
    EngineUnavailable,
    Finished,
    Waiting,
)
from backend.server.store import Store, new_id
from backend.server.validation import scalar_text

log = logging.getLogger(__name__)

_END = object()
KEEPALIVE_SECONDS = 10.0
_KEEPALIVE = {"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True}
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def failure(exc: BaseException) -> tuple[int, str, str]:
    """The status, error code and message an engine failure is reported with."""
    if isinstance(exc, EngineUnavailable):
        return 503, "model_unavailable", redact(str(exc)) or "The model is unavailable."
    if isinstance(exc, EngineFailed):
        return 500, "provider_error", redact(str(exc)) or "The model failed while answering."
    log.error("The engine failed unexpectedly.", exc_info=exc)
    return 500, "provider_error", "The model failed unexpectedly while answering."


class Job:
    """One generation: what was asked, the cost held back, and how it ended."""

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        request: EngineRequest,
        cost: int,
        assistant_id: str | None,
    ) -> None:
        self.id = new_id("gen_", 24)
        self.created_at = utc_now()
        self.store, self.engine, self.request = store, engine, request
        self.cost = cost
        self.assistant_id = assistant_id
        self.pieces: list[str] = []
        self.finished: Finished | None = None
        #: The balance as the last write left it (reserve, complete or refund), read inside that write.
        self.balance_remaining: int | None = None
        self.failed = False
        self._reserved = False
        self._settled = False
        self._lock = threading.Lock()

    @property
    def content(self) -> str:
        return "".join(self.pieces)

    @property
    def usage(self) -> Usage | None:
        if self.finished is None:
            return None
        done = self.finished
        return Usage(
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            total_tokens=done.prompt_tokens + done.completion_tokens,
        )

    def reserve(self) -> bool:
        """Hold the cost and keep this generation as 'pending', in one transaction; False if the balance is short."""
        left = self.store.reserve(self.cost, self._row(self.cost))
        with self._lock:
            self._reserved = left is not None
            self.balance_remaining = left
        return left is not None

    def cancel(self) -> None:
        """The caller left: tell the engine to stop now."""
        self.request.cancel()

    def _row(self, tokens_used: int) -> dict[str, Any]:
        usage = self.usage
        return {
            "id": self.id,
            "assistant_id": self.assistant_id,
            "model": self.request.model,
            "engine": self.engine.name,
            "content": self.content,
            "tokens_used": tokens_used,
            "usage": usage.model_dump() if usage else None,
            "created_at": self.created_at,
        }

    def complete(self, finished: Finished) -> None:
        """Keep the finished generation: the reserved cost stays charged."""
        with self._lock:
            if self._settled:
                return
            self.finished = finished
            self.balance_remaining = self.store.complete(self._row(self.cost))
            self._settled = True

    def add(self, text: str) -> str:
        """Keep a piece of the answer, made valid text; the piece as kept."""
        piece = scalar_text(text)
        self.pieces.append(piece)
        return piece

    def settle(self) -> None:
        """Unless it completed: stop the engine, give the cost back and keep the failed attempt."""
        with self._lock:
            if self._settled:
                return
            self._settled = True
            self.request.cancel()
            if self._reserved:
                status = "failed" if self.failed else "cancelled"
                self.balance_remaining = self.store.refund(self.id, status)
                if self.pieces:
                    self.store.keep_partial(self.id, self.content)


class _Feed:
    """Runs the engine's iterator in its own thread and hands the events to the event loop."""

    def __init__(self, engine: Engine, request: EngineRequest) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        thread = threading.Thread(
            target=self._run, args=(engine, request), name=f"engine-{engine.name}", daemon=True
        )
        thread.start()

    def _run(self, engine: Engine, request: EngineRequest) -> None:
        outcome: object = _END
        events = None
        try:
            events = iter(engine.generate(request))
            for event in events:
                self._put(event)
                if request.cancelled.is_set():
                    break
        except BaseException as exc:  # handed to the event loop, which decides what the caller sees
            outcome = exc
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                try:
                    close()  # the engine's own clean-up (freeing the model) runs here, before the end is told
                except Exception:
                    log.exception("Closing the engine's answer failed.")
            self._put(outcome)

    def _put(self, item: object) -> None:
        # RuntimeError: the event loop is gone because the server stopped; nobody is listening.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def next(self) -> EngineEvent | None:
        """The next event; None when the engine returned; raises what the engine raised."""
        item = await self._queue.get()
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]


def _sse(event: Any) -> dict[str, Any]:
    data = event.model_dump_json(exclude_none=True)
    return {"type": "http.response.body", "body": f"data: {data}\n\n".encode(), "more_body": True}


_STOPPED = "The engine stopped before finishing its answer."


class GenerationResponse(Response):
    """Answers with the finished Generation (JSON) or streams it (SSE), watching for the caller leaving."""

    def __init__(self, job: Job, *, stream: bool, keepalive: float = KEEPALIVE_SECONDS) -> None:
        super().__init__(status_code=200)
        self.job = job
        self.stream = stream
        self.keepalive = keepalive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        job = self.job

        async def watch(group: anyio.abc.TaskGroup) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            job.cancel()
            group.cancel_scope.cancel()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(watch, group)
                feed = _Feed(job.engine, job.request)
                if self.stream:
                    await self._stream(feed, scope, receive, send)
                else:
                    await self._collect(feed, scope, receive, send)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(job.settle)

    async def _refund_failed(self) -> None:
        # Before the caller is told, so that the balance it reads next is already right.
        self.job.failed = True
        await anyio.to_thread.run_sync(self.job.settle)

    async def _fail_before_start(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        await self._refund_failed()
        status, code, message = failure(exc)
        details = {"engine": self.job.engine.name, "model": self.job.request.model}
        await error_response(status, code, message, details)(scope, receive, send)

    async def _collect(self, feed: _Feed, scope: Scope, receive: Receive, send: Send) -> None:
        job = self.job
        try:
            while True:
                event = await feed.next()
                if event is None:
                    raise EngineFailed(_STOPPED)
                if isinstance(event, Delta):
                    job.add(event.text)
                elif isinstance(event, Finished):
                    await anyio.to_thread.run_sync(job.complete, event)
                    break
        except Exception as exc:
            await self._fail_before_start(exc, scope, receive, send)
            return
        assert job.finished is not None
        body = Generation(
            id=job.id,
            status="completed",
            model=job.request.model,
            content=job.content,
            tokens_used=job.cost,
            balance_remaining=job.balance_remaining,
            usage=job.usage,
            created_at=job.created_at,
            engine=job.engine.name,
            history_truncated=job.finished.history_truncated,
        )
        await JSONResponse(body.model_dump(mode="json"))(scope, receive, send)

    async def _stream(self, feed: _Feed, scope: Scope, receive: Receive, send: Send) -> None:
        job = self.job
        # Wait for the engine's first word so that a model that cannot run still gets a plain error status.
        try:
            event = await feed.next()
        except Exception as exc:
            await self._fail_before_start(exc, scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": list(_SSE_HEADERS)})
        await send(_sse(GenerationStart(id=job.id, model=job.request.model, engine=job.engine.name)))
        try:
            while True:
                if event is None:
                    raise EngineFailed(_STOPPED)
                if isinstance(event, Waiting):
                    await send(_sse(Queued(position=event.position)))
                elif isinstance(event, Delta):
                    await send(_sse(ContentDelta(delta=job.add(event.text))))
                elif isinstance(event, Finished):
                    await anyio.to_thread.run_sync(job.complete, event)
                    end = GenerationEnd(
                        id=job.id,
                        tokens_used=job.cost,
                        balance_remaining=job.balance_remaining,
                        usage=job.usage,
                        history_truncated=event.history_truncated,
                    )
                    await send(_sse(end))
                    break
                event = await self._next_keeping_alive(feed, send)
        except Exception as exc:
            await self._refund_failed()
            _, code, message = failure(exc)
            await send(_sse(StreamErrorEvent(message=message, error=code)))
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _next_keeping_alive(self, feed: _Feed, send: Send) -> EngineEvent | None:
        """The engine's next event; a comment goes out after each `keepalive` seconds without one."""
        while True:
            # Cancelling a queue's get() leaves the item in the queue, so nothing is lost at the timeout.
            with anyio.move_on_after(self.keepalive):
                return await feed.next()
            await send(_KEEPALIVE)
