"""Reading a generation as typed events: order, accumulation, skipping, and how a stream can fail."""

from __future__ import annotations

import json

import httpx
import pytest

from backend import errors
from backend.client import AssistantsClient, AsyncAssistantsClient
from backend.schemas import ContentDelta, GenerationEnd, GenerationStart, Queued

BASE = "http://api.test/api/v2"
KEY = "nb_streamtestkey0123456789"
HI = [{"role": "user", "content": "hi"}]

START = {"type": "generation_start", "id": "gen_1", "model": "gpt-5-nano", "engine": "echo"}
END = {"type": "generation_end", "id": "gen_1", "tokens_used": 1, "balance_remaining": 99}


def _sse(*events: dict | str, event_name: str | None = None) -> str:
    lines = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        lines.append((f"event: {event_name}\n" if event_name else "") + f"data: {data}\n\n")
    return "".join(lines)


def _stream_server(body: str, status: int = 200, content_type: str = "text/event-stream"):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, text=body, headers={"content-type": content_type})

    return httpx.MockTransport(handler), seen


def _client(transport: httpx.MockTransport) -> AssistantsClient:
    return AssistantsClient(BASE, KEY, transport=transport, sleep=lambda _: None)


def test_events_arrive_typed_and_in_order():
    body = _sse(
        {"type": "queued", "position": 2},
        START,
        {"type": "content_delta", "delta": "Hel"},
        {"type": "content_delta", "delta": "lo"},
        END,
        "[DONE]",
    )
    transport, seen = _stream_server(body)
    with _client(transport) as client, client.generate_stream(HI, model="gpt-5-nano") as stream:
        events = list(stream)
    assert [type(e) for e in events] == [Queued, GenerationStart, ContentDelta, ContentDelta, GenerationEnd]
    assert stream.text == "Hello" and stream.queued_position == 2
    assert stream.start is not None and stream.start.engine == "echo"
    assert stream.end is not None and stream.end.balance_remaining == 99
    assert seen[0].headers["accept"] == "text/event-stream"
    assert json.loads(seen[0].content)["stream"] is True


def test_unknown_events_are_skipped_and_done_ends_the_stream():
    body = _sse(
        START,
        {"type": "ping"},
        "[1, 2]",
        {"type": "content_delta", "delta": "a"},
        END,
        "[DONE]",
        {"type": "content_delta", "delta": "after the end"},
    )
    transport, _ = _stream_server(body)
    with _client(transport) as client, client.generate_stream(HI, model="m") as stream:
        events = list(stream)
    assert len(events) == 3 and stream.text == "a"


def test_the_event_name_is_read_when_the_payload_has_no_type():
    body = _sse(START) + _sse({"delta": "x"}, event_name="content_delta") + _sse(END, "[DONE]")
    transport, _ = _stream_server(body)
    with _client(transport) as client, client.generate_stream(HI, model="m") as stream:
        list(stream)
    assert stream.text == "x"


def test_an_error_event_raises_stream_error_with_the_partial_text():
    body = _sse(
        START,
        {"type": "content_delta", "delta": "half"},
        {"type": "error", "message": "Provider failed.", "error": "provider_error"},
    )
    transport, _ = _stream_server(body)
    client = _client(transport)
    with client, client.generate_stream(HI, model="m") as stream, pytest.raises(errors.StreamError) as caught:
        list(stream)
    assert type(caught.value) is errors.StreamError
    assert caught.value.partial == "half" and caught.value.code == "provider_error"
    assert caught.value.user_message == "Provider failed. Send the request again."


@pytest.mark.parametrize("tail", [(), ("[DONE]",)])
def test_a_stream_without_generation_end_is_interrupted(tail):
    transport, _ = _stream_server(_sse(START, {"type": "content_delta", "delta": "cut"}, *tail))
    client = _client(transport)
    with (
        client,
        client.generate_stream(HI, model="m") as stream,
        pytest.raises(errors.StreamInterruptedError) as caught,
    ):
        list(stream)
    assert caught.value.partial == "cut"


def test_an_error_status_is_raised_before_any_event():
    body = json.dumps({"error": "insufficient_tokens", "message": "Balance too low."})
    transport, seen = _stream_server(body, status=402, content_type="application/json")
    client = _client(transport)
    with client, pytest.raises(errors.InsufficientTokensError), client.generate_stream(HI, model="m"):
        pytest.fail("the context must not be entered")
    assert len(seen) == 1


def test_a_json_answer_to_a_stream_request_is_unexpected():
    transport, _ = _stream_server(
        json.dumps({"id": "gen_1", "content": "hi"}), content_type="application/json"
    )
    client = _client(transport)
    with (
        client,
        pytest.raises(errors.UnexpectedResponseError, match="stream of events"),
        client.generate_stream(HI, model="m"),
    ):
        pytest.fail("the context must not be entered")


def test_a_stream_can_be_iterated_without_a_with_block():
    transport, _ = _stream_server(_sse(START, {"type": "content_delta", "delta": "ok"}, END, "[DONE]"))
    with _client(transport) as client:
        stream = client.generate_stream(HI, model="m")
        assert [e.type for e in stream] == ["generation_start", "content_delta", "generation_end"]
        assert list(stream) == []


@pytest.mark.anyio
async def test_async_stream_reads_events_and_errors():
    transport, _ = _stream_server(
        _sse(START, {"type": "content_delta", "delta": "A"}, {"type": "error", "message": "boom"})
    )
    seen = []
    client = AsyncAssistantsClient(BASE, KEY, transport=transport)
    async with client, client.generate_stream(HI, model="m") as stream:
        with pytest.raises(errors.StreamError) as caught:
            async for event in stream:
                seen.append(event)
    assert [e.type for e in seen] == ["generation_start", "content_delta"]
    assert caught.value.partial == "A" and stream.text == "A"


@pytest.mark.anyio
async def test_async_stream_error_status_before_any_event():
    body = json.dumps({"error": "rate_limit_exceeded", "message": "Slow down.", "retry_after": 3000})
    transport, _ = _stream_server(body, status=429, content_type="application/json")
    async with AsyncAssistantsClient(BASE, KEY, transport=transport) as client:
        with pytest.raises(errors.RateLimitError) as caught:
            async with client.generate_stream(HI, model="m"):
                pytest.fail("the context must not be entered")
    assert caught.value.retry_after == 3000


def test_an_error_event_without_a_message_is_still_a_stream_error():
    transport, _ = _stream_server(
        _sse(START, {"type": "content_delta", "delta": "so far"}, {"type": "error"})
    )
    client = _client(transport)
    with client, client.generate_stream(HI, model="m") as stream, pytest.raises(errors.StreamError) as caught:
        list(stream)
    assert type(caught.value) is errors.StreamError and caught.value.partial == "so far"


def test_a_named_error_event_in_plain_text_is_a_stream_error():
    body = _sse(START, {"type": "content_delta", "delta": "half"}) + _sse(
        "upstream overloaded", event_name="error"
    )
    transport, _ = _stream_server(body)
    client = _client(transport)
    with client, client.generate_stream(HI, model="m") as stream, pytest.raises(errors.StreamError) as caught:
        list(stream)
    assert caught.value.message == "upstream overloaded" and caught.value.partial == "half"


def test_an_empty_or_null_delta_is_read_as_no_text():
    body = _sse(
        START,
        {"type": "content_delta", "delta": None},
        {"type": "content_delta"},
        {"type": "content_delta", "delta": "ok"},
        END,
        "[DONE]",
    )
    transport, _ = _stream_server(body)
    with _client(transport) as client, client.generate_stream(HI, model="m") as stream:
        deltas = [e.delta for e in stream if isinstance(e, ContentDelta)]
    assert deltas == ["", "", "ok"] and stream.text == "ok"


class _Body(httpx.SyncByteStream):
    """A response body that sends `chunks`, then raises `fault`; records whether it was closed."""

    def __init__(self, chunks: list[bytes], fault: BaseException) -> None:
        self.chunks, self.fault, self.closed = chunks, fault, False

    def __iter__(self):
        yield from self.chunks
        raise self.fault

    def close(self) -> None:
        self.closed = True


def _faulty_stream(
    fault: BaseException, headers: dict[str, str] | None = None
) -> tuple[_Body, AssistantsClient]:
    body = _Body([_sse(START, {"type": "content_delta", "delta": "par"}).encode()], fault)
    headers = {"content-type": "text/event-stream", **(headers or {})}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, stream=body))
    return body, _client(transport)


def test_an_unreadable_stream_is_an_interruption_not_an_httpx_error():
    body, client = _faulty_stream(httpx.DecodingError("broken gzip"))
    with (
        client,
        client.generate_stream(HI, model="m") as stream,
        pytest.raises(errors.StreamInterruptedError) as caught,
    ):
        list(stream)
    assert caught.value.partial == "par" and "DecodingError" in caught.value.message and body.closed


def test_a_stream_read_without_with_is_closed_when_interrupted():
    body, client = _faulty_stream(KeyboardInterrupt())
    with client:
        stream = client.generate_stream(HI, model="m")
        with pytest.raises(KeyboardInterrupt):
            for _ in stream:
                pass
    assert body.closed and stream.text == "par"


def _pooled(http: httpx.Client | httpx.AsyncClient) -> int:
    """Connections the client keeps open for reuse (httpcore's pool)."""
    return len(http._transport._pool.connections)  # type: ignore[attr-defined]


def test_a_finished_stream_gives_its_connection_back_for_the_next_turn(local_server):
    with AssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as client:
        for _ in range(3):
            with client.generate_stream(model="gpt-5-nano", messages=HI) as stream:
                list(stream)
            assert stream.end is not None
            assert _pooled(client._http) == 1  # reused, not dropped and reopened each turn


@pytest.mark.anyio
async def test_a_finished_async_stream_gives_its_connection_back(local_server):
    async with AsyncAssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as client:
        for _ in range(3):
            async with client.generate_stream(model="gpt-5-nano", messages=HI) as stream:
                async for _event in stream:
                    pass
            assert _pooled(client._http) == 1
