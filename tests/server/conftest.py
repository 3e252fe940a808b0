"""Fixtures for the local server's tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.httputil import api


@pytest.fixture
def http(local_server) -> Iterator[httpx.Client]:
    with api(local_server) as client:
        yield client
