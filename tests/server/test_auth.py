"""Keys, plans and the error shape at the gate: every route needs `Authorization: Bearer <key>`."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.server.embedded import EmbeddedServer
from backend.server.store import KEY_FILE, new_api_key
from tests.conftest import make_settings
from tests.server.httputil import api, assert_error

PROTECTED = [
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/assistants"),
    ("POST", "/assistants"),
    ("GET", "/assistants/asst_000000000000"),
    ("PUT", "/assistants/asst_000000000000"),
    ("DELETE", "/assistants/asst_000000000000"),
    ("GET", "/assistants/marketplace"),
    ("GET", "/assistants/marketplace/categories"),
    ("POST", "/generate"),
    ("GET", "/models"),
    ("GET", "/models/gpt-5"),
    ("GET", "/balance"),
    ("GET", "/engines"),
    ("GET", "/no-such-route"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_refuses_a_missing_key(local_server, method, path):
    response = httpx.request(method, local_server.base_url + path, json={})
    body = assert_error(response, 401, "not_authenticated")
    assert local_server.api_key not in response.text
    assert body["message"]


@pytest.mark.parametrize(
    "header", ["Bearer nb_wrongwrongwrongwrongwrongwrongwrongwrongwrongwr", "Basic abc", "Bearer"]
)
def test_a_wrong_key_is_refused(local_server, header):
    response = httpx.get(local_server.base_url + "/health", headers={"Authorization": header})
    assert_error(response, 401, "not_authenticated")


def test_the_key_opens_every_route(http):
    assert http.get("/health").json() == {"status": "ok"}
    assert http.get("/openapi.json").status_code == 200
    # The interactive docs are off: a browser cannot send the key anyway.
    assert_error(http.get("/docs"), 404, "not_found")


def test_an_expired_key_gets_token_expired(local_server, http):
    old, fresh = new_api_key(), new_api_key()
    local_server.app.state.store.add_key(old, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    local_server.app.state.store.add_key(fresh, expires_at=datetime.now(UTC) + timedelta(days=1))
    expired = httpx.get(local_server.base_url + "/balance", headers={"Authorization": f"Bearer {old}"})
    assert_error(expired, 401, "token_expired")
    valid = httpx.get(local_server.base_url + "/balance", headers={"Authorization": f"Bearer {fresh}"})
    assert valid.status_code == 200


def test_the_default_key_is_made_once_and_kept_private(local_server, server_settings):
    key = local_server.api_key
    assert re.fullmatch(r"nb_[A-Za-z0-9]{45}", key) and len(key) == 48
    path = server_settings.data_dir / KEY_FILE
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("plan", ["Starter", "Basic", "Pro"])
def test_plans_below_vip_are_refused_on_every_call(tmp_path, plan):
    with EmbeddedServer(make_settings(tmp_path, local_plan=plan)) as server, api(server) as http:
        for path in ("/health", "/balance", "/models", "/assistants"):
            body = assert_error(http.get(path), 403, "insufficient_plan")
            assert plan in body["message"]
        assert_error(
            http.post("/generate", json={"model": "gpt-5", "messages": []}), 403, "insufficient_plan"
        )


@pytest.mark.parametrize("plan", ["VIP", "Elite"])
def test_vip_and_elite_may_call(tmp_path, plan):
    with EmbeddedServer(make_settings(tmp_path, local_plan=plan)) as server, api(server) as http:
        assert http.get("/balance").json()["plan"] == plan


def test_errors_never_show_the_key(local_server, http):
    key = local_server.api_key
    responses = [
        http.get(f"/assistants/{key}"),
        http.get(f"/{key}"),
        http.post("/generate", json={"model": key, "messages": [{"role": "user", "content": "hi"}]}),
    ]
    for response in responses:
        assert response.status_code in (404, 422)
        assert key not in response.text
