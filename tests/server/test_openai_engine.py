"""The OpenAI-compatible engine against a real peer on a loopback port: a small chat-completions server."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from backend.server.embedded import EmbeddedServer
from tests.conftest import make_settings
from tests.server.httputil import api, assert_error, closed_port, serve, sse_events

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
