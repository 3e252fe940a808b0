"""The client never sends a request on its own: a stream that failed to open is closed, and paging is bounded."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from backend import errors
from backend.calls import MAX_PAGES
from backend.client import AssistantsClient
from backend.server.embedded import EmbeddedServer
from tests.backend.both_clients import either_client
from tests.conftest import make_settings
from tests.server.httputil import serve

HI = [{"role": "user", "content": "hi"}]


def _generates_counted(server: EmbeddedServer) -> int:
    """How many POST /generate the server has counted: its hourly allowance of 100, minus what is left."""
    answer = httpx.get(f"{server.base_url}/balance", headers={"Authorization": f"Bearer {server.api_key}"})
    return 100 - int(answer.headers["x-ratelimit-remaining-hour"])


@pytest.mark.anyio
async def test_a_stream_that_failed_to_open_is_not_sent_again(tmp_path, kind):
    settings = make_settings(tmp_path, local_balance=0, local_rate_limit_hour=100)
    with EmbeddedServer(settings) as server:
        async with either_client(kind, server.base_url, server.api_key) as client:
            stream = client.generate_stream(HI, model="gpt-5-nano")
            with pytest.raises(errors.InsufficientTokensError):
                async for _ in stream:
                    pass
            assert _generates_counted(server) == 1
            for _ in range(3):  # a caller that loops again, e.g. a careless retry
                with pytest.raises(RuntimeError, match="This stream is closed"):
                    async for _ in stream:
                        pass
            assert _generates_counted(server) == 1


def _endless_pages(*, same_items: bool) -> tuple[FastAPI, list[int]]:
    """A server that always claims a billion pages: with new assistants on each, or the first page again."""
    app = FastAPI()
    asked: list[int] = []

    @app.get("/api/v2/assistants")
    async def assistants(request: Request) -> dict:
        page = int(request.query_params.get("page", 1))
        asked.append(page)
        if len(asked) > MAX_PAGES + 10:  # the client never stopped: end the test instead of hanging it
            return {"items": [], "total": 0, "page": page, "limit": 2, "pages": 1}
        number = 1 if same_items else page
        items = [
            {"id": f"asst_{number}_{i}", "name": f"Bot {number}.{i}", "model": "gpt-5"} for i in range(2)
        ]
        return {"items": items, "total": 2 * 10**9, "page": page, "limit": 2, "pages": 10**9}

    return app, asked


def test_paging_stops_when_the_server_sends_the_same_page_again():
    app, asked = _endless_pages(same_items=True)
    with serve(app) as url, AssistantsClient(f"{url}/api/v2", "nb_test") as client:
        found = client.assistants.list_all(limit=2)
    assert [a.id for a in found] == ["asst_1_0", "asst_1_1"] and asked == [1, 2]


def test_paging_is_bounded_whatever_page_count_the_server_claims():
    app, asked = _endless_pages(same_items=False)
    with (
        serve(app) as url,
        AssistantsClient(f"{url}/api/v2", "nb_test") as client,
        pytest.raises(errors.UnexpectedResponseError, match=f"after {MAX_PAGES} pages"),
    ):
        client.assistants.list_all(limit=2)
    assert len(asked) == MAX_PAGES
