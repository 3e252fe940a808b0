"""A failed generation gives its charge back whatever it said, and a refund the database refuses is retried."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from backend.server.engines.base import Delta, EngineEvent, EngineFailed, EngineRequest, Finished
from backend.server.store import DB_FILE, Store
from tests.server.httputil import api, assert_error, sse_events
from tests.server.test_streaming import BreaksMidway, balance, server_with

HELLO = [{"role": "user", "content": "hi"}]


class SaysHalfACharacter(BreaksMidway):
    """An engine whose upstream sent half of a surrogate pair (a JSON `"\\ud83d"` decodes to that)."""

    name = "half"

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        yield Delta("Smile \ud83d")
        yield Finished(prompt_tokens=1, completion_tokens=2)


class FailsAfterHalfACharacter(BreaksMidway):
    name = "half-then-fails"

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        yield Delta("Smile \ud83d")
        raise EngineFailed("The upstream went away.")


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_with_half_a_character_is_kept_as_valid_text(tmp_path, stream):
    with server_with(tmp_path, SaysHalfACharacter()) as server, api(server) as http:
        before = balance(http)
        body = {"model": "gpt-5", "messages": HELLO, "stream": stream}
        if stream:
            with http.stream("POST", "/generate", json=body) as response:
                events = [e for e in sse_events(response) if isinstance(e, dict)]
            assert [e["type"] for e in events] == ["generation_start", "content_delta", "generation_end"]
            assert events[1]["delta"] == "Smile \ufffd"
            generation_id = events[0]["id"]
        else:
            answer = http.post("/generate", json=body)
            assert answer.status_code == 200 and answer.json()["content"] == "Smile \ufffd"
            generation_id = answer.json()["id"]
        assert balance(http) == before - 2
        stored = server.app.state.store.get_generation(generation_id)
        assert stored["status"] == "completed" and stored["content"] == "Smile \ufffd"


@pytest.mark.parametrize("stream", [False, True])
def test_a_failure_after_half_a_character_is_refunded_and_told(tmp_path, stream):
    with server_with(tmp_path, FailsAfterHalfACharacter()) as server, api(server) as http:
        before = balance(http)
        body = {"model": "gpt-5", "messages": HELLO, "stream": stream}
        if stream:
            with http.stream("POST", "/generate", json=body) as response:
                events = list(sse_events(response))
            assert events[-2] == {
                "type": "error",
                "message": "The upstream went away.",
                "error": "provider_error",
            }
            assert events[-1] == "[DONE]"
        else:
            problem = assert_error(http.post("/generate", json=body), 500, "provider_error")
            assert problem["message"] == "The upstream went away."
        assert balance(http) == before
        (row,) = sqlite3.connect(server.settings.data_dir / DB_FILE).execute(
            "SELECT status, tokens_used, content FROM generations"
        )
        assert row == ("failed", 0, "Smile \ufffd")


def _row(generation_id: str) -> dict:
    return {"id": generation_id, "model": "gpt-5", "engine": "echo", "created_at": "2025-01-01T00:00:00Z"}


def test_a_refund_the_database_refuses_is_retried_before_the_balance_is_read(tmp_path):
    store = Store(tmp_path, initial_balance=10, plan="Elite", busy_timeout=0.05)
    assert store.reserve(4, _row("gen_unlucky")) == 6
    other = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database: the refund cannot be written
    assert store.refund("gen_unlucky") is None
    other.execute("ROLLBACK")
    other.close()
    assert store.balance()["token_balance"] == 10  # owed, and given back before anyone reads the balance
    assert store.get_generation("gen_unlucky")["status"] == "failed"
    assert store.refund("gen_unlucky") == 10  # given back once only, however often asked
    store.close()


def test_a_refund_still_owed_at_the_end_is_made_at_the_next_start(tmp_path):
    store = Store(tmp_path, initial_balance=10, plan="Elite", busy_timeout=0.05)
    store.reserve(4, _row("gen_owed"))
    other = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    assert store.refund("gen_owed", "cancelled") is None
    store.close()  # its last try is refused too
    other.execute("ROLLBACK")
    other.close()
    after = Store(tmp_path, initial_balance=10, plan="Elite")
    assert after.recovered == 1 and after.balance()["token_balance"] == 10
    after.close()
