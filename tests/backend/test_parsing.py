"""What the client sends and how it reads answers, including the shapes other servers use."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from backend import errors
from backend._base import USER_AGENT
from backend.client import AssistantsClient, AsyncAssistantsClient
from backend.schemas import Message
from tests.conftest import make_settings

BASE = "http://api.test/api/v2"
KEY = "nb_parsingtestkey0123456789"


def _client(handler, **options) -> AssistantsClient:
    return AssistantsClient(
        BASE, KEY, transport=httpx.MockTransport(handler), sleep=lambda _: None, **options
    )


def _answer(status: int = 200, **kwargs):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, **kwargs)

    return handler, seen


def test_requests_carry_key_user_agent_and_quoted_ids():
    handler, seen = _answer(json={"id": "a/b c", "name": "n", "model": "m"})
    with _client(handler) as client:
        client.assistants.get("a/b c")
    request = seen[0]
    assert request.url.raw_path == b"/api/v2/assistants/a%2Fb%20c"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == USER_AGENT and USER_AGENT.startswith("assistant-studio/")


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_blank_ids_are_rejected_before_any_request(bad):
    handler, seen = _answer(json={})
    with _client(handler) as client:
        for call in (client.assistants.get, client.assistants.delete, client.models.get):
            with pytest.raises(ValueError):
                call(bad)
        with pytest.raises(ValueError):
            client.assistants.update(bad, name="x")
    assert seen == []


def test_update_sends_only_the_fields_given():
    handler, seen = _answer(json={"id": "asst_1", "name": "n", "model": "m", "instructions": "new"})
    with _client(handler) as client:
        updated = client.assistants.update("asst_1", instructions="new")
    assert json.loads(seen[0].content) == {"instructions": "new"}
    assert seen[0].method == "PUT" and updated.instructions == "new"


def test_generate_sends_messages_and_only_set_options():
    handler, seen = _answer(json={"id": "gen_1", "content": "hi", "tokens_used": 1})
    with _client(handler) as client:
        client.generate(
            [Message(role="user", content="a"), {"role": "assistant", "content": "b"}], assistant_id="asst_1"
        )
    body = json.loads(seen[0].content)
    assert body == {
        "assistant_id": "asst_1",
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
    }


def test_a_misspelt_generate_option_is_refused():
    handler, seen = _answer(json={})
    with _client(handler) as client, pytest.raises(TypeError, match="temprature"):
        client.generate([{"role": "user", "content": "a"}], temprature=0.2)  # type: ignore[call-arg]
    assert seen == []


def test_bare_list_is_read_as_one_page():
    handler, _ = _answer(
        json=[{"id": "asst_1", "name": "n", "model": "m"}, {"id": "asst_2", "name": "o", "model": "m"}]
    )
    with _client(handler) as client:
        page = client.assistants.list()
    assert [a.id for a in page.items] == ["asst_1", "asst_2"] and page.total == 2 and page.pages == 1


def test_older_generate_shape_is_read():
    handler, _ = _answer(json={"id": 42, "result_text": "Hello", "tokens_spent": 3, "status": "completed"})
    with _client(handler) as client:
        generation = client.generate([{"role": "user", "content": "hi"}], model="gpt-5-nano")
    assert (generation.id, generation.content, generation.tokens_used) == ("42", "Hello", 3)


def test_delete_reads_204_as_deleted():
    handler, _ = _answer(204)
    with _client(handler) as client:
        deleted = client.assistants.delete("asst_9")
    assert deleted.id == "asst_9" and deleted.deleted is True


def test_models_list_accepts_a_wrapped_list():
    handler, _ = _answer(json={"models": [{"slug": "gpt-5", "token_cost": 2}]})
    with _client(handler) as client:
        assert [(m.slug, m.token_cost) for m in client.models.list()] == [("gpt-5", 2)]


def test_an_html_page_is_an_unexpected_response_that_says_so():
    page = (
        f"<!DOCTYPE html><html><body>Welcome {KEY} to our parking page with a very long title</body></html>"
    )
    handler, _ = _answer(text=page, headers={"content-type": "text/html"})
    with _client(handler) as client, pytest.raises(errors.UnexpectedResponseError) as caught:
        client.balance()
    message = caught.value.user_message
    assert "an HTML page" in message and "<!DOCTYPE html>" in message
    assert KEY not in message and "/api/v2" in message  # the next step names the usual base URL


def test_json_of_another_shape_is_an_unexpected_response():
    handler, _ = _answer(json={"hello": "world"})
    with _client(handler) as client, pytest.raises(errors.UnexpectedResponseError, match="a balance"):
        client.balance()


def test_a_redirect_is_reported_with_where_it_leads():
    handler, _ = _answer(302, headers={"location": "https://login.example/"})
    with _client(handler) as client, pytest.raises(errors.UnexpectedResponseError, match="login.example"):
        client.assistants.list()


def test_list_all_pages_through():
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        items = [{"id": f"asst_{page}{i}", "name": "n", "model": "m"} for i in range(2 if page < 3 else 1)]
        return httpx.Response(200, json={"items": items, "total": 5, "page": page, "limit": 2, "pages": 3})

    with _client(handler) as client:
        assert [a.id for a in client.assistants.list_all(limit=2)] == [
            "asst_10",
            "asst_11",
            "asst_20",
            "asst_21",
            "asst_30",
        ]


def test_categories_fall_back_to_a_marketplace_page_on_404():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/categories"):
            return httpx.Response(404, json={"error": "not_found", "message": "No such route."})
        items = [{"name": "A", "category": "writing"}, {"name": "B", "category": "coding"}, {"name": "C"}]
        return httpx.Response(200, json={"items": items})

    with _client(handler) as client:
        assert client.marketplace.categories() == ["coding", "writing"]
    assert "limit=100" in seen[1]


def test_categories_read_the_local_extension():
    handler, _ = _answer(json=[{"category": "productivity", "count": 4}, {"category": "coding", "count": 2}])
    with _client(handler) as client:
        assert client.marketplace.categories() == ["productivity", "coding"]


def test_server_info_is_empty_on_a_server_without_it():
    handler, _ = _answer(404, json={"error": "not_found", "message": "Not found."})
    with _client(handler) as client:
        assert client.server_info() == {}


def test_the_key_is_never_shown(caplog):
    caplog.set_level(logging.DEBUG)
    handler, _ = _answer(500, json={"error": "provider_error", "message": f"upstream rejected {KEY}"})
    client = _client(handler, max_retries=1)
    assert KEY not in repr(client) and KEY not in str(vars(client))
    with client, pytest.raises(errors.ProviderError) as caught:
        client.assistants.list()
    assert (
        KEY not in caught.value.user_message
        and KEY not in str(caught.value)
        and KEY not in repr(caught.value)
    )
    assert KEY not in caplog.text


@pytest.mark.anyio
async def test_async_client_reads_the_same_shapes():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=[{"id": "asst_1", "name": "n", "model": "m"}])

    client = AsyncAssistantsClient(BASE, SecretStr(KEY), transport=httpx.MockTransport(handler))
    assert KEY not in repr(client)
    async with client:
        assert [a.id for a in (await client.assistants.list()).items] == ["asst_1"]
        assert (await client.assistants.delete("asst_1")).deleted
        with pytest.raises(ValueError):
            await client.assistants.get(" ")


def test_from_settings_takes_overrides_and_needs_a_base_url(tmp_path):
    settings = make_settings(
        tmp_path, base_url="https://neuralbox.top/api/v2", STUDIO_API_KEY=KEY, read_timeout=9
    )
    with AssistantsClient.from_settings(settings, base_url=BASE) as client:
        assert client.base_url == BASE and client.read_timeout == 9
        assert client._http.headers["authorization"] == f"Bearer {KEY}"
        assert client._http.timeout.read == 9
    with pytest.raises(ValueError, match="STUDIO_BASE_URL"):
        AssistantsClient.from_settings(make_settings(tmp_path))


def test_the_pool_holds_a_hundred_streams():
    with AssistantsClient(BASE, KEY) as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections >= 100


def test_list_all_pages_through_when_the_server_omits_pages():
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        items = [{"id": f"asst_{page}{i}", "name": "n", "model": "m"} for i in range(2 if page < 3 else 1)]
        return httpx.Response(200, json={"items": items, "total": 5, "page": page, "limit": 2})

    with _client(handler) as client:
        assert client.assistants.list(limit=2).pages == 3
        assert len(client.assistants.list_all(limit=2)) == 5


@pytest.mark.parametrize(
    ("answer", "expected", "words"),
    [
        ({"status": "failed", "tokens_used": 0}, errors.ProviderError, "nothing was charged"),
        ({"status": "failed", "tokens_used": 2}, errors.ProviderError, "check your balance"),
        ({"status": "pending", "tokens_used": 2}, errors.UnexpectedResponseError, "no way to fetch it"),
    ],
    ids=["failed", "failed-charged", "pending"],
)
def test_a_generation_that_did_not_complete_is_an_error(answer, expected, words):
    handler, seen = _answer(json={"id": "gen_1", "content": "", **answer})
    with _client(handler) as client, pytest.raises(expected) as caught:
        client.generate([{"role": "user", "content": "hi"}], model="gpt-5-nano")
    assert "gen_1" in caught.value.message and words in caught.value.user_message
    assert len(seen) == 1  # a POST the server acted on is never sent again


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_answer_httpx_cannot_decode_is_an_unexpected_response(method):
    handler, seen = _answer(content=b"this is not gzip", headers={"content-encoding": "gzip"})
    with _client(handler) as client, pytest.raises(errors.UnexpectedResponseError) as caught:
        if method == "GET":
            client.balance()
        else:
            client.generate([{"role": "user", "content": "hi"}], model="gpt-5-nano")
    assert "DecodingError" in caught.value.message and "api.test" in caught.value.message
    assert len(seen) == 1


@pytest.mark.anyio
async def test_async_client_turns_an_undecodable_answer_into_an_unexpected_response():
    handler, seen = _answer(content=b"this is not gzip", headers={"content-encoding": "gzip"})
    async with AsyncAssistantsClient(BASE, KEY, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(errors.UnexpectedResponseError, match="DecodingError"):
            await client.assistants.list()
    assert len(seen) == 1
