"""The Assistants API clients: AssistantsClient (sync) and AsyncAssistantsClient (async), over httpx.

Both share everything in `backend._base` (building calls, reading answers, naming failures) and
`backend.retries` (when to send again); each adds only the sending. See docs/architecture.md.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, ExitStack
from types import TracebackType
from typing import Any, TypeVar, Unpack

import anyio
import httpx
from httpx_sse import EventSource, aconnect_sse, connect_sse
from pydantic import SecretStr

from backend import _base as base
from backend import calls
from backend._base import BaseClient, Call, Flow
from backend.calls import GenerateOptions
from backend.errors import AssistantsError
from backend.retries import Retrying
from backend.schemas import Assistant, Balance, Deleted, Generation, MarketplaceItem, Message, ModelInfo, Page
from backend.streaming import AsyncGenerationStream, GenerationStream

T = TypeVar("T")
Messages = Iterable[Message | dict[str, Any]]


class AssistantsClient(BaseClient):
    """The synchronous client; `with AssistantsClient(...) as client:` closes its connections."""

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_retries: int = 2,
        retry_max_wait: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_retries=max_retries,
            retry_max_wait=retry_max_wait,
            jitter=jitter,
        )
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, **self._http_options())
        self.assistants = Assistants(self)
        self.marketplace = Marketplace(self)
        self.models = Models(self)

    def balance(self) -> Balance:
        """The account's token balance and plan."""
        return self._run(calls.get_balance())

    def generate(self, messages: Messages, **options: Unpack[GenerateOptions]) -> Generation:
        """One complete answer to the conversation `messages`."""
        return self._run(calls.generate(messages, **options))

    def generate_stream(self, messages: Messages, **options: Unpack[GenerateOptions]) -> GenerationStream:
        """The answer as events; sent when entered (or first iterated)."""
        call = calls.generate(messages, stream=True, **options)
        return GenerationStream(lambda: self._send(call, lambda _: self._open_stream(call)), hide=self._hide)

    def server_info(self) -> dict[str, Any]:
        """The local server's engines and routes; {} from a server without that extension."""
        return self._run(calls.server_info())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AssistantsClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, flow: Call[T] | Flow[T]) -> T:
        """Send a call, or drive a flow of calls to its result."""
        if isinstance(flow, Call):
            return self._request(flow)
        try:
            call = next(flow)
            while True:
                try:
                    result = self._request(call)
                except AssistantsError as error:
                    call = flow.throw(error)
                else:
                    call = flow.send(result)
        except StopIteration as stop:
            return stop.value

    def _request(self, call: Call[T]) -> T:
        def once(tries: Retrying) -> T:
            response = self._http.request(call.method, call.path, params=call.params, json=call.body)
            return base.read_response(call, response, maybe_received=tries.maybe_received)

        return self._send(call, once)

    def _open_stream(self, call: Call[Any]) -> tuple[ExitStack, EventSource]:
        stack = ExitStack()
        try:
            source = stack.enter_context(connect_sse(self._http, call.method, call.path, json=call.body))
            if not base.is_event_stream(source.response):
                source.response.read()
                raise base.stream_failure(source.response)
        except BaseException:
            stack.close()
            raise
        return stack, source

    def _send(self, call: Call[Any], once: Callable[[Retrying], T]) -> T:
        """Make attempts until one succeeds or the retry rules say stop."""
        tries = self._retrying(call)
        while True:
            try:
                return once(tries)
            except (httpx.HTTPError, AssistantsError) as exc:
                wait = self._after_failure(tries, exc)
            self._sleep(wait)


class AsyncAssistantsClient(BaseClient):
    """The asynchronous client; `async with AsyncAssistantsClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_retries: int = 2,
        retry_max_wait: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_retries=max_retries,
            retry_max_wait=retry_max_wait,
            jitter=jitter,
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, **self._http_options())
        self.assistants = AsyncAssistants(self)
        self.marketplace = AsyncMarketplace(self)
        self.models = AsyncModels(self)

    async def balance(self) -> Balance:
        """The account's token balance and plan."""
        return await self._run(calls.get_balance())

    async def generate(self, messages: Messages, **options: Unpack[GenerateOptions]) -> Generation:
        """One complete answer to the conversation `messages`."""
        return await self._run(calls.generate(messages, **options))

    def generate_stream(
        self, messages: Messages, **options: Unpack[GenerateOptions]
    ) -> AsyncGenerationStream:
        """The answer as events; sent when entered (or first iterated)."""
        call = calls.generate(messages, stream=True, **options)

        async def opener() -> tuple[AsyncExitStack, EventSource]:
            return await self._send(call, lambda _: self._open_stream(call))

        return AsyncGenerationStream(opener, hide=self._hide)

    async def server_info(self) -> dict[str, Any]:
        """The local server's engines and routes; {} from a server without that extension."""
        return await self._run(calls.server_info())

    async def close(self) -> None:
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncAssistantsClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _run(self, flow: Call[T] | Flow[T]) -> T:
        """Send a call, or drive a flow of calls to its result."""
        if isinstance(flow, Call):
            return await self._request(flow)
        try:
            call = next(flow)
            while True:
                try:
                    result = await self._request(call)
                except AssistantsError as error:
                    call = flow.throw(error)
                else:
                    call = flow.send(result)
        except StopIteration as stop:
            return stop.value

    async def _request(self, call: Call[T]) -> T:
        async def once(tries: Retrying) -> T:
            response = await self._http.request(call.method, call.path, params=call.params, json=call.body)
            return base.read_response(call, response, maybe_received=tries.maybe_received)

        return await self._send(call, once)

    async def _open_stream(self, call: Call[Any]) -> tuple[AsyncExitStack, EventSource]:
        stack = AsyncExitStack()
        try:
            source = await stack.enter_async_context(
                aconnect_sse(self._http, call.method, call.path, json=call.body)
            )
            if not base.is_event_stream(source.response):
                await source.response.aread()
                raise base.stream_failure(source.response)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stack.aclose()
            raise
        return stack, source

    async def _send(self, call: Call[Any], once: Callable[[Retrying], Awaitable[T]]) -> T:
        """Make attempts until one succeeds or the retry rules say stop."""
        tries = self._retrying(call)
        while True:
            try:
                return await once(tries)
            except (httpx.HTTPError, AssistantsError) as exc:
                wait = self._after_failure(tries, exc)
            await self._sleep(wait)


# --- Resources: named after the API's nouns; ids positional, the rest keyword-only ---------------------


class _Resource:
    def __init__(self, client: AssistantsClient | AsyncAssistantsClient) -> None:
        self._run: Any = client._run


class Assistants(_Resource):
    """`client.assistants`: your own assistants."""

    def list(self, *, page: int = 1, limit: int = 100) -> Page[Assistant]:
        return self._run(calls.list_assistants(page, limit))

    def list_all(self, *, limit: int = 100) -> list[Assistant]:
        """Every assistant, fetching page after page."""
        return self._run(calls.list_all_assistants(limit))

    def get(self, assistant_id: str) -> Assistant:
        return self._run(calls.get_assistant(assistant_id))

    def create(self, *, name: str, model: str, instructions: str = "", description: str = "") -> Assistant:
        return self._run(calls.create_assistant(name, model, instructions, description))

    def update(
        self,
        assistant_id: str,
        *,
        name: str | None = None,
        model: str | None = None,
        instructions: str | None = None,
        description: str | None = None,
    ) -> Assistant:
        """Change only the fields given."""
        call = calls.update_assistant(
            assistant_id, name=name, model=model, instructions=instructions, description=description
        )
        return self._run(call)

    def delete(self, assistant_id: str) -> Deleted:
        return self._run(calls.delete_assistant(assistant_id))


class Marketplace(_Resource):
    """`client.marketplace`: community assistants."""

    def list(
        self, *, category: str | None = None, q: str | None = None, page: int = 1, limit: int = 20
    ) -> Page[MarketplaceItem]:
        return self._run(calls.list_marketplace(category, q, page, limit))

    def categories(self) -> list[str]:
        return self._run(calls.marketplace_categories())


class Models(_Resource):
    """`client.models`: the models and their prices."""

    def list(self) -> list[ModelInfo]:
        return self._run(calls.list_models())

    def get(self, slug: str) -> ModelInfo:
        return self._run(calls.get_model(slug))


class AsyncAssistants(_Resource):
    """`client.assistants` of the async client."""

    async def list(self, *, page: int = 1, limit: int = 100) -> Page[Assistant]:
        return await self._run(calls.list_assistants(page, limit))

    async def list_all(self, *, limit: int = 100) -> list[Assistant]:
        """Every assistant, fetching page after page."""
        return await self._run(calls.list_all_assistants(limit))

    async def get(self, assistant_id: str) -> Assistant:
        return await self._run(calls.get_assistant(assistant_id))

    async def create(
        self, *, name: str, model: str, instructions: str = "", description: str = ""
    ) -> Assistant:
        return await self._run(calls.create_assistant(name, model, instructions, description))

    async def update(
        self,
        assistant_id: str,
        *,
        name: str | None = None,
        model: str | None = None,
        instructions: str | None = None,
        description: str | None = None,
    ) -> Assistant:
        """Change only the fields given."""
        call = calls.update_assistant(
            assistant_id, name=name, model=model, instructions=instructions, description=description
        )
        return await self._run(call)

    async def delete(self, assistant_id: str) -> Deleted:
        return await self._run(calls.delete_assistant(assistant_id))


class AsyncMarketplace(_Resource):
    """`client.marketplace` of the async client."""

    async def list(
        self, *, category: str | None = None, q: str | None = None, page: int = 1, limit: int = 20
    ) -> Page[MarketplaceItem]:
        return await self._run(calls.list_marketplace(category, q, page, limit))

    async def categories(self) -> list[str]:
        return await self._run(calls.marketplace_categories())


class AsyncModels(_Resource):
    """`client.models` of the async client."""

    async def list(self) -> list[ModelInfo]:
        return await self._run(calls.list_models())

    async def get(self, slug: str) -> ModelInfo:
        return await self._run(calls.get_model(slug))
