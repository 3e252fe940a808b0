"""The studio's backend: the Assistants API clients, their errors and settings, and the local server.

Names are imported on first use, so `import backend.schemas` (or `backend.errors`) stays light and does not
pull in httpx for code that never talks to a server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.client import AssistantsClient, AsyncAssistantsClient
    from backend.connection import Connection, open_connection
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

_HOMES = {
    "AssistantsClient": "backend.client",
    "AsyncAssistantsClient": "backend.client",
    "Connection": "backend.connection",
    "open_connection": "backend.connection",
    "Settings": "backend.settings",
    "AsyncGenerationStream": "backend.streaming",
    "GenerationStream": "backend.streaming",
    **dict.fromkeys(
        [
            "APIConnectionError",
            "APIStatusError",
            "APITimeoutError",
            "AssistantsError",
            "AuthenticationError",
            "BadRequestError",
            "InsufficientTokensError",
            "ModelUnavailableError",
            "NotFoundError",
            "PermissionDeniedError",
            "ProviderError",
            "RateLimitError",
            "StreamError",
            "StreamInterruptedError",
            "UnexpectedResponseError",
            "ValidationError",
        ],
        "backend.errors",
    ),
}

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
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'backend' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
