"""Shortening a conversation until it fits the model's context window, measured with the real tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Messages = list[dict[str, str]]


class ContextTooSmall(ValueError):
    """Even the instructions and the last message, trimmed to nothing, do not fit."""


@dataclass
class Fitted:
    """The conversation as it will be sent, its size in tokens, and whether anything was cut."""

    messages: Messages
    prompt_tokens: int
    truncated: bool


def fit_messages(
    messages: Messages,
    budget: int,
    measure: Callable[[Messages], int],
    trim_start: Callable[[str, int], str],
) -> Fitted:
    """Drop the oldest turns, then trim the start of the last user message, until it fits ``budget`` tokens."""
    # System messages (the instructions) are never dropped, nor the last user message or what follows it.
    # ``measure`` formats and tokenizes a conversation; ``trim_start(text, n)`` cuts a text's first n tokens.
    size = measure(messages)
    if size <= budget:
        return Fitted(messages, size, False)

    tail = _last_user_index(messages)
    droppable = [i for i in range(tail) if messages[i]["role"] != "system"]

    def without_oldest(k: int) -> Messages:
        dropped = set(droppable[:k])
        # A history that resumes on an assistant reply reads as if the model spoke first: skip to a user turn.
        j = k
        while j < len(droppable) and messages[droppable[j]]["role"] == "assistant":
            dropped.add(droppable[j])
            j += 1
        return [m for i, m in enumerate(messages) if i not in dropped]

    # Fewest drops that fit, by bisection: each probe is a full format and tokenize of the conversation.
    low, high = 1, len(droppable)
    best: tuple[Messages, int] | None = None
    while low <= high:
        mid = (low + high) // 2
        candidate = without_oldest(mid)
        size = measure(candidate)
        if size <= budget:
            best = (candidate, size)
            high = mid - 1
        else:
            low = mid + 1
    if best is not None:
        return Fitted(best[0], best[1], True)

    return _trim_last_message(without_oldest(len(droppable)), budget, measure, trim_start)


def _last_user_index(messages: Messages) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "user":
            return i
    return max(len(messages) - 1, 0)


def _trim_last_message(
    messages: Messages,
    budget: int,
    measure: Callable[[Messages], int],
    trim_start: Callable[[str, int], str],
) -> Fitted:
    """Cut the beginning of the last user message, which keeps the question it usually ends with."""
    index = _last_user_index(messages)
    if not messages or messages[index]["role"] == "system":
        raise ContextTooSmall(_too_small(measure(messages), budget))
    original = messages[index]["content"]
    excess = measure(messages) - budget
    # Token boundaries move when a text is cut and re-tokenized, so correct the cut a few times.
    for _ in range(6):
        trimmed = trim_start(original, excess)
        candidate = [*messages[:index], {**messages[index], "content": trimmed}, *messages[index + 1 :]]
        size = measure(candidate)
        if size <= budget:
            return Fitted(candidate, size, True)
        if not trimmed:
            break
        excess += size - budget
    raise ContextTooSmall(_too_small(size, budget))


def _too_small(size: int, budget: int) -> str:
    return (
        f"The instructions alone take {size} tokens, more than the {budget} the local model has room for: "
        "shorten them, or raise STUDIO_MODEL_CONTEXT."
    )
