"""Shared fixtures: a real local server on a free loopback port, with a fresh data folder per test."""

from __future__ import annotations

import os

# Tests never reach the internet, and a developer's own settings never leak in.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
for _name in [
    n for n in os.environ if n.startswith("STUDIO_") or n in {"NEURALBOX_API_KEY", "ELUMENTA_API_KEY"}
]:
    del os.environ[_name]

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from backend.settings import Settings  # noqa: E402


def make_settings(tmp_path, **overrides) -> Settings:
    """Settings for a test server: echo engine, a fresh data folder, no .env file."""
    values = {"data_dir": tmp_path / "data", "engines": {"*": "echo"}}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server_settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def local_server(server_settings):
    """The embedded local server, started on a free port with the deterministic echo engine."""
    from backend.server.embedded import EmbeddedServer

    with EmbeddedServer(server_settings) as server:
        yield server


@pytest.fixture
def client(local_server) -> Iterator:
    from backend.client import AssistantsClient

    with AssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as c:
        yield c


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the whole run (Debian's package), stopped at the end."""
    from tests.postgres import postgres_server

    manager = postgres_server()
    try:
        server = manager.__enter__()
    except (RuntimeError, OSError) as err:
        pytest.fail(str(err), pytrace=False)
    yield server
    manager.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """The store's database, once on SQLite (a file) and once on PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'workbench.db'}"
        return
    server = request.getfixturevalue("postgres")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def store(store_url):
    """The studio's store, opened (and migrated) on each database."""
    from studio.store import StoreHandle

    handle = StoreHandle(store_url)
    handle.get()
    yield handle
    handle.close()
