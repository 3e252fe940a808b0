"""open_connection: the embedded server when no base URL is set, the named server otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backend import errors
from backend.client import AssistantsClient, AsyncAssistantsClient
from backend.connection import open_connection
from tests.conftest import make_settings

KEY = "nb_connectiontestkey0123456789"


def test_a_real_server_without_a_key_says_to_set_studio_api_key(tmp_path):
    with pytest.raises(ValueError) as caught:
        open_connection(make_settings(tmp_path, base_url="neuralbox"))
    message = str(caught.value)
    assert "STUDIO_API_KEY" in message and ".env" in message and "NeuralBox" in message


def test_a_real_server_with_a_key_connects_without_starting_anything(tmp_path):
    connection = open_connection(
        make_settings(tmp_path, base_url="https://elumenta.ru/api/v2/", STUDIO_API_KEY=KEY)
    )
    try:
        assert connection.server is None and connection.label == "Elumenta"
        assert connection.base_url == "https://elumenta.ru/api/v2"
        assert isinstance(connection.client, AsyncAssistantsClient)
        assert KEY not in repr(connection)
        with connection.sync_client() as client:
            assert isinstance(client, AssistantsClient) and client.base_url == connection.base_url
            assert client._http.headers["authorization"] == f"Bearer {KEY}"
    finally:
        connection.close()


@pytest.mark.anyio
async def test_the_local_server_is_started_and_stopped(tmp_path):
    connection = open_connection(make_settings(tmp_path))
    try:
        assert connection.server is not None
        assert (
            connection.label.startswith("Local server") and connection.base_url == connection.server.base_url
        )
        assert (await connection.client.balance()).plan == "Elite"
        assert connection.server.api_key not in repr(connection)
        sync = connection.sync_client()
        assert sync.balance().token_balance == 100_000
    finally:
        await connection.aclose()
    assert connection.server is None
    with sync, pytest.raises(errors.APIConnectionError):
        sync.balance()


def test_importing_backend_does_not_import_the_server():
    code = "import sys, backend; print('backend.server' in sys.modules, 'fastapi' in sys.modules, 'gradio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False", "False"]
    result = subprocess.run(
        [sys.executable, "-c", "import backend; print(backend.open_connection.__module__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "backend.connection"
