"""Faults from real sockets: nothing listening, no answer, a dropped connection, a stream cut mid-answer."""

from __future__ import annotations

import anyio
import pytest

from backend import errors
from backend.client import AssistantsClient, AsyncAssistantsClient
from tests.backend.faulty_server import (
    FaultyServer,
    free_port,
    hang_up,
    never_answer,
    sse,
    stream_then_cut,
    stream_then_wait,
)

KEY = "nb_faulttestkey0123456789abc"
HI = [{"role": "user", "content": "hi"}]
START = sse({"type": "generation_start", "id": "gen_1", "model": "m"})


def _delta(text: str) -> bytes:
    return sse({"type": "content_delta", "delta": text})


def test_server_down_is_a_connection_error_naming_the_server():
    port = free_port()
    sleeps: list[float] = []
    client = AssistantsClient(f"http://127.0.0.1:{port}/api/v2", KEY, sleep=sleeps.append)
    with client, pytest.raises(errors.APIConnectionError) as caught:
        client.assistants.list()
    message = caught.value.user_message
    assert f"127.0.0.1:{port}" in message and "STUDIO_BASE_URL" in message and KEY not in message
    assert len(sleeps) == 2  # nothing left, so even a POST could go again; a GET certainly does


@pytest.mark.anyio
async def test_server_down_async_retries_then_fails():
    port = free_port()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncAssistantsClient(f"http://127.0.0.1:{port}/api/v2", KEY, sleep=sleep) as client:
        with pytest.raises(errors.APIConnectionError):
            await client.assistants.create(name="Bot", model="m")
    assert len(sleeps) == 2


def test_a_server_that_never_answers_times_out_and_a_get_is_retried():
    with FaultyServer(never_answer) as server:
        client = AssistantsClient(server.base_url, KEY, read_timeout=0.5, sleep=lambda _: None)
        with client, pytest.raises(errors.APITimeoutError) as caught:
            client.assistants.list()
        assert len(server.requests) == 3
    assert "0.5 seconds" in caught.value.message and "STUDIO_READ_TIMEOUT" in caught.value.user_message


def test_a_post_that_timed_out_is_not_sent_again():
    with FaultyServer(never_answer) as server:
        client = AssistantsClient(server.base_url, KEY, read_timeout=0.5, sleep=lambda _: None)
        with client, pytest.raises(errors.APITimeoutError):
            client.generate(HI, model="m")
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("call", "expected_sends"),
    [
        (lambda c: c.assistants.create(name="Bot", model="m"), 1),
        (lambda c: c.generate(HI, model="m"), 1),
        (lambda c: c.assistants.list(), 3),
        (lambda c: c.assistants.update("asst_1", name="x"), 3),
    ],
    ids=["create", "generate", "list", "update"],
)
def test_a_dropped_connection_resends_only_what_is_safe(call, expected_sends):
    with FaultyServer(hang_up) as server:
        client = AssistantsClient(server.base_url, KEY, sleep=lambda _: None)
        with client, pytest.raises(errors.APIConnectionError) as caught:
            call(client)
        assert len(server.requests) == expected_sends
    assert "dropped" in caught.value.message


@pytest.mark.anyio
async def test_async_post_is_sent_once_when_the_connection_drops():
    with FaultyServer(hang_up) as server:
        async with AsyncAssistantsClient(server.base_url, KEY) as client:
            with pytest.raises(errors.APIConnectionError):
                await client.assistants.create(name="Bot", model="m")
        assert len(server.requests) == 1
        assert b"POST /api/v2/assistants" in server.requests[0]


def test_a_stream_cut_in_the_middle_keeps_the_partial_text():
    with FaultyServer(stream_then_cut([START, _delta("Hel"), _delta("lo")])) as server:
        client = AssistantsClient(server.base_url, KEY, sleep=lambda _: None)
        with (
            client,
            client.generate_stream(HI, model="m") as stream,
            pytest.raises(errors.StreamInterruptedError) as caught,
        ):
            list(stream)
        assert len(server.requests) == 1
    assert caught.value.partial == "Hello" and stream.text == "Hello"
    assert caught.value.user_message.endswith("Send the request again.")


@pytest.mark.anyio
async def test_async_stream_cut_in_the_middle_keeps_the_partial_text():
    with FaultyServer(stream_then_cut([START, _delta("Hel"), _delta("lo")])) as server:
        async with AsyncAssistantsClient(server.base_url, KEY) as client:
            with pytest.raises(errors.StreamInterruptedError) as caught:
                async with client.generate_stream(HI, model="m") as stream:
                    async for _ in stream:
                        pass
        assert len(server.requests) == 1
    assert caught.value.partial == "Hello"


def test_leaving_a_stream_closes_the_connection_at_once():
    with (
        FaultyServer(stream_then_wait([START, _delta("a")])) as server,
        AssistantsClient(server.base_url, KEY) as client,
    ):
        with client.generate_stream(HI, model="m") as stream:
            for event in stream:
                if event.type == "content_delta":
                    break
        # The client is still open: only the stream's own connection was closed.
        assert server.peer_closed.wait(10)
    assert stream.text == "a"


@pytest.mark.anyio
async def test_cancelling_a_task_that_reads_a_stream_closes_the_connection():
    with FaultyServer(stream_then_wait([START, _delta("a")])) as server:
        async with AsyncAssistantsClient(server.base_url, KEY) as client:
            first_delta = anyio.Event()

            async def read() -> None:
                async with client.generate_stream(HI, model="m") as stream:
                    async for event in stream:
                        if event.type == "content_delta":
                            first_delta.set()

            async with anyio.create_task_group() as group:
                group.start_soon(read)
                await first_delta.wait()
                group.cancel_scope.cancel()
            assert await anyio.to_thread.run_sync(server.peer_closed.wait, 10)
