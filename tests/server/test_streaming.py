"""The stream's harder cases: waiting in the queue, the caller leaving, and failures after the start."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import httpx

from backend.server.embedded import EmbeddedServer
from backend.server.engines import EngineRouter
from backend.server.engines.base import Delta, EngineEvent, EngineFailed, EngineRequest, EngineStatus
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
