"""UI fixtures: a StudioContext on the real local server, and the real studio launched on a free port."""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from ui.context import StudioContext


async def _close(client: Any) -> None:
    """Close an async client whichever name it gives its close method."""
    closer = getattr(client, "aclose", None) or client.close
    result = closer()
    if inspect.isawaitable(result):
        await result


def _async_client(server: Any) -> Any:
    from backend.client import AsyncAssistantsClient

    return AsyncAssistantsClient(base_url=server.base_url, api_key=server.api_key)


def make_context(server: Any, client: Any, *, demo: bool = False) -> StudioContext:
    """A StudioContext as app.py makes it: the store a SQLite file in the server's data folder."""
    from studio.saved_chats import fingerprint
    from studio.servers import server_key
    from studio.store import StoreHandle, default_url

    data_dir = server.settings.data_dir
    key = server_key(server.base_url, local_data_dir=data_dir)
    return StudioContext(
        client=client, demo=demo, server_label="Local server", store=StoreHandle(default_url(data_dir)),
        server_key=key, browser_secret="test-secret", browser_fingerprint=fingerprint(key, server.api_key),
    )  # fmt: skip


async def _context(server: Any, *, demo: bool) -> AsyncIterator[StudioContext]:
    client = _async_client(server)
    ctx = make_context(server, client, demo=demo)
    try:
        yield ctx
    finally:
        await _close(client)
        ctx.store.close()


@pytest.fixture
async def studio_ctx(local_server) -> AsyncIterator[StudioContext]:
    """A StudioContext over the local server; the client is made in the test's own event loop."""
    async for ctx in _context(local_server, demo=False):
        yield ctx


@pytest.fixture
async def demo_ctx(local_server) -> AsyncIterator[StudioContext]:
    """The same, in read-only demo mode."""
    async for ctx in _context(local_server, demo=True):
        yield ctx


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_studio(ctx: StudioContext, **options: Any) -> tuple[Any, str]:
    """Build and launch the studio exactly as app.py does, on a free loopback port; returns (blocks, url)."""
    from ui.app import configure_queue, create_app, launch_kwargs

    blocks = configure_queue(create_app(ctx))
    last_error: Exception | None = None
    for _attempt in range(5):  # another process may take the port between picking and binding it
        try:
            _, url, _ = blocks.launch(
                **launch_kwargs(host="127.0.0.1", port=_free_port(), quiet=True, **options),
                prevent_thread_lock=True,
            )
            return blocks, url
        except OSError as err:
            last_error = err
    raise RuntimeError(f"could not launch the studio on a free port: {last_error}")


def _close_in_server_loop(blocks: Any, client: Any) -> None:
    """Close the client in the loop that used it (Gradio's server loop), before that loop stops."""
    servers = getattr(getattr(blocks, "server", None), "servers", None) or []
    if servers:
        asyncio.run_coroutine_threadsafe(_close(client), servers[0].get_loop()).result(timeout=30)


def _launched(local_server: Any, *, demo: bool) -> Iterator[str]:
    client = _async_client(local_server)
    ctx = make_context(local_server, client, demo=demo)
    blocks, url = launch_studio(ctx)
    try:
        yield url
    finally:
        _close_in_server_loop(blocks, client)
        blocks.close()
        ctx.store.close()


@pytest.fixture
def launch() -> Iterator[Callable[..., str]]:
    """Launch the studio for a context with extra launch options (e.g. auth); returns its URL; closed after."""
    launched: list[Any] = []

    def start(ctx: StudioContext, **options: Any) -> str:
        blocks, url = launch_studio(ctx, **options)
        launched.append(blocks)
        return url

    yield start
    for blocks in launched:
        blocks.close()


@pytest.fixture
def launched_studio(local_server) -> Iterator[str]:
    """The full studio on the local server, launched on 127.0.0.1; yields its URL."""
    yield from _launched(local_server, demo=False)


@pytest.fixture
def launched_demo_studio(local_server) -> Iterator[str]:
    """The same studio in read-only demo mode."""
    yield from _launched(local_server, demo=True)
