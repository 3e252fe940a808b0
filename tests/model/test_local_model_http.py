"""The real local server over HTTP, answering with the real SmolLM2 model through the llama engine."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from backend.server.embedded import EmbeddedServer
from backend.server.engines.llama import LlamaEngine, bundled_model_path
from tests.conftest import make_settings

CONTEXT = 512
SLOTS = 2
MODEL = "gpt-5-nano"  # any slug of the price list; the llama engine serves them all
QUESTION = "Name three colours of the rainbow."
LONG_ANSWER = "Count from 1 to 300, separated by commas."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    if bundled_model_path() is None:
        pytest.skip("the local model is not installed")
    settings = make_settings(
        tmp_path_factory.mktemp("llama"),
        engines={"*": "llama"},
        model_context=CONTEXT,
        model_threads=2,
        model_slots=SLOTS,
    )
    with EmbeddedServer(settings) as running:
        yield running


@pytest.fixture
def http(server: EmbeddedServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
        yield client


def engine_of(server: EmbeddedServer) -> LlamaEngine:
    engine = server.engines.get("llama")
    assert isinstance(engine, LlamaEngine)
    return engine


def body(text: str = QUESTION, max_tokens: int = 24, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
        "max_tokens": max_tokens,
        **extra,
    }


def stream(http: httpx.Client, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event of one streamed answer."""
    with connect_sse(http, "POST", "/generate", json={**payload, "stream": True}) as source:
        source.response.raise_for_status()
        return [json.loads(sse.data) for sse in source.iter_sse() if sse.data != "[DONE]"]


def kinds(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


@pytest.mark.model
def test_an_answer_streams_from_the_local_model(http: httpx.Client) -> None:
    events = stream(http, body(max_tokens=24))
    deltas = kinds(events, "content_delta")
    assert events[0]["type"] == "generation_start" and events[0]["engine"] == "llama"
    assert len(deltas) >= 3 and "".join(d["delta"] for d in deltas).strip()
    end = events[-1]
    assert end["type"] == "generation_end" and not end["history_truncated"]
    assert 0 < end["usage"]["completion_tokens"] <= 24 and end["usage"]["prompt_tokens"] > 0


@pytest.mark.model
def test_an_assistants_instructions_reach_the_model_as_the_system_message(
    http: httpx.Client, server: EmbeddedServer
) -> None:
    from llama_cpp import Llama

    short = "Reply in French."
    longer = "Reply in French. Always mention the weather in Paris and finish with a two-line poem."
    assistant = http.post(
        "/assistants", json={"name": "Parisian", "model": MODEL, "instructions": short}
    ).json()
    ask = {**body(max_tokens=8), "assistant_id": assistant["id"]}
    del ask["model"]

    first = http.post("/generate", json=ask).json()
    engine = engine_of(server)
    assert engine.last_messages == [
        {"role": "system", "content": short},
        {"role": "user", "content": QUESTION},
    ]
    # The prompt the model saw, counted by a tokenizer of our own: the instructions are its system turn.
    expected = f"<|im_start|>system\n{short}<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
    assert engine.last_prompt == expected
    vocab = Llama(model_path=str(bundled_model_path()), vocab_only=True, verbose=False)
    assert first["usage"]["prompt_tokens"] == len(
        vocab.tokenize(expected.encode(), add_bos=False, special=True)
    )

    http.put(f"/assistants/{assistant['id']}", json={"instructions": longer}).raise_for_status()
    second = http.post("/generate", json=ask).json()
    assert longer in engine.last_prompt
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"] + 10


@pytest.mark.model
def test_a_long_history_is_shortened_not_refused(http: httpx.Client, server: EmbeddedServer) -> None:
    messages = []
    for i in range(40):
        messages += [
            {"role": "user", "content": f"Question {i}: what is {i} plus {i}? Explain the steps in detail."},
            {
                "role": "assistant",
                "content": f"{i} plus {i} is {2 * i}, because adding a number to itself doubles it.",
            },
        ]
    messages.append({"role": "user", "content": "And what is 7 plus 8?"})
    payload = {**body(max_tokens=16), "messages": messages, "system": "You are a patient tutor."}

    events = stream(http, payload)
    end = events[-1]
    assert end["type"] == "generation_end" and end["history_truncated"] is True
    assert end["usage"]["prompt_tokens"] <= CONTEXT - 16
    sent = engine_of(server).last_messages
    assert sent[0] == {"role": "system", "content": "You are a patient tutor."}
    assert sent[-1] == messages[-1] and len(sent) < len(messages)

    answer = http.post("/generate", json=payload)
    assert answer.status_code == 200 and answer.json()["history_truncated"] is True


def balance(http: httpx.Client) -> int:
    return http.get("/balance").json()["token_balance"]


def stream_until(http: httpx.Client, payload: dict[str, Any], stop_after: int | None = None) -> list[dict]:
    """The events of one streamed answer; with `stop_after`, the caller leaves after that many pieces."""
    events: list[dict[str, Any]] = []
    with connect_sse(http, "POST", "/generate", json={**payload, "stream": True}) as source:
        for sse in source.iter_sse():
            if sse.data == "[DONE]":
                break
            events.append(json.loads(sse.data))
            if stop_after is not None and len(kinds(events, "content_delta")) == stop_after:
                break  # leaving the block closes the connection, as the stop button does
    return events


@pytest.mark.model
def test_answers_stream_side_by_side_and_the_next_waits_its_turn(http: httpx.Client) -> None:
    streams: dict[str, list[dict[str, Any]]] = {}
    both_streaming = threading.Barrier(SLOTS + 1, timeout=120)

    def ask_long(name: str) -> None:
        events: list[dict[str, Any]] = []
        with connect_sse(
            http, "POST", "/generate", json={**body(LONG_ANSWER, max_tokens=120), "stream": True}
        ) as source:
            for sse in source.iter_sse():
                if sse.data == "[DONE]":
                    break
                events.append(json.loads(sse.data))
                if len(kinds(events, "content_delta")) == 1:
                    both_streaming.wait()  # every slot is answering before the next request is sent
        streams[name] = events

    workers = [threading.Thread(target=ask_long, args=(f"long{i}",)) for i in range(SLOTS)]
    for worker in workers:
        worker.start()
    both_streaming.wait()
    third = stream(http, body("Say hello.", max_tokens=8))
    for worker in workers:
        worker.join(timeout=120)
        assert not worker.is_alive()
    for events in streams.values():
        assert events[-1]["type"] == "generation_end" and not kinds(events, "queued")
    assert third[-1]["type"] == "generation_end"
    assert kinds(third, "queued")[0]["position"] == 1
    assert third.index(kinds(third, "queued")[0]) < third.index(kinds(third, "content_delta")[0])


@pytest.mark.model
def test_charges_stay_right_under_concurrency(http: httpx.Client) -> None:
    before = balance(http)
    results: dict[str, Any] = {}
    plan = {
        "streamed-1": None,
        "streamed-2": None,
        "stopped-1": 2,
        "stopped-2": 3,
        "json-1": "json",
        "json-2": "json",
    }

    def run(name: str, how: int | str | None) -> None:
        payload = body(LONG_ANSWER if how not in (None, "json") else QUESTION, max_tokens=40)
        if how == "json":
            results[name] = http.post("/generate", json=payload).json()
        else:
            results[name] = stream_until(http, payload, stop_after=how)

    workers = [threading.Thread(target=run, args=item) for item in plan.items()]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert not worker.is_alive()

    charged = 0
    for name, how in plan.items():
        result = results[name]
        if how == "json":
            assert result["status"] == "completed"
            charged += result["tokens_used"]
        elif how is None:
            assert result[-1]["type"] == "generation_end"
            charged += result[-1]["tokens_used"]
        else:
            assert len(kinds(result, "content_delta")) == how  # it was answering when its caller left
            assert not kinds(result, "generation_end")
    assert charged > 0
    # A stopped answer is refunded once the server sees the caller gone; wait for that, then compare.
    deadline = time.monotonic() + 30
    while balance(http) != before - charged and time.monotonic() < deadline:
        time.sleep(0.05)
    assert balance(http) == before - charged


@pytest.mark.model
def test_a_caller_who_leaves_frees_the_model(http: httpx.Client, server: EmbeddedServer) -> None:
    received = 0
    with connect_sse(
        http, "POST", "/generate", json={**body(LONG_ANSWER, max_tokens=200), "stream": True}
    ) as source:
        for sse in source.iter_sse():
            received += json.loads(sse.data)["type"] == "content_delta"
            if received == 2:
                break  # leaving the block closes the connection, as the stop button does
    answer = http.post("/generate", json=body(max_tokens=8))
    assert answer.status_code == 200 and answer.json()["content"].strip()
    left, after = list(engine_of(server).recent_answers)[-2:]
    assert left.outcome == "cancelled" and 2 <= left.completion_tokens < 200  # it stopped early
    assert after.outcome == "finished"


def test_a_missing_model_is_503_and_the_rest_keeps_working(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"
    settings = make_settings(tmp_path, engines={"*": "llama"}, model_path=missing)
    with (
        EmbeddedServer(settings) as running,
        httpx.Client(
            base_url=running.base_url, headers={"Authorization": f"Bearer {running.api_key}"}
        ) as http,
    ):
        answer = http.post("/generate", json=body())
        assert answer.status_code == 503 and answer.json()["error"] == "model_unavailable"
        assert "STUDIO_MODEL_PATH" in answer.json()["message"] or "pip install" in answer.json()["message"]
        (llama,) = [e for e in http.get("/engines").json()["engines"] if e["engine"] == "llama"]
        assert llama["state"] == "unavailable"
        made = http.post("/assistants", json={"name": "Still here", "model": MODEL, "instructions": "Hi."})
        assert made.status_code in (200, 201)
        assert http.get(f"/assistants/{made.json()['id']}").json()["name"] == "Still here"
