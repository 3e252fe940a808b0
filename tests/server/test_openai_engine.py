"""The OpenAI-compatible engine against a real peer on a loopback port: a small chat-completions server."""

from __future__ import annotations

import contextlib
import json

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from backend.server.embedded import EmbeddedServer
from tests.backend.faulty_server import FaultyServer, echo_key, hold_silent, sse, stream_then_wait
from tests.conftest import make_settings
from tests.server.httputil import api, assert_error, closed_port, serve, sse_events, wait_until

HELLO = [{"role": "user", "content": "hello there"}]


def chat_server(words: list[str], *, usage: bool = True, status: int = 200) -> tuple[FastAPI, list[dict]]:
    """A chat-completions endpoint that streams `words` (or fails with `status`); records what it was sent."""
    app = FastAPI()
    seen: list[dict] = []

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        seen.append({"body": await request.json(), "authorization": request.headers.get("authorization")})
        if status != 200:
            return JSONResponse(
                {"error": {"message": "upstream exploded", "type": "server_error"}}, status_code=status
            )

        def chunks():
            for word in words:
                chunk = {
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": word}}],
                }
                yield f"data: {json.dumps(chunk)}\n\n"
            if usage:
                counts = {
                    "prompt_tokens": 11,
                    "completion_tokens": len(words),
                    "total_tokens": 11 + len(words),
                }
                yield f"data: {json.dumps({'object': 'chat.completion.chunk', 'choices': [], 'usage': counts})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app, seen


def openai_server(tmp_path, url: str, **overrides) -> EmbeddedServer:
    settings = make_settings(tmp_path, engines={"*": "openai"}, openai_base_url=url, **overrides)
    return EmbeddedServer(settings)


def test_streams_the_upstream_answer(tmp_path):
    app, seen = chat_server(["Hello", " from", " upstream"])
    with (
        serve(app) as url,
        openai_server(tmp_path, f"{url}/v1", openai_api_key="sk-up", openai_model="tiny") as server,
        api(server) as http,
    ):
        generation = http.post(
            "/generate", json={"model": "gpt-5", "messages": HELLO, "max_tokens": 20}
        ).json()
        assert generation["content"] == "Hello from upstream" and generation["engine"] == "openai"
        assert generation["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
        assert generation["model"] == "gpt-5"
        with http.stream(
            "POST", "/generate", json={"model": "gpt-5", "messages": HELLO, "stream": True}
        ) as response:
            events = list(sse_events(response))
        assert [e["delta"] for e in events if isinstance(e, dict) and e["type"] == "content_delta"] == [
            "Hello",
            " from",
            " upstream",
        ]
        assert events[-2]["type"] == "generation_end" and events[-1] == "[DONE]"
    sent = seen[0]
    assert sent["authorization"] == "Bearer sk-up"
    assert sent["body"]["model"] == "tiny" and sent["body"]["stream"] is True
    assert sent["body"]["stream_options"] == {"include_usage": True} and sent["body"]["max_tokens"] == 20
    assert sent["body"]["messages"] == HELLO


def test_rough_counts_without_upstream_usage(tmp_path):
    app, seen = chat_server(["a", "b"], usage=False)
    with serve(app) as url, openai_server(tmp_path, f"{url}/v1") as server, api(server) as http:
        generation = http.post("/generate", json={"model": "deepseek-r1", "messages": HELLO}).json()
    assert generation["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    assert seen[0]["body"]["model"] == "deepseek-r1" and seen[0]["authorization"] is None


@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_500_is_a_provider_error_and_not_charged(tmp_path, stream):
    app, _ = chat_server([], status=500)
    with serve(app) as url, openai_server(tmp_path, f"{url}/v1") as server, api(server) as http:
        before = http.get("/balance").json()["token_balance"]
        response = http.post("/generate", json={"model": "gpt-5", "messages": HELLO, "stream": stream})
        problem = assert_error(response, 500, "provider_error")
        assert "500" in problem["message"] and "upstream exploded" in problem["message"]
        assert http.get("/balance").json()["token_balance"] == before


def test_an_unreachable_endpoint_is_model_unavailable(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with openai_server(tmp_path, url) as server, api(server) as http:
        problem = assert_error(
            http.post("/generate", json={"model": "gpt-5", "messages": HELLO}), 503, "model_unavailable"
        )
        assert (
            "Cannot reach the OpenAI-compatible endpoint" in problem["message"] and url in problem["message"]
        )
        assert http.get("/balance").json()["token_balance"] == 100_000
        (engine,) = http.get("/engines").json()["engines"]
        assert engine["engine"] == "openai" and engine["detail"] == url


UPSTREAM_KEY = "sk-upstream-Qm4X9vLr2T7yP0wZ"


def test_an_upstream_echoing_its_key_never_gets_it_shown(tmp_path):
    # The engine's own key is not an nb_ key, so only the engine itself knows to hide it.
    def refuse(key: str) -> str:
        return json.dumps({"error": {"message": f"Incorrect API key provided: {key}.", "type": "auth"}})

    with (
        FaultyServer(echo_key(401, refuse)) as upstream,
        openai_server(tmp_path, upstream.base_url, openai_api_key=UPSTREAM_KEY) as server,
        api(server) as http,
    ):
        for stream in (False, True):
            response = http.post("/generate", json={"model": "gpt-5", "messages": HELLO, "stream": stream})
            problem = assert_error(response, 500, "provider_error")
            assert "Incorrect API key provided: ***." in problem["message"]
            assert UPSTREAM_KEY not in response.text
    assert UPSTREAM_KEY.encode() in upstream.requests[0]


def test_an_upstream_error_chunk_echoing_its_key_never_gets_it_shown(tmp_path):
    start = sse({"choices": [{"delta": {"content": "Hi"}}]})
    failure = sse({"error": {"message": f"quota exceeded for {UPSTREAM_KEY}"}})
    with (
        FaultyServer(stream_then_wait([start, failure])) as upstream,
        openai_server(tmp_path, upstream.base_url, openai_api_key=UPSTREAM_KEY) as server,
        api(server) as http,
        http.stream(
            "POST", "/generate", json={"model": "gpt-5", "messages": HELLO, "stream": True}
        ) as answer,
    ):
        events = list(sse_events(answer))
    assert events[-2]["type"] == "error" and "quota exceeded for ***" in events[-2]["message"]
    assert UPSTREAM_KEY not in json.dumps(events)


def test_leaving_frees_an_upstream_that_stalls_mid_answer(tmp_path):
    # The engine waits up to read_timeout (120 s) for the upstream's next word: only a cancel that shuts
    # the connection can end that wait as soon as the caller leaves.
    start = sse({"choices": [{"delta": {"content": "Hello"}}]})
    with (
        FaultyServer(stream_then_wait([start])) as upstream,
        openai_server(tmp_path, upstream.base_url) as server,
        api(server) as http,
    ):
        before = http.get("/balance").json()["token_balance"]
        body = {"model": "gpt-5", "messages": HELLO, "stream": True}
        with http.stream("POST", "/generate", json=body) as response:
            events = sse_events(response)
            assert next(events)["type"] == "generation_start"
            assert next(events) == {"type": "content_delta", "delta": "Hello"}
        assert upstream.peer_closed.wait(10)
        assert wait_until(lambda: http.get("/balance").json()["token_balance"] == before)


def test_leaving_frees_an_upstream_that_never_answers(tmp_path):
    with FaultyServer(hold_silent) as upstream, openai_server(tmp_path, upstream.base_url) as server:
        with contextlib.suppress(httpx.ReadTimeout):  # the caller gives up before any answer
            httpx.post(
                server.base_url + "/generate",
                json={"model": "gpt-5", "messages": HELLO},
                headers={"Authorization": f"Bearer {server.api_key}"},
                timeout=httpx.Timeout(10, read=0.5),
            )
        assert upstream.peer_closed.wait(10)
