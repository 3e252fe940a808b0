"""The stream's harder cases: waiting in the queue, the caller leaving, and failures after the start."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import httpx
import pytest

from backend.client import AssistantsClient
from backend.errors import StreamInterruptedError
from backend.server.embedded import EmbeddedServer
from backend.server.engines import EngineRouter
from backend.server.engines.base import (
    Delta,
    EngineEvent,
    EngineFailed,
    EngineRequest,
    EngineStatus,
    Finished,
    Waiting,
)
from backend.server.engines.echo import EchoEngine
from tests.conftest import make_settings
from tests.server.httputil import api, assert_error, sse_events, wait_until

LONG = [{"role": "user", "content": " ".join(f"word{i}" for i in range(200))}]


class RecordingEcho(EchoEngine):
    """The echo engine, keeping each request it was given so a test can see `cancelled`."""

    def __init__(self, delay_ms: float) -> None:
        super().__init__(delay_ms=delay_ms, one_at_a_time=True)
        self.requests: list[EngineRequest] = []
        self.finished = threading.Event()

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        self.requests.append(request)
        try:
            yield from super().generate(request)
        finally:
            self.finished.set()


class BreaksMidway:
    """An engine that says two words and then fails."""

    name = "breaks"

    def status(self) -> EngineStatus:
        return EngineStatus(self.name, "ready")

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        yield Delta("Half ")
        yield Delta("an ")
        raise EngineFailed("The model crashed mid-answer.")

    def close(self) -> None:
        pass


class Explodes(BreaksMidway):
    """An engine with a bug: an exception that is not an engine error, before any word."""

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        raise KeyError("secret internal detail")


def server_with(tmp_path, engine, **overrides) -> EmbeddedServer:
    router = EngineRouter({"*": engine.name}, {engine.name: engine})
    return EmbeddedServer(make_settings(tmp_path, **overrides), engines=router)


def balance(http: httpx.Client) -> int:
    return http.get("/balance").json()["token_balance"]


def test_leaving_mid_stream_cancels_and_refunds(tmp_path):
    engine = RecordingEcho(delay_ms=50)
    with server_with(tmp_path, engine) as server, api(server) as http:
        before = balance(http)
        body = {"model": "claude-opus-4.5", "messages": LONG, "stream": True}
        with http.stream("POST", "/generate", json=body) as response:
            events = sse_events(response)
            start = next(events)
            assert start["type"] == "generation_start"
            assert next(events)["type"] == "content_delta"
            assert balance(http) == before - 6  # held while it runs
        # Closing the response drops the connection, as a stop button or a closed tab does.
        assert engine.requests[0].cancelled.wait(timeout=15)
        assert engine.finished.wait(timeout=15)
        assert wait_until(lambda: balance(http) == before)
        store = server.app.state.store
        assert wait_until(lambda: (store.get_generation(start["id"]) or {}).get("status") == "cancelled")
        assert store.get_generation(start["id"])["tokens_used"] == 0


def test_leaving_a_plain_request_also_cancels(tmp_path):
    engine = RecordingEcho(delay_ms=50)
    with server_with(tmp_path, engine) as server, api(server) as http:
        before = balance(http)
        with contextlib.suppress(httpx.ReadTimeout):  # the caller gives up and hangs up
            httpx.post(
                server.base_url + "/generate",
                json={"model": "gpt-5", "messages": LONG},
                headers={"Authorization": f"Bearer {server.api_key}"},
                timeout=httpx.Timeout(10, read=0.5),
            )
        assert wait_until(lambda: bool(engine.requests))
        assert engine.requests[0].cancelled.wait(timeout=15)
        assert wait_until(lambda: balance(http) == before)


def test_a_waiting_request_is_told_its_place(tmp_path):
    engine = RecordingEcho(delay_ms=50)
    with server_with(tmp_path, engine) as server, api(server) as first, api(server) as second:
        body = {"model": "gpt-5", "messages": LONG, "stream": True}
        with first.stream("POST", "/generate", json=body) as busy:
            busy_events = sse_events(busy)
            next(busy_events)
            assert next(busy_events)["type"] == "content_delta"  # the engine's one turn is taken
            with second.stream(
                "POST", "/generate", json={**body, "messages": [{"role": "user", "content": "hi"}]}
            ) as waiting:
                events = sse_events(waiting)
                assert next(events)["type"] == "generation_start"
                assert next(events) == {"type": "queued", "position": 1}
                busy.close()  # the first caller leaves, so the second gets its turn
                rest = list(events)
        assert rest[-1] == "[DONE]"
        assert "".join(e["delta"] for e in rest if isinstance(e, dict) and e["type"] == "content_delta") == (
            "[turn 1] You said: hi"
        )
        assert rest[-2]["type"] == "generation_end"


def test_a_failure_after_the_start_is_an_error_event_and_refunded(tmp_path):
    with server_with(tmp_path, BreaksMidway()) as server, api(server) as http:
        before = balance(http)
        with http.stream(
            "POST", "/generate", json={"model": "gpt-5", "messages": LONG, "stream": True}
        ) as response:
            assert response.status_code == 200
            events = list(sse_events(response))
        types = [e if isinstance(e, str) else e["type"] for e in events]
        assert types == ["generation_start", "content_delta", "content_delta", "error", "[DONE]"]
        assert events[3] == {
            "type": "error",
            "message": "The model crashed mid-answer.",
            "error": "provider_error",
        }
        assert balance(http) == before
        failed = server.app.state.store.get_generation(events[0]["id"])
        assert failed["status"] == "failed" and failed["tokens_used"] == 0 and failed["content"] == "Half an "
        # Without a stream, the same failure is a plain 500.
        problem = assert_error(
            http.post("/generate", json={"model": "gpt-5", "messages": LONG}), 500, "provider_error"
        )
        assert problem["message"] == "The model crashed mid-answer."
        assert balance(http) == before


def test_an_unexpected_engine_bug_is_a_generic_500(tmp_path):
    with server_with(tmp_path, Explodes()) as server, api(server) as http:
        before = balance(http)
        for stream in (False, True):
            response = http.post("/generate", json={"model": "gpt-5", "messages": LONG, "stream": stream})
            problem = assert_error(response, 500, "provider_error")
            assert "secret" not in problem["message"]
        assert balance(http) == before


class SlowToStart(BreaksMidway):
    """An engine that reports a place in the queue, then is silent for `pause` seconds before answering."""

    name = "slow"

    def __init__(self, pause: float) -> None:
        self.pause = pause

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        yield Waiting(1)
        if request.cancelled.wait(self.pause):
            return
        yield Delta("Finally.")
        yield Finished(prompt_tokens=1, completion_tokens=1)


def _read_slow_stream(tmp_path, keepalive: float) -> tuple[str, list[str]]:
    """Stream from a server whose engine is silent for longer than the client's read timeout."""
    router = EngineRouter({"*": "slow"}, {"slow": SlowToStart(pause=1.5)})
    with EmbeddedServer(make_settings(tmp_path), engines=router, keepalive=keepalive) as server:
        with (
            AssistantsClient(server.base_url, server.api_key, read_timeout=0.5) as client,
            client.generate_stream([{"role": "user", "content": "hi"}], model="gpt-5") as stream,
        ):
            types = [event.type for event in stream]
        return stream.text, types


def test_a_silent_wait_is_kept_alive_past_the_clients_read_timeout(tmp_path):
    text, types = _read_slow_stream(tmp_path, keepalive=0.1)
    assert text == "Finally."
    assert types == ["generation_start", "queued", "content_delta", "generation_end"]


def test_without_keep_alive_the_same_wait_times_the_client_out(tmp_path):
    # The control: the keep-alive comments, not luck, are what kept the stream above alive.
    with pytest.raises(StreamInterruptedError, match="stopped sending"):
        _read_slow_stream(tmp_path / "control", keepalive=60)


def test_keep_alive_is_an_sse_comment(tmp_path):
    router = EngineRouter({"*": "slow"}, {"slow": SlowToStart(pause=0.5)})
    with (
        EmbeddedServer(make_settings(tmp_path), engines=router, keepalive=0.1) as server,
        api(server) as http,
    ):
        body = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        with http.stream("POST", "/generate", json=body) as response:
            raw = response.read().decode()
    assert "\n\n: keep-alive\n\n" in raw and raw.endswith("data: [DONE]\n\n")
