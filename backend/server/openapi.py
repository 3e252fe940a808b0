"""The served OpenAPI schema: every request body, answer, error and header of the contract, and the local
extensions, complete enough to generate a client from and to fuzz the server with.

Each route names its answer, its errors and its body with `described(...)`; `install(app)` then adds what
every operation shares (the key, the X-RateLimit-* headers, 401/403/500) and the bodies' schemas. The
bodies are read and checked by `validation.py`, not by FastAPI, so that every refusal has the contract's
shape; the models here describe what it accepts, and the schema-driven test keeps the two in step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from backend.schemas import (
    DESCRIPTION_MAX,
    INSTRUCTIONS_MAX,
    MESSAGE_MAX,
    MESSAGES_MAX,
    NAME_MAX,
    ContentDelta,
    GenerationEnd,
    GenerationStart,
    Queued,
    Role,
    StreamErrorEvent,
)
from backend.server.catalog import MODELS
from backend.server.validation import MAX_TOKENS_LIMIT

REF = "#/components/schemas/{model}"
ModelSlug = Annotated[str, WithJsonSchema({"type": "string", "enum": list(MODELS)})]


# --- Bodies -----------------------------------------------------------------------------------------------


class _Body(BaseModel):
    # Unknown fields are ignored, not refused.
    model_config = ConfigDict(extra="allow")


class NewAssistant(_Body):
    """The body of POST /assistants."""

    # Leading and trailing spaces are trimmed; what is left must be 1-100 characters.
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=r"\S")
    model: ModelSlug
    # null, like an absent field, is "".
    instructions: str | None = Field(
        "", max_length=INSTRUCTIONS_MAX, description="The assistant's system prompt."
    )
    description: str | None = Field("", max_length=DESCRIPTION_MAX)


class AssistantChanges(_Body):
    """The body of PUT /assistants/{assistant_id}: only the fields given change (null: unchanged)."""

    name: str | None = Field(None, min_length=1, max_length=NAME_MAX, pattern=r"\S")
    model: ModelSlug | None = None
    instructions: str | None = Field(None, max_length=INSTRUCTIONS_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)


class MessageIn(_Body):
    role: Role
    content: str = Field(max_length=MESSAGE_MAX)


class GenerateBody(_Body):
    """The body of POST /generate: `model`, or an `assistant_id` whose model is used (or both)."""

    # A null field is read as an absent one, so each branch asks for a value, not only for the key.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "anyOf": [
                {"required": ["model"], "properties": {"model": {"type": "string"}}},
                {
                    "required": ["assistant_id"],
                    "properties": {"assistant_id": {"type": "string", "minLength": 1}},
                },
            ]
        },
    )

    messages: list[MessageIn] = Field(min_length=1, max_length=MESSAGES_MAX)
    assistant_id: str | None = Field(None, description="Use this assistant's model and instructions.")
    model: ModelSlug | None = Field(
        None, description="Required without assistant_id; overrides the assistant's."
    )
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    temperature: float | None = Field(None, ge=0, le=2, description="Default 0.7.")
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT, description="Null: the model's default.")
    system: str | None = Field(None, max_length=MESSAGE_MAX, description="A leading system message.")


BODIES: tuple[type[BaseModel], ...] = (NewAssistant, AssistantChanges, GenerateBody)


# --- Answers of the local extensions, and the error body ------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class CategoryCount(BaseModel):
    category: str
    count: int
    name: str
    description: str | None = None


class EngineState(BaseModel):
    engine: str
    state: str
    detail: str
    models: list[str]


class ServerInfo(BaseModel):
    engines: list[EngineState]
    routes: dict[str, str]


ERROR_CODES = (
    "bad_request",
    "not_authenticated",
    "token_expired",
    "insufficient_tokens",
    "insufficient_plan",
    "not_found",
    "method_not_allowed",
    "validation_error",
    "rate_limit_exceeded",
    "provider_error",
    "model_unavailable",
)


class ErrorAnswer(BaseModel):
    """Every error: a code, a message for a person, and details (per field for a 422)."""

    error: Literal[ERROR_CODES]  # type: ignore[valid-type]
    message: str
    details: dict[str, Any]
    # 429 only:
    retry_after: int | None = None
    plan: str | None = None
    limit_hour: int | None = None
    limit_day: int | None = None


_EVENTS = (GenerationStart, ContentDelta, Queued, GenerationEnd, StreamErrorEvent)
# Each event of a stream (OpenAPI 3.1: the schema of text/event-stream describes one event): its data is
# one of the events as JSON, or the final "[DONE]". Comments (": keep-alive") are not events.
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "if": {"const": "[DONE]"},
            "else": {
                "contentMediaType": "application/json",
                "contentSchema": {"oneOf": [{"$ref": REF.format(model=e.__name__)} for e in _EVENTS]},
            },
        },
        "event": {"type": "string"},
    },
}

_WHEN = {
    400: "The body is not JSON, not an object, nested too deeply, or over 2 MB.",
    401: "The key is missing, unknown or expired.",
    402: "The balance is lower than the model's cost; nothing was charged.",
    403: "The account's plan has no API access (VIP or Elite needed).",
    404: "No such assistant or model.",
    405: "The path exists, the method does not; `Allow` lists those that do.",
    422: "Fields are not valid; `details` names each with its problem.",
    429: "A rate limit is reached; `retry_after` says when to try again.",
    500: "The model or the server failed; nothing was charged.",
    503: "The model is unavailable; nothing was charged.",
}
SHARED_ERRORS = (401, 403, 500)


def described(
    answer: Any, *errors: int, body: type[BaseModel] | None = None, stream: bool = False
) -> dict[str, Any]:
    """The route decorator's arguments that put its answer, errors and body in the schema."""
    ok: dict[str, Any] = {"model": answer, "description": "Success."}
    if stream:
        ok["content"] = {"text/event-stream": {"schema": _SSE_EVENT}}
        ok["description"] = "The generation (JSON), or with `stream: true` its events (Server-Sent Events)."
    responses: dict[int | str, dict[str, Any]] = {200: ok}
    for status in errors:
        responses[status] = {"model": ErrorAnswer, "description": _WHEN[status]}
    extra = {}
    if body is not None:
        schema = {"$ref": REF.format(model=body.__name__)}
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return {"responses": responses, "openapi_extra": extra}


_RATE_HEADERS = {
    "X-RateLimit-Limit-Hour": "Requests allowed per hour, or `unlimited`.",
    "X-RateLimit-Remaining-Hour": "Requests left this hour, or `unlimited`.",
    "X-RateLimit-Limit-Day": "Requests allowed per day, or `unlimited`.",
    "X-RateLimit-Remaining-Day": "Requests left today, or `unlimited`.",
    "X-RateLimit-Reset-Hour": "When the hourly window resets (unix time).",
}


def _headers() -> dict[str, Any]:
    count = {"type": "string", "pattern": r"^([0-9]+|unlimited)$"}
    headers = {
        name: {"description": text, "required": True, "schema": count} for name, text in _RATE_HEADERS.items()
    }
    headers["X-RateLimit-Reset-Hour"]["schema"] = {"type": "string", "pattern": r"^[0-9]+$"}
    headers["Retry-After"] = {
        "description": "Seconds to wait.",
        "schema": {"type": "string", "pattern": r"^[0-9]+$"},
    }
    return headers


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document of the routes, with what every operation shares and the bodies' schemas."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in (*BODIES, *_EVENTS, ErrorAnswer):
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's own 422, never answered here
        schemas.pop(unused, None)
    components["headers"] = _headers()
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "nb_... key"}
    }
    document["security"] = [{"bearer": []}]
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorAnswer")}}}
    limits = {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS}
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            for status in SHARED_ERRORS:
                responses.setdefault(str(status), {"description": _WHEN[status]})
            for status, response in responses.items():
                if status != "200":
                    response["content"] = error
                    response.setdefault("description", _WHEN.get(int(status), "An error."))
                response["headers"] = dict(limits)
            if "429" in responses:
                responses["429"]["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
            if "401" in responses:
                responses["401"]["headers"]["WWW-Authenticate"] = {"schema": {"type": "string"}}
    return document


def install(app: FastAPI) -> None:
    """Serve the completed schema at the app's openapi_url."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title, version=app.version, description=app.description, routes=app.routes
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
