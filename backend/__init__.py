"""The studio's backend: the Assistants API clients, their errors and settings, and the local server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.client import AssistantsClient, AsyncAssistantsClient
from backend.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AssistantsError,
    AuthenticationError,
    BadRequestError,
    InsufficientTokensError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    StreamError,
    StreamInterruptedError,
    UnexpectedResponseError,
    ValidationError,
)
from backend.settings import Settings
from backend.streaming import AsyncGenerationStream, GenerationStream

if TYPE_CHECKING:
    from backend.connection import Connection, open_connection

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AssistantsClient",
    "AssistantsError",
    "AsyncAssistantsClient",
    "AsyncGenerationStream",
    "AuthenticationError",
    "BadRequestError",
    "Connection",
    "GenerationStream",
    "InsufficientTokensError",
    "ModelUnavailableError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "Settings",
    "StreamError",
    "StreamInterruptedError",
    "UnexpectedResponseError",
    "ValidationError",
    "open_connection",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import backend` stays light for code that never opens a connection.
    if name in {"open_connection", "Connection"}:
        from backend import connection

        return getattr(connection, name)
    raise AttributeError(f"module 'backend' has no attribute {name!r}")
