"""The retry rules as one table: what is sent again, how often, and after which waits. Nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from backend import errors
from backend.client import AssistantsClient, AsyncAssistantsClient
from backend.retries import backoff, parse_retry_after
from backend.schemas import Assistant, Deleted

BASE = "http://api.test/api/v2"
KEY = "nb_retrytestkey0123456789"
ASSISTANT = {"id": "asst_1", "name": "Bot", "model": "gpt-5-nano"}
SSE_OK = (
    'data: {"type": "generation_start", "id": "gen_1", "model": "gpt-5-nano"}\n\n'
    'data: {"type": "content_delta", "delta": "ok"}\n\n'
    'data: {"type": "generation_end", "id": "gen_1", "tokens_used": 1}\n\n'
    "data: [DONE]\n\n"
)
FAR_FUTURE = format_datetime(datetime.now(UTC) + timedelta(days=2), usegmt=True)


def _respond(outcome: Any, method: str, request: httpx.Request) -> httpx.Response:
    """Turn one scripted outcome into a response, or raise the transport error it names."""
    raising = {
        "connect": httpx.ConnectError,
        "connect_timeout": httpx.ConnectTimeout,
        "read_timeout": httpx.ReadTimeout,
        "drop": httpx.RemoteProtocolError,
    }
    if isinstance(outcome, str) and outcome in raising:
        raise raising[outcome]("scripted failure", request=request)
    if outcome == "ok":
        if method == "STREAM":
            return httpx.Response(200, text=SSE_OK, headers={"content-type": "text/event-stream"})
        if method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=ASSISTANT)
    status, headers, body = outcome if isinstance(outcome, tuple) else (outcome, {}, None)
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers={"content-type": "text/html", **headers})
    body = body or {"error": "", "message": f"status {status}"}
    return httpx.Response(status, json=body, headers=headers)


RETRY_429_3 = (429, {"Retry-After": "3"}, None)
RETRY_429_BODY = (429, {}, {"error": "rate_limit_exceeded", "message": "Slow down.", "retry_after": 7})
RETRY_429_HOUR = (429, {"Retry-After": "3600"}, None)
RETRY_429_DATE = (429, {"Retry-After": FAR_FUTURE}, None)
RETRY_503_2 = (503, {"Retry-After": "2"}, None)
# The contract's 503: the server refused before doing anything. A proxy's page proves nothing of the kind.
DOWN_503 = (503, {}, {"error": "model_unavailable", "message": "The model is down."})
PROXY_503 = (503, {}, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")

# (method, outcomes of each send, expected sends, expected result type or error class, expected sleeps)
# max_retries=2, retry_max_wait=20, jitter pinned to its top so backoff waits are 0.5, 1, 2.
TABLE = [
    ("GET", ["ok"], 1, Assistant, []),
    ("GET", [503, "ok"], 2, Assistant, [0.5]),
    ("GET", [RETRY_503_2, "ok"], 2, Assistant, [2.0]),
    ("GET", [500, 502, "ok"], 3, Assistant, [0.5, 1.0]),
    ("GET", [504, "ok"], 2, Assistant, [0.5]),
    ("GET", [500, 500, 500], 3, errors.ProviderError, [0.5, 1.0]),
    ("GET", ["read_timeout", "ok"], 2, Assistant, [0.5]),
    ("GET", ["drop", "ok"], 2, Assistant, [0.5]),
    ("GET", ["connect", "connect", "connect"], 3, errors.APIConnectionError, [0.5, 1.0]),
    ("GET", ["connect_timeout", "connect_timeout", "connect_timeout"], 3, errors.APITimeoutError, [0.5, 1.0]),
    ("GET", [RETRY_429_3, "ok"], 2, Assistant, [3.0]),
    ("GET", [RETRY_429_BODY, "ok"], 2, Assistant, [7.0]),
    ("GET", [RETRY_429_HOUR], 1, errors.RateLimitError, []),
    ("GET", [RETRY_429_DATE], 1, errors.RateLimitError, []),
    ("GET", [404], 1, errors.NotFoundError, []),
    ("GET", [400], 1, errors.BadRequestError, []),
    ("GET", [401], 1, errors.AuthenticationError, []),
    ("POST", ["connect", "ok"], 2, Assistant, [0.5]),
    ("POST", ["connect_timeout", "ok"], 2, Assistant, [0.5]),
    ("POST", [RETRY_429_3, "ok"], 2, Assistant, [3.0]),
    ("POST", [DOWN_503, DOWN_503, DOWN_503], 3, errors.ModelUnavailableError, [0.5, 1.0]),
    ("POST", [DOWN_503, "ok"], 2, Assistant, [0.5]),
    ("POST", [PROXY_503, "ok"], 1, errors.ModelUnavailableError, []),
    ("POST", [503, "ok"], 1, errors.ModelUnavailableError, []),
    ("POST", [RETRY_429_BODY, "ok"], 2, Assistant, [7.0]),
    ("POST", [500], 1, errors.ProviderError, []),
    ("POST", [502], 1, errors.ProviderError, []),
    ("POST", ["read_timeout"], 1, errors.APITimeoutError, []),
    ("POST", ["drop"], 1, errors.APIConnectionError, []),
    ("PUT", [500, "ok"], 2, Assistant, [0.5]),
    ("PUT", ["drop", "ok"], 2, Assistant, [0.5]),
    ("PUT", [422], 1, errors.ValidationError, []),
    ("DELETE", ["ok"], 1, Deleted, []),
    ("DELETE", ["drop", 404], 2, Deleted, [0.5]),
    ("DELETE", ["read_timeout", 404], 2, Deleted, [0.5]),
    ("DELETE", [DOWN_503, 404], 2, errors.NotFoundError, [0.5]),
    ("DELETE", [PROXY_503, 404], 2, Deleted, [0.5]),  # the proxy may have passed the first one on
    ("GET", [PROXY_503, "ok"], 2, Assistant, [0.5]),
    ("DELETE", [404], 1, errors.NotFoundError, []),
    ("STREAM", ["connect", "ok"], 2, str, [0.5]),
    ("STREAM", [DOWN_503, "ok"], 2, str, [0.5]),
    ("STREAM", [PROXY_503, "ok"], 1, errors.ModelUnavailableError, []),
    ("STREAM", [RETRY_429_HOUR], 1, errors.RateLimitError, []),
    ("STREAM", [500], 1, errors.ProviderError, []),
    ("STREAM", ["drop"], 1, errors.APIConnectionError, []),
    ("STREAM", ["read_timeout"], 1, errors.APITimeoutError, []),
]


def _scripted(method: str, outcomes: list[Any], sends: list[httpx.Request]):
    def handler(request: httpx.Request) -> httpx.Response:
        sends.append(request)
        return _respond(outcomes[len(sends) - 1], method, request)

    return handler


def _call_sync(client: AssistantsClient, method: str) -> Any:
    if method == "STREAM":
        with client.generate_stream([{"role": "user", "content": "hi"}], model="gpt-5-nano") as stream:
            list(stream)
        return stream.text
    return {
        "GET": lambda: client.assistants.get("asst_1"),
        "POST": lambda: client.assistants.create(name="Bot", model="gpt-5-nano"),
        "PUT": lambda: client.assistants.update("asst_1", name="Bot"),
        "DELETE": lambda: client.assistants.delete("asst_1"),
    }[method]()


async def _call_async(client: AsyncAssistantsClient, method: str) -> Any:
    if method == "STREAM":
        async with client.generate_stream([{"role": "user", "content": "hi"}], model="gpt-5-nano") as stream:
            [event async for event in stream]
        return stream.text
    calls = {
        "GET": lambda: client.assistants.get("asst_1"),
        "POST": lambda: client.assistants.create(name="Bot", model="gpt-5-nano"),
        "PUT": lambda: client.assistants.update("asst_1", name="Bot"),
        "DELETE": lambda: client.assistants.delete("asst_1"),
    }
    return await calls[method]()


def _check(outcome: Any, expected: type, sends: list[httpx.Request], expected_sends: int) -> None:
    assert len(sends) == expected_sends
    if issubclass(expected, errors.AssistantsError):
        assert isinstance(outcome, expected), outcome
        assert KEY not in outcome.user_message
    else:
        assert isinstance(outcome, expected), outcome
        if expected is str:
            assert outcome == "ok"


@pytest.mark.parametrize(("method", "outcomes", "expected_sends", "expected", "expected_sleeps"), TABLE)
def test_retry_rules_sync(method, outcomes, expected_sends, expected, expected_sleeps):
    sends: list[httpx.Request] = []
    sleeps: list[float] = []
    transport = httpx.MockTransport(_scripted(method, outcomes, sends))
    client = AssistantsClient(BASE, KEY, transport=transport, sleep=sleeps.append, jitter=lambda: 1.0)
    with client:
        try:
            outcome = _call_sync(client, method)
        except errors.AssistantsError as error:
            outcome = error
    _check(outcome, expected, sends, expected_sends)
    assert sleeps == expected_sleeps


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "outcomes", "expected_sends", "expected", "expected_sleeps"), TABLE)
async def test_retry_rules_async(method, outcomes, expected_sends, expected, expected_sleeps):
    sends: list[httpx.Request] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    transport = httpx.MockTransport(_scripted(method, outcomes, sends))
    async with AsyncAssistantsClient(
        BASE, KEY, transport=transport, sleep=sleep, jitter=lambda: 1.0
    ) as client:
        try:
            outcome = await _call_async(client, method)
        except errors.AssistantsError as error:
            outcome = error
    _check(outcome, expected, sends, expected_sends)
    assert sleeps == expected_sleeps


def test_rate_limit_beyond_the_longest_wait_is_raised_at_once_with_the_wait():
    sends: list[httpx.Request] = []
    sleeps: list[float] = []
    transport = httpx.MockTransport(_scripted("GET", [RETRY_429_DATE], sends))
    client = AssistantsClient(BASE, KEY, transport=transport, sleep=sleeps.append)
    with client, pytest.raises(errors.RateLimitError) as caught:
        client.assistants.get("asst_1")
    # The HTTP date is turned into seconds, so the person is told how long to wait.
    assert caught.value.retry_after is not None and caught.value.retry_after > 86_000
    assert "seconds" in caught.value.user_message and sleeps == []


def test_max_retries_zero_sends_once():
    sends: list[httpx.Request] = []
    transport = httpx.MockTransport(_scripted("GET", [503, "ok"], sends))
    client = AssistantsClient(BASE, KEY, transport=transport, max_retries=0, sleep=lambda _: None)
    with client, pytest.raises(errors.ModelUnavailableError):
        client.assistants.get("asst_1")
    assert len(sends) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        (7, 7.0),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("soon", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_retry_after(value, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now=lambda: now) == expected


def test_backoff_is_exponential_with_full_jitter_and_capped():
    assert [backoff(n, lambda: 1.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff(3, lambda: 0.25) == 1.0
    assert backoff(2, lambda: 0.0) == 0.0
