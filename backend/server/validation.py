"""Reading and checking request bodies: the size limit, JSON objects, and the fields of each route."""

from __future__ import annotations

import json
from typing import Any, get_args

from starlette.requests import Request

from backend.schemas import DESCRIPTION_MAX, INSTRUCTIONS_MAX, MESSAGE_MAX, MESSAGES_MAX, NAME_MAX, Role
from backend.server.auth import ApiError
from backend.server.catalog import MODELS, model_hint

MAX_TOKENS_LIMIT = 8192
#: The largest body read; a longer conversation is refused before any of it is parsed.
MAX_BODY_BYTES = 2 * 1024 * 1024
_ROLES = frozenset(get_args(Role))


def invalid(problems: dict[str, str]) -> ApiError:
    return ApiError(
        422, "validation_error", "Some fields are not valid: " + ", ".join(problems) + ".", problems
    )


def unknown_model(slug: object) -> str:
    return f"Unknown model {slug!r}. Choose one of: {model_hint()}, ... (GET /models lists them all)."


def too_large(size: int | None = None) -> ApiError:
    """400 for a body over MAX_BODY_BYTES; `size` when it is known (a chunked body is not read to the end)."""
    limit = MAX_BODY_BYTES / 2**20
    told = f"{size / 2**20:.1f} MB" if size is not None else f"over {limit:g} MB"
    return ApiError(
        400,
        "bad_request",
        f"The request is too large ({told}; the limit is {limit:g} MB): "
        "shorten the conversation or start a new one.",
        {"limit_bytes": MAX_BODY_BYTES, **({"size_bytes": size} if size is not None else {})},
    )


async def read_body(request: Request) -> bytes:
    """The raw body, refused (400) past MAX_BODY_BYTES: by its Content-Length, else while it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def read_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (else 400)."""
    raw = await read_body(request)
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"The body is not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object.")
    return body


def check_assistant(body: dict[str, Any], *, partial: bool) -> dict[str, str]:
    """The four assistant fields from `body`, checked; 422 with a message per bad field."""
    problems: dict[str, str] = {}
    fields: dict[str, str] = {}
    for name, label in (
        ("name", "Name"),
        ("model", "Model"),
        ("instructions", "Instructions"),
        ("description", "Description"),
    ):
        value = body.get(name)
        if value is None:
            if not partial and name in ("name", "model"):
                problems[name] = f"{label} is required."
            continue
        if not isinstance(value, str):
            problems[name] = f"{label} must be a string."
            continue
        fields[name] = value
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if not 1 <= len(fields["name"]) <= NAME_MAX:
            problems["name"] = f"Name must be 1-{NAME_MAX} characters."
    if "model" in fields and fields["model"] not in MODELS:
        problems["model"] = "Model is required." if not fields["model"] else unknown_model(fields["model"])
    if len(fields.get("instructions", "")) > INSTRUCTIONS_MAX:
        problems["instructions"] = f"Instructions must be at most {INSTRUCTIONS_MAX} characters."
    if len(fields.get("description", "")) > DESCRIPTION_MAX:
        problems["description"] = f"Description must be at most {DESCRIPTION_MAX} characters."
    if problems:
        raise invalid(problems)
    return fields


def check_generate(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a generate request, checked; 422 with a message per bad field."""
    problems: dict[str, str] = {}
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        problems["messages"] = "Messages must be a non-empty list of {role, content} objects."
    elif len(messages) > MESSAGES_MAX:
        problems["messages"] = f"At most {MESSAGES_MAX} messages can be sent at once."
    else:
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                problems[f"messages[{i}]"] = "Each message must be an object with a role and a content."
                continue
            if message.get("role") not in _ROLES:
                problems[f"messages[{i}].role"] = "Role must be system, user or assistant."
            content = message.get("content")
            if not isinstance(content, str):
                problems[f"messages[{i}].content"] = "Content must be a string."
            elif len(content) > MESSAGE_MAX:
                problems[f"messages[{i}].content"] = f"Content must be at most {MESSAGE_MAX} characters."
    for name in ("assistant_id", "model", "system"):
        if body.get(name) is not None and not isinstance(body[name], str):
            problems[name] = f"{name.replace('_', ' ').capitalize()} must be a string."
    if len(body.get("system") or "") > MESSAGE_MAX:
        problems["system"] = f"System must be at most {MESSAGE_MAX} characters."
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        problems["temperature"] = "Temperature must be a number from 0 to 2."
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= MAX_TOKENS_LIMIT
    ):
        problems["max_tokens"] = f"Max tokens must be a whole number from 1 to {MAX_TOKENS_LIMIT}, or null."
    if not isinstance(body.get("stream", False), bool):
        problems["stream"] = "Stream must be true or false."
    if not body.get("assistant_id") and not body.get("model") and "model" not in problems:
        problems["model"] = "Give a model, or an assistant_id whose model is used."
    if problems:
        raise invalid(problems)
    return body
