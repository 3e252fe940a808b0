"""The studio on two processes behind a real nginx, shared by every test of this folder.

One PostgreSQL database, one stand-alone Assistants API server (echo engine, 40 ms a word so answers can be
caught while they stream), two real `python app.py` processes sharing a data folder, and Debian's nginx with
the site of deploy/assistant-studio.conf in front. Tests that need nginx are marked `nginx`; without it they
fail and say what to install.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.cluster import Api, Proxy, Studio, api_server, proxy, shared_data_dir, studios
from deploy.nginx import NO_NGINX, nginx_binary

DELAY_MS = 40.0


@dataclass
class Deployment:
    """What the recipe sets up, running."""

    api: Api
    database_url: str
    data_dir: Path
    studios: list[Studio]
    proxy: Proxy


@pytest.fixture(scope="package")
def nginx() -> str:
    """Debian's nginx; a missing one fails the tests and says what to install."""
    binary = nginx_binary()
    if binary is None:
        pytest.fail(NO_NGINX, pytrace=False)
    return binary


@pytest.fixture(scope="package")
def deployment(nginx, postgres, tmp_path_factory) -> Iterator[Deployment]:
    """Two studio processes on one PostgreSQL and one API server, behind nginx."""
    folder = tmp_path_factory.mktemp("deployment")
    database_url = postgres.create_database()
    data_dir = shared_data_dir(folder / "studio-data")
    try:
        with (
            api_server(folder / "api", delay_ms=DELAY_MS) as api,
            studios(2, api=api, database_url=database_url, data_dir=data_dir) as started,
            proxy(started) as front,
        ):
            yield Deployment(api, database_url, data_dir, started, front)
    finally:
        postgres.drop_database(database_url)
