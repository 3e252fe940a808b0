"""Fixtures for the studio's logic: an assistant library over the real local server and a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.client import AsyncAssistantsClient
from studio.library import AssistantLibrary
from studio.servers import server_key


@pytest.fixture
async def library(local_server, store) -> AsyncIterator[AssistantLibrary]:
    """My assistants on the local server (echo engine), with history in the store (SQLite, PostgreSQL)."""
    async with AsyncAssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as client:
        yield AssistantLibrary(
            client, store, server_key(local_server.base_url, local_data_dir=local_server.settings.data_dir)
        )
