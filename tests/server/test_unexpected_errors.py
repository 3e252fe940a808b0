"""An unexpected failure is the contract's 500, with the rate-limit headers, on a connection that stays open.

The fault is real: a table of the server's database is dropped under it, as a damaged or foreign
database would be, so one route fails while every other keeps working.
"""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest

from backend.client import AssistantsClient
from backend.errors import ProviderError
from backend.server.store import DB_FILE
from tests.server.httputil import assert_error

RATE_HEADERS = {
    "x-ratelimit-limit-hour",
    "x-ratelimit-remaining-hour",
    "x-ratelimit-limit-day",
    "x-ratelimit-remaining-day",
    "x-ratelimit-reset-hour",
}


@pytest.fixture
def damaged(local_server, server_settings):
    """The local server, its `assistants` table gone: GET /assistants fails, /generate still works."""
    db = sqlite3.connect(server_settings.data_dir / DB_FILE)
    db.execute("DROP TABLE assistants")
    db.commit()
    db.close()
    return local_server


def test_a_500_has_the_error_body_and_the_rate_limit_headers(damaged, http):
    response = http.get("/assistants")
    problem = assert_error(response, 500, "provider_error")
    assert problem["message"] == "The server failed unexpectedly; nothing was charged."
    assert set(response.headers) >= RATE_HEADERS
    assert response.headers.get("connection") != "close"


def _request(sock: socket.socket, method: str, path: str, key: str, body: dict | None = None) -> bytes:
    """One HTTP/1.1 request on `sock`, kept alive; the raw answer (head and body), read by its length."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    sock.sendall(head.encode() + payload)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {answer[:60]!r}"
        answer += chunk
    head_bytes, _, rest = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head_bytes.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        rest += chunk
    return head_bytes + b"\r\n\r\n" + rest


def test_the_connection_stays_usable_after_a_500(damaged):
    prefix = "/api/v2"
    with socket.create_connection(("127.0.0.1", damaged.port), timeout=10) as sock:
        failed = _request(sock, "GET", f"{prefix}/assistants", damaged.api_key)
        assert failed.startswith(b"HTTP/1.1 500 ")
        message = {"model": "gpt-5", "messages": [{"role": "user", "content": "still there?"}]}
        answered = _request(sock, "POST", f"{prefix}/generate", damaged.api_key, message)
        assert answered.startswith(b"HTTP/1.1 200 ")
        assert b"You said: still there?" in answered


def test_the_clients_next_post_after_a_500_goes_through(damaged):
    with AssistantsClient(damaged.base_url, damaged.api_key, max_retries=0) as client:
        assert client.balance().token_balance == 100_000  # a pooled connection, kept alive
        for _ in range(5):
            with pytest.raises(ProviderError) as caught:
                client.assistants.list()
            assert "nothing was charged" in caught.value.user_message
            # The very next POST reuses the pooled connection: it must not find it dropped.
            answer = client.generate([{"role": "user", "content": "hi"}], model="gpt-5-nano")
            assert answer.content.endswith("You said: hi")
        assert client.balance().token_balance == 100_000 - 5
