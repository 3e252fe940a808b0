"""Plain functions the server tests share: a bare httpx client, SSE reading, a real peer server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from backend.server.embedded import EmbeddedServer


def api(server: EmbeddedServer, **kwargs) -> httpx.Client:
    """A bare httpx client for `server`, with its key."""
    headers = {"Authorization": f"Bearer {server.api_key}", **kwargs.pop("headers", {})}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The response is the contract's error body with this status and code."""
    body = response.json()
    assert response.status_code == status, body
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    assert "detail" not in body
    return body


def sse_events(response: httpx.Response) -> Iterator[dict | str]:
    """The `data:` payloads of an SSE answer: dicts, and the final "[DONE]"."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            yield data if data == "[DONE]" else json.loads(data)


def wait_until(condition, timeout: float = 15.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes; the test asserts the result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port; yields its base URL."""
    # IPPROTO_TCP, so that asyncio turns Nagle's algorithm off on the connections it accepts.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started or not thread.is_alive()) and server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
