"""The objects of the Assistants API contract, as typed, tolerant pydantic models.

Tolerant reading: unknown fields are kept (``extra="allow"``) so that a newer server does not break the
client, and the docs' older generate shape (``result_text``, ``tokens_spent``, integer ``id``) is read into
the current one. The local server builds its answers from the same models, so the two cannot drift.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant"]

# Field limits the local server enforces (and the UI shows beside each field).
NAME_MAX = 100
DESCRIPTION_MAX = 500
INSTRUCTIONS_MAX = 20_000
MESSAGE_MAX = 100_000
MESSAGES_MAX = 500
#: The API's temperature when a call gives none (the docs: 0.0-2.0, default 0.7).
DEFAULT_TEMPERATURE = 0.7


def utc_now() -> str:
    """The docs' time style: ISO-8601, UTC, with a `Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Message(_Model):
    role: Role
    content: str


class AssistantFields(_Model):
    """The four fields a user writes."""

    name: str
    model: str
    instructions: str = ""
    description: str = ""


class Assistant(AssistantFields):
    id: str
    created_at: str | None = None
    updated_at: str | None = None


class MarketplaceItem(_Model):
    """A community assistant. The docs promise only name and description; the rest is read if present."""

    id: str | None = None
    name: str
    description: str = ""
    instructions: str = ""
    model: str | None = None
    category: str | None = None
    author: str | None = None
    uses: int = 0
    conversation_starters: list[str] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None


T = TypeVar("T")


class Page(_Model, Generic[T]):
    """One page of a list. A bare list from the server is read as a single page holding everything."""

    items: list[T]
    total: int = 0
    page: int = 1
    limit: int = 0
    pages: int = 1

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_list(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"items": data, "total": len(data), "page": 1, "limit": len(data), "pages": 1}
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = dict(data)
            data.setdefault("total", len(data["items"]))
            data.setdefault("limit", len(data["items"]))
            if "pages" not in data and _is_count(data["total"]) and _is_count(data["limit"]):
                data["pages"] = max(1, math.ceil(int(data["total"]) / max(1, int(data["limit"]))))
        return data


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Usage(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Generation(_Model):
    """The answer of `POST /generate`."""

    id: str
    status: Literal["completed", "pending", "failed"] = "completed"
    model: str | None = None
    content: str = ""
    tokens_used: int = 0
    balance_remaining: int | None = None
    usage: Usage | None = None
    created_at: str | None = None
    # Local-server extensions; absent (and so defaulted) on the real service.
    engine: str | None = None
    history_truncated: bool = False

    @model_validator(mode="before")
    @classmethod
    def _accept_older_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "content" not in data and "result_text" in data:
            data["content"] = data.pop("result_text")
        if "tokens_used" not in data and "tokens_spent" in data:
            data["tokens_used"] = data.pop("tokens_spent")
        if isinstance(data.get("id"), int):
            data["id"] = str(data["id"])
        return data


# --- Stream events -------------------------------------------------------------------------------------


class GenerationStart(_Model):
    type: Literal["generation_start"] = "generation_start"
    id: str
    model: str | None = None
    engine: str | None = None


class ContentDelta(_Model):
    type: Literal["content_delta"] = "content_delta"
    delta: str = ""

    @field_validator("delta", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class GenerationEnd(_Model):
    type: Literal["generation_end"] = "generation_end"
    id: str
    tokens_used: int = 0
    balance_remaining: int | None = None
    usage: Usage | None = None
    history_truncated: bool = False


class StreamErrorEvent(_Model):
    type: Literal["error"] = "error"
    message: str = ""
    error: str | None = None


class Queued(_Model):
    """Local-server extension: the request waits for the model; `position` 1 is next."""

    type: Literal["queued"] = "queued"
    position: int


StreamEvent = Annotated[
    GenerationStart | ContentDelta | GenerationEnd | StreamErrorEvent | Queued,
    Field(discriminator="type"),
]


# --- Models, balance, errors ---------------------------------------------------------------------------


class ModelInfo(_Model):
    slug: str
    name: str = ""
    category: str = "text"
    provider: str = ""
    min_plan: str = "Starter"
    token_cost: int = 1
    description_en: str = ""
    supports_streaming: bool = True


class Balance(_Model):
    token_balance: int
    plan: str
    plan_expires_at: str | None = None


class ErrorBody(_Model):
    error: str
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    retry_after: float | None = None
    plan: str | None = None
    limit_hour: int | None = None
    limit_day: int | None = None


class Deleted(_Model):
    id: str
    deleted: bool = True


# --- Requests ------------------------------------------------------------------------------------------


class GenerateRequest(_Model):
    """The body of `POST /generate`. The client sends only the fields that are set."""

    assistant_id: str | None = None
    messages: list[Message] = Field(default_factory=list)
    model: str | None = None
    stream: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    system: str | None = None
