"""The status line: what it says about a healthy server, a silent one, and one that answers nonsense."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.client import AsyncAssistantsClient
from ui.context import StudioContext
from ui.status import describe_engine, describe_engines, fetch_status

LEAKED_KEY = "nb_" + "k" * 45


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("ready", "ready"),
        ("not_loaded", "loads on first use"),
        ("loading", "loading…"),
        ("unavailable", "unavailable"),
    ],
)
def test_engine_states_read_as_words(state, words):
    engine = {"engine": "llama", "state": state, "detail": "SmolLM2.", "models": ["gpt-5"]}
    assert describe_engine(engine) == f"llama · SmolLM2 · {words}"


def test_no_engines_from_the_real_service():
    assert describe_engines({}) == ""
    assert describe_engines({"engines": [{"engine": "echo", "state": "ready"}]}) == "echo · ready"


@pytest.mark.anyio
async def test_a_healthy_local_server(studio_ctx, demo_ctx, local_server):
    line = await fetch_status(studio_ctx)
    assert line.startswith("**Local server** · answering · 100,000 tokens · Elite plan · echo")
    assert line.endswith("ready") and local_server.api_key not in line
    assert (await fetch_status(demo_ctx)).endswith("read-only demo")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_a_server_that_does_not_answer():
    client = AsyncAssistantsClient(
        base_url=f"http://127.0.0.1:{_free_port()}/api/v2", api_key=LEAKED_KEY, max_retries=0
    )
    try:
        line = await fetch_status(StudioContext(client=client, server_label="Custom server (127.0.0.1)"))
    finally:
        await client.close()
    assert line.startswith("**Custom server (127.0.0.1)** · not answering: ")
    assert "STUDIO_BASE_URL" in line and LEAKED_KEY not in line


class _Broken(BaseHTTPRequestHandler):
    """Answers every request with a server error that echoes a key back, as a careless proxy might."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = f'{{"error": "provider_error", "message": "upstream refused key {LEAKED_KEY}"}}'.encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v2"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.anyio
async def test_a_failing_server_is_reported_without_the_key(broken_server):
    client = AsyncAssistantsClient(base_url=broken_server, api_key=LEAKED_KEY, max_retries=0)
    try:
        line = await fetch_status(StudioContext(client=client, server_label="Custom server"))
    finally:
        await client.close()
    assert "answering with an error: " in line and "upstream refused key" in line
    assert LEAKED_KEY not in line and "nb_\\*\\*\\*" in line
