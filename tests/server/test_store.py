"""Durability: data and the key survive a restart; the balance is charged atomically."""

from __future__ import annotations

import os
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.server.embedded import EmbeddedServer, ServerStartError
from backend.server.store import DB_FILE, Store
from tests.conftest import make_settings
from tests.server.httputil import api


def test_everything_survives_a_restart(tmp_path):
    settings = make_settings(tmp_path)
    with EmbeddedServer(settings) as first, api(first) as http:
        key = first.api_key
        created = http.post(
            "/assistants", json={"name": "Keeper", "model": "gpt-5", "instructions": "Stay."}
        ).json()
        http.put(f"/assistants/{created['id']}", json={"description": "kept"})
        generation = http.post(
            "/generate", json={"model": "gpt-5", "messages": [{"role": "user", "content": "x"}]}
        )
        balance = generation.json()["balance_remaining"]
    with EmbeddedServer(settings) as second, api(second) as http:
        assert second.api_key == key
        again = http.get(f"/assistants/{created['id']}").json()
        assert (
            again["name"] == "Keeper" and again["description"] == "kept" and again["instructions"] == "Stay."
        )
        assert http.get("/balance").json()["token_balance"] == balance == 100_000 - 2
        assert second.app.state.store.get_generation(generation.json()["id"])["status"] == "completed"


def test_the_database_is_wal_with_the_schema(local_server, server_settings):
    db = sqlite3.connect(server_settings.data_dir / DB_FILE)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"api_keys", "assistants", "generations", "account"} <= tables
        # Only a digest of the key is stored.
        stored = [row[0] for row in db.execute("SELECT key_hash FROM api_keys")]
        assert local_server.api_key not in stored and len(stored) == 1
    finally:
        db.close()


def test_reserving_is_atomic_under_contention(tmp_path):
    store = Store(tmp_path, initial_balance=10, plan="Elite")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: store.reserve(3, _generation(f"gen_{i}")), range(8)))
    granted = [r for r in results if r is not None]
    assert len(granted) == 3 and sorted(granted) == [1, 4, 7]
    assert store.balance()["token_balance"] == 1
    refunded = next(i for i, left in enumerate(results) if left is not None)
    assert store.refund(f"gen_{refunded}") == 4
    store.close()


def test_the_plan_follows_the_settings_and_the_balance_is_kept(tmp_path):
    first = Store(tmp_path, initial_balance=50, plan="Elite")
    first.reserve(5)
    first.close()
    second = Store(tmp_path, initial_balance=50, plan="VIP")
    assert second.balance() == {"token_balance": 45, "plan": "VIP", "plan_expires_at": None}
    second.close()


def test_a_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(make_settings(tmp_path, local_port=port))
        with pytest.raises(ServerStartError, match="STUDIO_LOCAL_PORT"):
            server.start()


def _generation(generation_id: str) -> dict:
    return {"id": generation_id, "model": "gpt-5", "engine": "echo", "created_at": "2025-01-01T00:00:00Z"}


def test_a_charge_held_when_the_process_died_is_given_back_on_the_next_start(tmp_path):
    store = Store(tmp_path, initial_balance=10, plan="Elite")
    assert store.reserve(4, _generation("gen_crashed")) == 6
    held = store.get_generation("gen_crashed")
    assert held["status"] == "pending" and held["tokens_used"] == 4  # charged and recorded together
    # The process dies here: nothing settles the generation. The next start opens the same folder.
    after = Store(tmp_path, initial_balance=10, plan="Elite")
    assert after.recovered == 1 and after.balance()["token_balance"] == 10
    failed = after.get_generation("gen_crashed")
    assert failed["status"] == "failed" and failed["tokens_used"] == 0
    # Given back once only: a third start finds nothing left to recover.
    again = Store(tmp_path, initial_balance=10, plan="Elite")
    assert again.recovered == 0 and again.balance()["token_balance"] == 10
    for opened in (store, after, again):
        opened.close()


def test_settled_generations_are_not_refunded_on_the_next_start(tmp_path):
    store = Store(tmp_path, initial_balance=10, plan="Elite")
    store.reserve(2, _generation("gen_done"))
    assert store.complete({**_generation("gen_done"), "content": "hi", "tokens_used": 2}) == 8
    store.reserve(3, _generation("gen_left"))
    assert store.refund("gen_left", "cancelled") == 8
    store.close()
    after = Store(tmp_path, initial_balance=10, plan="Elite")
    assert after.recovered == 0 and after.balance()["token_balance"] == 8
    assert after.get_generation("gen_done")["status"] == "completed"
    assert after.get_generation("gen_left")["status"] == "cancelled"
    after.close()


def test_a_refused_reservation_records_nothing(tmp_path):
    store = Store(tmp_path, initial_balance=1, plan="Elite")
    assert store.reserve(4, _generation("gen_poor")) is None
    assert store.get_generation("gen_poor") is None and store.balance()["token_balance"] == 1
    store.close()


def test_stopping_the_server_closes_the_database(tmp_path):
    with EmbeddedServer(make_settings(tmp_path)) as server:
        store = server.app.state.store
        assert store.balance()["token_balance"] == 100_000
    with pytest.raises(sqlite3.ProgrammingError):
        store.balance()
    with pytest.raises(ServerStartError, match="new EmbeddedServer"):
        server.start()  # a clear refusal rather than a server without its database


def test_the_database_and_its_journal_are_private(tmp_path):
    old = os.umask(0o022)  # the usual umask, which would leave new files readable by everyone
    try:
        store = Store(tmp_path / "fresh", initial_balance=10, plan="Elite")
        store.reserve(1, _generation("gen_1"))  # a write, so the -wal and -shm files exist
        names = [DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", "api_key"]
        store.default_key()
        assert {
            name: stat.S_IMODE((tmp_path / "fresh" / name).stat().st_mode) for name in names
        } == dict.fromkeys(names, 0o600)
        store.close()
        # A database made readable by an older version is made private when it is opened again.
        (tmp_path / "fresh" / DB_FILE).chmod(0o644)
        again = Store(tmp_path / "fresh", initial_balance=10, plan="Elite")
        again.reserve(1, _generation("gen_2"))
        assert all(stat.S_IMODE((tmp_path / "fresh" / n).stat().st_mode) == 0o600 for n in names[:3])
        again.close()
    finally:
        os.umask(old)
