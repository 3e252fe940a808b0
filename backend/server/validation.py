"""Reading and checking request bodies: the size limit, JSON objects, and the fields of each route.

The text the API accepts is decided here, once: Unicode scalar values. JSON can spell a lone UTF-16
surrogate (`"\\ud800"`), which Python reads into a str that cannot be encoded, stored or sent back; every
string in a body is checked as it is read, so no route, engine or database ever meets one.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from starlette.requests import Request

from backend.schemas import DESCRIPTION_MAX, INSTRUCTIONS_MAX, MESSAGE_MAX, MESSAGES_MAX, NAME_MAX, Role
from backend.server.auth import ApiError
from backend.server.catalog import MODELS, model_hint

MAX_TOKENS_LIMIT = 8192
#: The largest body read; a longer conversation is refused before any of it is parsed.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: The deepest nesting of arrays and objects read; the contract's bodies need three levels.
MAX_DEPTH = 32
#: The highest page number (a hundred million rows at 100 a page): a page without bound would make a
#: row offset too large for SQLite's 64-bit integers.
PAGE_MAX = 1_000_000
_ROLES = frozenset(get_args(Role))
# A str holds a surrogate code point only when it is unpaired: JSON's escaped pairs are joined when parsed.
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def too_deep() -> ApiError:
    return ApiError(
        400,
        "bad_request",
        f"The body is nested too deeply: at most {MAX_DEPTH} levels of arrays and objects are read.",
        {"max_depth": MAX_DEPTH},
    )


def scalar_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, for text that comes from an engine, not a caller."""
    return _SURROGATE.sub("\ufffd", text)


def check_text(body: Any) -> None:
    """Refuse (422, naming the field) any string in `body`, key or value, that is not Unicode scalar values;
    refuse (400) a body nested deeper than MAX_DEPTH. Iterative, so no body can exhaust the stack."""
    problems: dict[str, str] = {}
    pending: list[tuple[Any, str, int]] = [(body, "", 0)]
    while pending:
        value, where, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise too_deep()
            children = value.items() if isinstance(value, dict) else enumerate(value)
            for name, child in children:
                if isinstance(name, str):
                    # The path is reported back, so a bad name is shown with U+FFFD in its place.
                    path = scalar_text(f"{where}.{name}" if where else name)
                    _check_string(name, path, problems, key=True)
                else:
                    path = f"{where}[{name}]"
                pending.append((child, path, depth + 1))
        elif isinstance(value, str):
            _check_string(value, where or "body", problems)
    if problems:
        raise invalid(dict(sorted(problems.items())))


def _check_string(text: str, where: str, problems: dict[str, str], *, key: bool = False) -> None:
    found = _SURROGATE.search(text)
    if found is not None:
        what = "The name of this field" if key else "The text"
        problems[where] = (
            f"{what} holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x} at character {found.start()}), "
            "which is not a Unicode character: send the text as UTF-8, or escape a character beyond U+FFFF "
            "as a pair (\\ud83d\\ude00)."
        )


async def read_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (else 400) of valid text (else 422)."""
    raw = await read_body(request)
    try:
        body = json.loads(raw)
    except RecursionError:  # the parser recurses per level; a deeper body than the stack is not read
        raise too_deep() from None
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"The body is not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object.")
    check_text(body)
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
            role = message.get("role")
            if not isinstance(role, str) or role not in _ROLES:
                problems[f"messages[{i}].role"] = "Role must be system, user or assistant."
            content = message.get("content")
            if not isinstance(content, str):
                problems[f"messages[{i}].content"] = "Content must be a string."
            elif len(content) > MESSAGE_MAX:
                problems[f"messages[{i}].content"] = f"Content must be at most {MESSAGE_MAX} characters."
    for name in ("assistant_id", "model", "system"):
        if body.get(name) is not None and not isinstance(body[name], str):
            problems[name] = f"{name.replace('_', ' ').capitalize()} must be a string."
    if isinstance(body.get("system"), str) and len(body["system"]) > MESSAGE_MAX:
        problems["system"] = f"System must be at most {MESSAGE_MAX} characters."
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        problems["temperature"] = "Temperature must be a number from 0 to 2."
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, float) and max_tokens.is_integer():
        max_tokens = body["max_tokens"] = int(max_tokens)  # JSON has one kind of number: 64.0 is 64
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
