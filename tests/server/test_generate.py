"""POST /generate: the JSON answer, the SSE stream, charging and refunds, and each error before a stream."""

from __future__ import annotations

import pytest

from backend.schemas import Generation, GenerationEnd, GenerationStart
from backend.server.catalog import MODELS
from backend.server.embedded import EmbeddedServer
from tests.conftest import make_settings
from tests.server.httputil import api, assert_error, sse_events

HELLO = [{"role": "user", "content": "hello there"}]


def balance(http) -> int:
    return http.get("/balance").json()["token_balance"]


def test_a_generation_with_a_model(local_server, http):
    before = balance(http)
    response = http.post("/generate", json={"model": "gpt-5", "messages": HELLO})
    assert response.status_code == 200
    generation = Generation.model_validate(response.json())
    assert generation.id.startswith("gen_") and generation.status == "completed"
    assert generation.content == "[turn 1] You said: hello there"
    assert (generation.model, generation.engine, generation.tokens_used) == (
        "gpt-5",
        "echo",
        MODELS["gpt-5"].token_cost,
    )
    assert generation.balance_remaining == before - 2 == balance(http)
    assert generation.usage.prompt_tokens == 2 and generation.usage.completion_tokens == 6
    assert generation.usage.total_tokens == 8 and generation.history_truncated is False
    assert generation.created_at.endswith("Z")
    stored = local_server.app.state.store.get_generation(generation.id)
    assert stored["status"] == "completed" and stored["content"] == generation.content
    assert stored["tokens_used"] == 2 and stored["engine"] == "echo" and stored["usage"]["total_tokens"] == 8


def test_the_assistant_gives_instructions_and_model(http):
    assistant = http.post(
        "/assistants", json={"name": "A", "model": "claude-opus-4.5", "instructions": "Be brief."}
    ).json()
    conversation = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "two words"},
    ]
    generation = http.post(
        "/generate", json={"assistant_id": assistant["id"], "messages": conversation}
    ).json()
    assert generation["content"] == "[turn 2 | instructions 9 chars] You said: two words"
    assert generation["model"] == "claude-opus-4.5" and generation["tokens_used"] == 6
    # `model` overrides the assistant's, and so does its price.
    cheaper = http.post(
        "/generate", json={"assistant_id": assistant["id"], "model": "gpt-5-nano", "messages": HELLO}
    )
    assert cheaper.json()["model"] == "gpt-5-nano" and cheaper.json()["tokens_used"] == 1
    assert cheaper.json()["content"].startswith("[turn 1 | instructions 9 chars]")


def test_the_system_field_and_a_caller_system_message(http):
    with_system = http.post(
        "/generate", json={"model": "gpt-5", "system": "Pirate.", "messages": HELLO}
    ).json()
    assert with_system["content"] == "[turn 1 | instructions 7 chars] You said: hello there"
    assistant = http.post(
        "/assistants", json={"name": "A", "model": "gpt-5", "instructions": "Long instructions"}
    ).json()
    # A caller's own system message comes after the assistant's instructions, which the echo measures.
    own = [{"role": "system", "content": "x"}, *HELLO]
    answer = http.post("/generate", json={"assistant_id": assistant["id"], "messages": own}).json()
    assert answer["content"] == "[turn 1 | instructions 17 chars] You said: hello there"


def test_max_tokens_cuts_the_answer(http):
    generation = http.post("/generate", json={"model": "gpt-5", "messages": HELLO, "max_tokens": 3}).json()
    assert generation["content"] == "[turn 1] You "
    assert generation["usage"]["completion_tokens"] == 3


def test_the_stream_events_in_order(http):
    before = balance(http)
    with http.stream(
        "POST", "/generate", json={"model": "gpt-5", "messages": HELLO, "stream": True}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-ratelimit-limit-hour"] == "unlimited"
        events = list(sse_events(response))
    assert events[-1] == "[DONE]"
    start, *deltas, end = events[:-1]
    start, end = GenerationStart.model_validate(start), GenerationEnd.model_validate(end)
    assert (start.model, start.engine) == ("gpt-5", "echo") and start.id == end.id
    assert {d["type"] for d in deltas} == {"content_delta"} and len(deltas) == 6
    assert "".join(d["delta"] for d in deltas) == "[turn 1] You said: hello there"
    assert end.tokens_used == 2 and end.balance_remaining == before - 2 == balance(http)
    assert end.usage.completion_tokens == 6 and end.history_truncated is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": "gpt-5", "messages": []}, "messages"),
        ({"model": "gpt-5", "messages": "hi"}, "messages"),
        ({"model": "gpt-5", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "gpt-5", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"model": "gpt-5", "messages": ["hi"]}, "messages[0]"),
        ({"model": "gpt-5", "messages": HELLO, "temperature": 2.5}, "temperature"),
        ({"model": "gpt-5", "messages": HELLO, "temperature": "hot"}, "temperature"),
        ({"model": "gpt-5", "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"model": "gpt-5", "messages": HELLO, "max_tokens": 9000}, "max_tokens"),
        ({"model": "gpt-5", "messages": HELLO, "stream": "yes"}, "stream"),
    ],
)
def test_validation(http, body, field):
    before = balance(http)
    problem = assert_error(http.post("/generate", json=body), 422, "validation_error")
    assert field in problem["details"]
    assert balance(http) == before


def test_a_stream_request_that_is_invalid_gets_json(http):
    response = http.post("/generate", json={"model": "gpt-5", "messages": [], "stream": True})
    assert response.headers["content-type"].startswith("application/json")
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("stream", [False, True])
def test_an_unknown_model_is_not_found_as_the_contract_says(http, stream):
    before = balance(http)
    response = http.post("/generate", json={"model": "gpt-99", "messages": HELLO, "stream": stream})
    assert response.headers["content-type"].startswith("application/json")
    problem = assert_error(response, 404, "not_found")
    assert "gpt-99" in problem["message"] and "GET /models" in problem["message"]
    assert problem["details"] == {"model": "gpt-99"} and balance(http) == before


def test_an_unknown_assistant_is_not_found(http):
    body = {"assistant_id": "asst_000000000000", "messages": HELLO}
    assert_error(http.post("/generate", json=body), 404, "not_found")
    assert_error(http.post("/generate", json={**body, "stream": True}), 404, "not_found")


def test_a_low_balance_is_refused_and_not_charged(tmp_path):
    with EmbeddedServer(make_settings(tmp_path, local_balance=3)) as server, api(server) as http:
        problem = assert_error(
            http.post("/generate", json={"model": "gpt-5.2-pro", "messages": HELLO}),
            402,
            "insufficient_tokens",
        )
        assert problem["details"] == {"required": 39, "balance": 3}
        stream = http.post("/generate", json={"model": "gpt-5.2-pro", "messages": HELLO, "stream": True})
        assert_error(stream, 402, "insufficient_tokens")
        assert balance(http) == 3
        for expected in (2, 1, 0):
            assert (
                http.post("/generate", json={"model": "gpt-5-nano", "messages": HELLO}).json()[
                    "balance_remaining"
                ]
                == expected
            )
        assert_error(
            http.post("/generate", json={"model": "gpt-5-nano", "messages": HELLO}),
            402,
            "insufficient_tokens",
        )
        assert http.get("/balance").json() == {"token_balance": 0, "plan": "Elite", "plan_expires_at": None}


def test_an_unavailable_engine_is_503_and_not_charged(tmp_path):
    settings = make_settings(tmp_path, engines={"*": "echo", "gpt-5": "openai"})  # no STUDIO_OPENAI_BASE_URL
    with EmbeddedServer(settings) as server, api(server) as http:
        before = balance(http)
        problem = assert_error(
            http.post("/generate", json={"model": "gpt-5", "messages": HELLO}), 503, "model_unavailable"
        )
        assert "STUDIO_OPENAI_BASE_URL" in problem["message"]
        assert_error(
            http.post("/generate", json={"model": "gpt-5", "messages": HELLO, "stream": True}),
            503,
            "model_unavailable",
        )
        assert balance(http) == before
        assert http.post("/generate", json={"model": "gpt-5-nano", "messages": HELLO}).status_code == 200


def test_models_and_balance(http):
    models = http.get("/models").json()
    assert [m["slug"] for m in models] == list(MODELS)
    costs = {m["slug"]: m["token_cost"] for m in models}
    assert costs["gpt-5.2-pro"] == 39 and costs["claude-opus-4.5"] == 6 and costs["gemini-3-pro"] == 3
    one = http.get("/models/claude-sonnet-4.5").json()
    assert one["token_cost"] == 4 and one["provider"] == "Anthropic" and one["category"] == "text"
    assert set(one) >= {
        "slug",
        "name",
        "category",
        "provider",
        "min_plan",
        "token_cost",
        "description_en",
        "supports_streaming",
    }
    assert_error(http.get("/models/dall-e-99"), 404, "not_found")
    assert http.get("/balance").json() == {"token_balance": 100_000, "plan": "Elite", "plan_expires_at": None}


def test_engines_are_described(http):
    described = http.get("/engines").json()
    assert described["routes"] == {"*": "echo"}
    (echo,) = described["engines"]
    assert echo["engine"] == "echo" and echo["state"] == "ready" and echo["models"] == list(MODELS)
