"""Fixtures of the client tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sync", "async"])
def kind(request) -> str:
    """Which client a scenario runs through; see both_clients.either_client."""
    return request.param
