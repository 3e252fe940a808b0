"""One tree of errors for everything that can go wrong talking to the Assistants API.

    AssistantsError                      base; ``.user_message`` is fit to show a person
    ├── APIConnectionError               the server could not be reached
    │   └── APITimeoutError              it did not answer in time
    ├── APIStatusError                   the server answered with an error status
    │   ├── BadRequestError              400 bad_request
    │   ├── AuthenticationError          401 not_authenticated / token_expired
    │   ├── InsufficientTokensError      402 insufficient_tokens
    │   ├── PermissionDeniedError        403 insufficient_plan
    │   ├── NotFoundError                404 not_found
    │   ├── ValidationError              422 validation_error, ``.field_errors`` per field
    │   ├── RateLimitError               429 rate_limit_exceeded, ``.retry_after``
    │   ├── ProviderError                500 provider_error (and other 5xx)
    │   └── ModelUnavailableError        503 model_unavailable
    ├── StreamError                      an ``error`` event after the stream began
    │   └── StreamInterruptedError       the stream ended before ``generation_end``
    └── UnexpectedResponseError          a body that is not the contract

Every message names the cause and the next step. The API key never appears in one: text that comes from
a server is passed through :func:`redact` first, and the client hides its own key, whatever its shape,
with :meth:`AssistantsError.hide` before raising.
"""

from __future__ import annotations

import re
from typing import Any

_KEY_PATTERN = re.compile(r"nb_[A-Za-z0-9_\-]{6,}")
# A shorter secret would blank out ordinary words; real keys are far longer.
_SECRET_MIN = 4
BASE_URL_HINT = "Check that the base URL points at an Assistants API (it usually ends in /api/v2)."


def redact(text: str) -> str:
    """Blank out anything that looks like an API key."""
    return _KEY_PATTERN.sub("nb_***", text)


def quantity(count: float, noun: str) -> str:
    """`count` and `noun`, plural unless the count is one: "1 token", "2 tokens", "0 seconds"."""
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {noun}" if shown == "1" else f"{shown} {noun}s"


def _mask(value: Any, secret: str) -> Any:
    """`value` with every occurrence of `secret` blanked out, inside strings, lists and dicts."""
    if isinstance(value, str):
        return value.replace(secret, "***")
    if isinstance(value, dict):
        return {_mask(k, secret): _mask(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v, secret) for v in value)
    return value


class AssistantsError(Exception):
    """Base of every error the client raises."""

    #: What to do about it, appended to the message shown to a person.
    next_step: str = "Try again; if it keeps happening, check the server's status."

    #: A next step that replaces the class's own, when this instance knows better (see error_from_response).
    hint: str | None = None

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)

    @property
    def advice(self) -> str:
        """The next step shown to a person."""
        return self.hint if self.hint is not None else self.next_step

    @property
    def user_message(self) -> str:
        return f"{self.message} {self.advice}".strip()

    def hide(self, secret: str | None) -> AssistantsError:
        """Blank out `secret` (the caller's own key, whatever its shape) everywhere in this error; returns it."""
        if not secret or len(secret.strip()) < _SECRET_MIN:
            return self
        for name, value in vars(self).items():
            if isinstance(value, str | dict | list):
                setattr(self, name, _mask(value, secret))
        self.args = _mask(self.args, secret)
        return self


class APIConnectionError(AssistantsError):
    next_step = "Check that the server is running and the base URL (STUDIO_BASE_URL) is right, then retry."


class APITimeoutError(APIConnectionError):
    next_step = "The server may be busy: retry, or raise STUDIO_READ_TIMEOUT."


class APIStatusError(AssistantsError):
    status_code: int = 0
    default_code: str = ""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code
        self.code = code or self.default_code
        self.details = details or {}
        self.body = body or {}


class BadRequestError(APIStatusError):
    status_code, default_code = 400, "bad_request"

    @property
    def next_step(self) -> str:  # type: ignore[override]
        if self.status_code == 413 or "limit_bytes" in self.details:
            # The local server's message already says how to shorten; a 413 from elsewhere does not.
            return "" if "shorten" in self.message.lower() else "Shorten the conversation or start a new one."
        return "The request was malformed; this is likely a bug in the caller - please report it."


class AuthenticationError(APIStatusError):
    status_code, default_code = 401, "not_authenticated"

    @property
    def next_step(self) -> str:  # type: ignore[override]
        if self.code == "token_expired":
            return "Your API key has expired: create a new one in your account and set STUDIO_API_KEY."
        return "Check the API key in STUDIO_API_KEY (your .env file or environment)."


class InsufficientTokensError(APIStatusError):
    status_code, default_code = 402, "insufficient_tokens"

    @property
    def next_step(self) -> str:  # type: ignore[override]
        required, balance = _count(self.details.get("required")), _count(self.details.get("balance"))
        # No request costs less than 1 token, so a cheaper model helps only a balance of 1 or more.
        if (balance is not None and balance < 1) or (required is not None and required <= 1):
            return "Top up your balance. Nothing was charged."
        if balance is not None:
            cheaper = quantity(balance, "token")
            return f"Top up your balance, or pick a model that costs at most {cheaper}. Nothing was charged."
        return "Top up your balance, or pick a cheaper model. Nothing was charged."


class PermissionDeniedError(APIStatusError):
    status_code, default_code = 403, "insufficient_plan"

    @property
    def next_step(self) -> str:  # type: ignore[override]
        setting = self.details.get("setting")
        if isinstance(setting, str) and setting:  # the local server: its plan is one of its settings
            return f"Set {setting} to VIP or Elite and restart the local server."
        return "Upgrade your plan to VIP or Elite, or use the local server."


class NotFoundError(APIStatusError):
    status_code, default_code = 404, "not_found"
    next_step = "It may have been deleted: list them again and choose another."


class ValidationError(APIStatusError):
    status_code, default_code = 422, "validation_error"
    next_step = "Correct the fields named and try again."

    @property
    def field_errors(self) -> dict[str, str]:
        """Problems per field, read from `details` whichever shape the server used."""
        details = self.details
        errors: dict[str, str] = {}
        items = details.get("fields") if isinstance(details.get("fields"), (dict, list)) else details
        if isinstance(items, dict):
            for field, problem in items.items():
                errors[str(field)] = redact(
                    problem if isinstance(problem, str) else "; ".join(map(str, problem))
                )
        elif isinstance(items, list):
            for entry in items:
                if isinstance(entry, dict):
                    loc = entry.get("field") or ".".join(str(p) for p in entry.get("loc", []) if p != "body")
                    errors[str(loc)] = redact(str(entry.get("msg") or entry.get("message") or entry))
        return errors

    @property
    def user_message(self) -> str:
        fields = "; ".join(f"{name}: {problem}" for name, problem in self.field_errors.items())
        base = f"{self.message} ({fields})" if fields and fields not in self.message else self.message
        return f"{base} {self.advice}"


class RateLimitError(APIStatusError):
    status_code, default_code = 429, "rate_limit_exceeded"

    @property
    def retry_after(self) -> float | None:
        value = self.body.get("retry_after", self.details.get("retry_after"))
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def next_step(self) -> str:  # type: ignore[override]
        # The message already says a limit was reached; this says only when and what else to do.
        wait = self.retry_after
        when = f"in {quantity(round(wait), 'second')}" if wait is not None else "in a little while"
        setting = self.details.get("setting")
        if isinstance(setting, str) and setting:  # the local server: its limits are its settings
            return f"Try again {when}, or raise {setting} and restart the local server."
        return f"Try again {when}, or upgrade your plan."


class ProviderError(APIStatusError):
    status_code, default_code = 500, "provider_error"

    @property
    def next_step(self) -> str:  # type: ignore[override]
        # Only the contract's provider_error promises that nothing was charged; a gateway's 502/504 does not.
        if self.body.get("error") == "provider_error" and self.status_code in (200, 500):
            return "The model provider failed and nothing was charged: retry, or pick another model."
        return "The request may have been processed: check your balance before retrying."


class ModelUnavailableError(APIStatusError):
    status_code, default_code = 503, "model_unavailable"
    next_step = "The model is down for now: retry later, or pick another model."


class StreamError(AssistantsError):
    # What a caller can do, whatever it is: a script, the CLI or the studio (which names its own button).
    next_step = "Send the request again."

    def __init__(self, message: str, *, code: str | None = None, partial: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.partial = partial


class StreamInterruptedError(StreamError):
    """The stream ended before `generation_end`: the connection dropped, or the server stopped sending."""


class UnexpectedResponseError(AssistantsError):
    next_step = BASE_URL_HINT


def _count(value: Any) -> int | None:
    """A whole number from an error's details, or None (a bool or a string is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        InsufficientTokensError,
        PermissionDeniedError,
        NotFoundError,
        ValidationError,
        RateLimitError,
        ProviderError,
        ModelUnavailableError,
    )
}
_BY_CODE: dict[str, type[APIStatusError]] = {cls.default_code: cls for cls in _BY_STATUS.values()}
_BY_CODE["token_expired"] = AuthenticationError

_DEFAULT_MESSAGES = {
    400: "The server could not read the request.",
    401: "The API key was refused.",
    402: "Your token balance is too low for this request.",
    403: "Your plan does not include API access.",
    404: "Not found.",
    413: "The request is too large for the server.",
    422: "Some fields are not valid.",
    429: "Too many requests.",
    500: "The model provider failed.",
    503: "The model is unavailable.",
}


def is_error_body(body: Any) -> bool:
    """Whether `body` is an Assistants API error (the contract's, or FastAPI's validation list)."""
    return isinstance(body, dict) and (
        isinstance(body.get("error"), str) or isinstance(body.get("detail"), list)
    )


def snippet(text: str, limit: int = 80) -> str:
    """The first characters of a body on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe_text(text: str, content_type: str = "") -> str:
    """What a body that is not an API error is, for a person: 'an HTML page ("<!doctype html>...")'."""
    if not text.strip():
        return "an empty body"
    content_type = content_type.partition(";")[0].strip().lower()
    if "html" in content_type or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        kind = "an HTML page"
    elif "json" in content_type:
        kind = "JSON that is not an API error"
    elif content_type:
        kind = f"{content_type} that is not JSON"
    else:
        kind = "text that is not JSON"
    return f"{kind} ({snippet(text)!r})"


def error_from_response(
    status_code: int,
    body: Any,
    retry_after_header: str | None = None,
    *,
    server: str | None = None,
    text: str = "",
    content_type: str = "",
) -> APIStatusError:
    """Map a status and an error body (if it is one) to the right error class. The one place this is done.

    `server`, `text` and `content_type` describe an answer whose body is not an API error (a proxy's or a
    web server's page): the status still picks the class, but the message says what actually answered.
    """
    contract = is_error_body(body)
    body = body if isinstance(body, dict) else {}
    code = body.get("error") if isinstance(body.get("error"), str) else None
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    if isinstance(body.get("details"), list):
        details = {"fields": body["details"]}
    if isinstance(body.get("detail"), list):  # FastAPI's own validation shape
        details = {"fields": body["detail"]}
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = _BY_CODE.get(code or "") or (ProviderError if status_code >= 500 else BadRequestError)
    message = body.get("message") if contract and isinstance(body.get("message"), str) else None
    hint = None
    if message is None and not contract and server is not None:
        message, hint = _not_the_api(status_code, server, describe_text(text, content_type))
    message = message or _DEFAULT_MESSAGES.get(status_code, f"The server answered with status {status_code}.")
    if retry_after_header is not None and "retry_after" not in body:
        body = {**body, "retry_after": retry_after_header}
    error = cls(message, status_code=status_code, code=code, details=details, body=body)
    error.hint = hint
    return error


def _not_the_api(status_code: int, server: str, described: str) -> tuple[str | None, str | None]:
    """The message and next step for an error status whose body is not an API error."""
    if status_code in (413, 429):
        return None, None  # meaningful whoever sent it; the class says what to do
    if status_code == 503:
        return f"{server} answered 503 with {described}.", "The server is unavailable for now: retry later."
    if status_code >= 500:
        return f"The server at {server} failed (status {status_code}).", None  # ProviderError's next step
    return f"{server} answered {status_code} with {described}.", BASE_URL_HINT
