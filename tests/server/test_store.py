"""Durability: data and the key survive a restart; the balance is charged atomically."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

from backend.server.embedded import EmbeddedServer
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
        results = list(pool.map(lambda _: store.reserve(3), range(8)))
    granted = [r for r in results if r is not None]
    assert len(granted) == 3 and sorted(granted) == [1, 4, 7]
    assert store.balance()["token_balance"] == 1
    store.refund(3)
    assert store.balance()["token_balance"] == 4
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

    import pytest

    from backend.server.embedded import ServerStartError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(make_settings(tmp_path, local_port=port))
        with pytest.raises(ServerStartError, match="STUDIO_LOCAL_PORT"):
            server.start()
