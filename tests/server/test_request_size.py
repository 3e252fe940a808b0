"""Bodies over the size limit are refused before they are parsed, with a message that says what to do."""

from __future__ import annotations

import json

import httpx
import pytest

from backend import errors
from backend.client import AssistantsClient
from backend.server.validation import MAX_BODY_BYTES
from tests.server.httputil import assert_error

TOO_LARGE = (
    "The request is too large ({size}; the limit is 2 MB): shorten the conversation or start a new one."
)


def conversation(total_chars: int) -> list[dict[str, str]]:
    """Turns of at most 90,000 characters (each within the per-message limit), about `total_chars` in all."""
    turns = []
    while total_chars > 0:
        turns.append({"role": "user" if len(turns) % 2 == 0 else "assistant", "content": "x" * 90_000})
        total_chars -= 90_000
    turns[-1]["role"] = "user"
    return turns


def balance(http: httpx.Client) -> int:
    return http.get("/balance").json()["token_balance"]


@pytest.mark.parametrize("path", ["/generate", "/assistants"])
def test_a_body_over_the_limit_is_refused_by_its_length(http, path):
    before = balance(http)
    body = json.dumps({"model": "gpt-5", "name": "big", "messages": conversation(2_700_000)}).encode()
    response = http.post(path, content=body, headers={"content-type": "application/json"})
    problem = assert_error(response, 400, "bad_request")
    assert problem["message"] == TOO_LARGE.format(size=f"{len(body) / 2**20:.1f} MB")
    assert problem["details"] == {"limit_bytes": MAX_BODY_BYTES, "size_bytes": len(body)}
    assert balance(http) == before


def test_a_chunked_body_is_counted_as_it_is_read(http):
    piece = json.dumps({"role": "user", "content": "x" * 90_000}).encode()

    def chunks():  # no Content-Length: the server has to count
        yield b'{"model": "gpt-5", "messages": [' + piece
        for _ in range(30):
            yield b"," + piece
        yield b"]}"

    response = http.post("/generate", content=chunks(), headers={"content-type": "application/json"})
    problem = assert_error(response, 400, "bad_request")
    assert problem["message"] == TOO_LARGE.format(size="over 2 MB")


def test_a_long_conversation_under_the_limit_is_answered(http):
    response = http.post("/generate", json={"model": "gpt-5", "messages": conversation(1_800_000)})
    assert response.status_code == 200 and response.json()["content"].endswith("x" * 100)


def test_the_client_shows_how_to_shorten_not_a_bug_report(local_server):
    with (
        AssistantsClient(local_server.base_url, local_server.api_key) as client,
        pytest.raises(errors.BadRequestError) as caught,
    ):
        client.generate(conversation(2_700_000), model="gpt-5")
    message = caught.value.user_message
    assert "shorten the conversation" in message and "bug" not in message


def test_another_servers_413_also_says_to_shorten():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(413, text="<html>Request Entity Too Large</html>")

    client = AssistantsClient("http://api.test/api/v2", "nb_k", transport=httpx.MockTransport(handler))
    with client, pytest.raises(errors.BadRequestError) as caught:
        client.generate([{"role": "user", "content": "hi"}], model="gpt-5")
    assert caught.value.status_code == 413 and "Shorten the conversation" in caught.value.user_message
