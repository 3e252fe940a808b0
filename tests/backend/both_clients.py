"""Both clients behind one async shape, so a scenario written once exercises the sync and async client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from backend.client import AssistantsClient, AsyncAssistantsClient


class AsyncView:
    """The sync client seen in the async client's shape, so one scenario exercises both clients."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name == "generate_stream":
            return lambda *args, **kwargs: _AsyncStreamView(value(*args, **kwargs))
        if callable(value):

            async def call(*args: Any, **kwargs: Any) -> Any:
                return value(*args, **kwargs)

            return call
        return value if isinstance(value, str | int | float) else AsyncView(value)


class _AsyncStreamView:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def __aenter__(self) -> _AsyncStreamView:
        self._stream.__enter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stream.__exit__(*exc)

    def __aiter__(self) -> _AsyncStreamView:
        return self

    async def __anext__(self) -> Any:
        try:
            return next(self._stream)
        except StopIteration:
            raise StopAsyncIteration from None


@asynccontextmanager
async def either_client(kind: str, base_url: str, api_key: str, **options: Any) -> AsyncIterator[Any]:
    """The async client, or the sync client behind an AsyncView."""
    if kind == "async":
        async with AsyncAssistantsClient(base_url, api_key, **options) as client:
            yield client
    else:
        with AssistantsClient(base_url, api_key, **options) as client:
            yield AsyncView(client)
