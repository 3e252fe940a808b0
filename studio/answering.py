"""Streaming one answer into a turn of a conversation, measuring it, and logging it.

Shared by the Playground's chat, each of Compare's columns and the test runner: the conversation is sent
whole (the API keeps none), the text arrives into the turn as it streams, and the call is written to the
generation log (times and counts, never the text) however it ends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.schemas import ContentDelta, GenerationEnd, GenerationStart, Queued
from studio.conversation import ChatSession, Turn, TurnStats
from studio.errors import describe_error
from studio.store.generation_log import GenerationRecord, Origin

if TYPE_CHECKING:
    from backend.client import AsyncAssistantsClient

# Deltas are shown at most this often (the first at once, the last always): smooth to the eye, while each
# update costs the server a few milliseconds of Gradio's work, which 50 chatting browsers multiply.
FRAME_SECONDS = 0.04

Logger = Callable[[GenerationRecord], None]


@dataclass
class Outcome:
    """How an answer ended, for what is shown after it."""

    end: GenerationEnd | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class LogContext:
    """What the generation log files a call under."""

    server: str
    origin: Origin
    run_id: str | None = None


async def stream_answer(
    client: AsyncAssistantsClient,
    conversation: ChatSession,
    turn: Turn,
    args: dict[str, Any],
    *,
    model: str,
    outcome: Outcome,
    log: Logger | None = None,
    log_context: LogContext | None = None,
    frame_seconds: float = FRAME_SECONDS,
) -> AsyncIterator[None]:
    """Stream the answer of `turn` into it; yields whenever the page should be drawn again.

    A failure marks the turn failed with a message for a person (and fills `outcome.error`); leaving early
    (Stop, a closed tab) closes the HTTP stream, which frees the model, and marks the turn stopped.
    """
    messages = conversation.to_api_messages()
    started = time.perf_counter()
    shown = started
    first: float | None = None
    engine: str | None = None

    def measured() -> TurnStats:
        end = outcome.end
        usage = end.usage if end is not None else None
        return TurnStats(
            model=model,
            tokens_used=end.tokens_used if end else 0,  # nothing is charged for an answer left early
            first_token_s=first,
            total_s=time.perf_counter() - started,
            engine=engine,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    try:
        async with client.generate_stream(messages, **args) as stream:
            async for event in stream:
                if not turn.in_flight:
                    break  # stopped: leaving the block closes the stream, which frees the model
                if isinstance(event, Queued):
                    turn.notice = f"Waiting for the model (position {event.position})…"
                elif isinstance(event, GenerationStart):
                    model = event.model or model
                    engine = event.engine or engine
                    continue
                elif isinstance(event, ContentDelta):
                    turn.append(event.delta)
                    now = time.perf_counter()
                    if first is not None and now - shown < frame_seconds:
                        continue  # shown with the next frame, or the final view
                    first = now - started if first is None else first
                    shown = now
                elif isinstance(event, GenerationEnd):
                    outcome.end = event
                    continue
                yield None
        conversation.finish(turn, measured())
    except Exception as err:  # any failure: the question stays, marked unanswered
        outcome.error = err
        if turn.status != "stopped":  # the person stopped it first; what broke afterwards is no news to them
            error = describe_error(err, retry_offered=True)
            conversation.fail(turn, error, partial=getattr(err, "partial", "") or turn.answer)
    finally:
        turn.halt(measured())  # a no-op unless the answer ended early: cancelled, closed or stopped
        if log is not None and log_context is not None:
            log(_record(conversation, turn, log_context, outcome, model, turn.stats or measured()))


def _record(
    conversation: ChatSession, turn: Turn, where: LogContext, outcome: Outcome, model: str, stats: TurnStats
) -> GenerationRecord:
    profile = conversation.assistant
    end = outcome.end
    usage = end.usage if end is not None else None
    failed = turn.status == "failed"
    return GenerationRecord(
        server=where.server,
        origin=where.origin,
        run_id=where.run_id,
        model=model,
        engine=stats.engine,
        outcome="failed" if failed else ("completed" if turn.status == "done" else "stopped"),
        error_class=type(outcome.error).__name__ if failed and outcome.error is not None else None,
        total_ms=stats.total_s * 1000,
        first_token_ms=None if stats.first_token_s is None else stats.first_token_s * 1000,
        tokens_used=stats.tokens_used,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        total_tokens=usage.total_tokens if usage else None,
        balance_after=end.balance_remaining if end is not None else None,
        assistant_id=profile.assistant_id if profile.kind == "mine" else None,
        version=profile.version if profile.kind == "mine" else None,
        assistant_name=profile.name,
    )
