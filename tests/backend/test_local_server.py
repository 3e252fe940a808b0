"""Every endpoint through both clients, against the real local server over real HTTP (echo engine)."""

from __future__ import annotations

import re

import pytest

from backend import errors
from backend.schemas import ContentDelta, GenerationEnd, GenerationStart
from tests.backend.both_clients import either_client

pytestmark = pytest.mark.anyio
HI = [{"role": "user", "content": "What's the difference between Pro and VIP plans?"}]


async def test_assistants_crud(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        created = await client.assistants.create(
            name="Support Bot", model="gpt-5-nano", instructions="Be brief.", description="Answers questions"
        )
        assert re.fullmatch(r"asst_[a-z0-9]+", created.id)
        assert (created.name, created.instructions, created.description) == (
            "Support Bot",
            "Be brief.",
            "Answers questions",
        )
        assert (await client.assistants.get(created.id)).name == "Support Bot"
        assert created.id in [a.id for a in (await client.assistants.list()).items]

        updated = await client.assistants.update(created.id, instructions="Be thorough.")
        assert (updated.instructions, updated.name, updated.model) == (
            "Be thorough.",
            "Support Bot",
            "gpt-5-nano",
        )

        deleted = await client.assistants.delete(created.id)
        assert deleted.id == created.id and deleted.deleted
        with pytest.raises(errors.NotFoundError):
            await client.assistants.get(created.id)
        with pytest.raises(errors.NotFoundError):
            await client.assistants.delete(created.id)


async def test_list_all_pages_through_the_real_server(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        ids = {(await client.assistants.create(name=f"Bot {n}", model="gpt-5-nano")).id for n in range(5)}
        first = await client.assistants.list(page=1, limit=2)
        assert len(first.items) == 2 and first.pages == 3 and first.total == 5
        assert {a.id for a in await client.assistants.list_all(limit=2)} == ids


async def test_validation_errors_name_the_field(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        with pytest.raises(errors.ValidationError) as caught:
            await client.assistants.create(name="", model="gpt-5-nano")
    assert "name" in caught.value.field_errors
    assert local_server.api_key not in caught.value.user_message


async def test_models_and_balance(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        models = await client.models.list()
        assert "gpt-5-nano" in [m.slug for m in models]
        assert (await client.models.get("gpt-5")).token_cost == 2
        with pytest.raises(errors.NotFoundError):
            await client.models.get("no-such-model")
        balance = await client.balance()
        assert balance.plan == "Elite" and balance.token_balance == 100_000


async def test_generate_with_an_assistant_charges_its_model(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        bot = await client.assistants.create(name="Bot", model="gpt-5", instructions="Answer plainly.")
        generation = await client.generate(HI, assistant_id=bot.id)
        assert generation.status == "completed" and generation.content
        assert generation.tokens_used == 2 and generation.balance_remaining == 100_000 - 2
        assert generation.engine == "echo"
        assert (await client.balance()).token_balance == 100_000 - 2


async def test_generate_stream_gives_the_same_answer_as_generate(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        whole = await client.generate(HI, model="gpt-5-nano", system="Be brief.")
        async with client.generate_stream(HI, model="gpt-5-nano", system="Be brief.") as stream:
            events = [event async for event in stream]
        assert isinstance(events[0], GenerationStart) and isinstance(events[-1], GenerationEnd)
        assert any(isinstance(e, ContentDelta) for e in events)
        assert stream.text == whole.content
        assert stream.end.tokens_used == 1 and stream.start.id == stream.end.id


async def test_marketplace_and_its_categories(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        categories = await client.marketplace.categories()
        assert "productivity" in categories
        page = await client.marketplace.list(category="productivity", limit=5)
        assert page.items and all(item.category == "productivity" for item in page.items)
        assert len(page.items) <= 5
        word = page.items[0].name.split()[0]
        found = await client.marketplace.list(q=word)
        assert page.items[0].name in [item.name for item in found.items]


async def test_server_info_describes_the_engines(local_server, kind):
    async with either_client(kind, local_server.base_url, local_server.api_key) as client:
        info = await client.server_info()
    assert "echo" in [engine["engine"] for engine in info["engines"]]


async def test_a_wrong_key_is_an_authentication_error(local_server, kind):
    wrong = "nb_wrongkey000000000000000000000000000000000000"
    async with either_client(kind, local_server.base_url, wrong) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.balance()
    assert wrong not in caught.value.user_message and "STUDIO_API_KEY" in caught.value.user_message
