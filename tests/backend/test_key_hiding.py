"""The client's own key never reaches an error, whatever its shape, even when a server echoes it back."""

from __future__ import annotations

import json

import pytest

from backend import errors
from tests.backend.both_clients import either_client
from tests.backend.faulty_server import FaultyServer, echo_key

pytestmark = pytest.mark.anyio
HI = [{"role": "user", "content": "hi"}]
# Not an nb_ key, so the pattern that redacts the service's keys cannot catch it: only the client can.
KEY = "sk-proj-Zx81qLw0vN3mB7tR2yK5"


def _shown(error: errors.AssistantsError) -> str:
    """Everything of an error a person or a log could see."""
    return " ".join([error.user_message, str(error), repr(error), json.dumps(vars(error), default=str)])


def _error_body(code: str, key: str) -> str:
    return json.dumps(
        {"error": code, "message": f"The key {key} was refused.", "details": {"name": f"not {key}"}}
    )


JSON = "application/json"


@pytest.mark.parametrize(
    ("status", "render", "content_type", "expected", "says"),
    [
        (401, lambda key: _error_body("not_authenticated", key), JSON, errors.AuthenticationError, "key ***"),
        (
            422,
            lambda key: _error_body("validation_error", key),
            JSON,
            errors.ValidationError,
            "name: not ***",
        ),
        (404, lambda key: f"<html>No route for {key}</html>", "text/html", errors.NotFoundError, "for ***"),
        (502, lambda key: f"<html>upstream {key} failed</html>", "text/html", errors.ProviderError, "502"),
    ],
    ids=["401-json", "422-fields", "404-html", "502-html"],
)
async def test_a_server_echoing_the_key_never_gets_it_shown(
    kind, status, render, content_type, expected, says
):
    with FaultyServer(echo_key(status, render, content_type)) as server:
        async with either_client(kind, server.base_url, KEY, max_retries=0) as client:
            with pytest.raises(expected) as caught:
                await client.assistants.create(name="Bot", model="gpt-5-nano")
    assert KEY.encode() in server.requests[0]  # the server did receive the key it echoed
    assert KEY not in _shown(caught.value) and says in caught.value.user_message


async def test_an_error_event_echoing_the_key_never_gets_it_shown(kind):
    def stream(key: str) -> str:
        return (
            'data: {"type": "generation_start", "id": "gen_1"}\n\n'
            'data: {"type": "content_delta", "delta": "Hal"}\n\n'
            f'data: {{"type": "error", "message": "upstream refused {key}"}}\n\n'
        )

    with FaultyServer(echo_key(200, stream, "text/event-stream")) as server:
        async with (
            either_client(kind, server.base_url, KEY) as client,
            client.generate_stream(HI, model="gpt-5-nano") as events,
        ):
            with pytest.raises(errors.StreamError) as caught:
                async for _ in events:
                    pass
    assert caught.value.partial == "Hal"
    assert KEY not in _shown(caught.value) and "upstream refused ***" in caught.value.message
