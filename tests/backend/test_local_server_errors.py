"""Error statuses produced by the real local server, read as typed errors by both clients."""

from __future__ import annotations

from typing import Any

import pytest

from backend import errors
from backend.server.embedded import EmbeddedServer
from tests.backend.both_clients import either_client
from tests.backend.faulty_server import FaultyServer, hang_up, sse, stream_then_cut
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio
HI = [{"role": "user", "content": "hi"}]


def _recorder() -> tuple[list[float], Any, Any]:
    sleeps: list[float] = []

    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return sleeps, sleeps.append, async_sleep


async def test_rate_limit_from_the_real_server_shows_the_wait(tmp_path, kind):
    sleeps, sync_sleep, async_sleep = _recorder()
    # The local server counts generations against the plan's limits.
    with EmbeddedServer(make_settings(tmp_path, local_rate_limit_hour=1)) as server:
        sleep = async_sleep if kind == "async" else sync_sleep
        async with either_client(kind, server.base_url, server.api_key, sleep=sleep) as client:
            await client.generate(HI, model="gpt-5-nano")
            with pytest.raises(errors.RateLimitError) as caught:
                await client.generate(HI, model="gpt-5-nano")
    error = caught.value
    assert error.retry_after is not None and error.retry_after > 20
    # Each thing said once: what was reached, then when to try again and what else to do.
    assert error.user_message == (
        "Rate limit reached: 1 request per hour on the Elite plan. "
        f"Try again in {error.retry_after:.0f} seconds, or raise STUDIO_LOCAL_RATE_LIMIT_HOUR "
        "and restart the local server."
    )
    assert server.api_key not in error.user_message
    assert sleeps == []  # longer than retry_max_wait: the person decides, nothing waits


async def test_a_low_balance_is_insufficient_tokens_and_nothing_is_charged(tmp_path, kind):
    with EmbeddedServer(make_settings(tmp_path, local_balance=0)) as server:
        async with either_client(kind, server.base_url, server.api_key) as client:
            with pytest.raises(errors.InsufficientTokensError) as caught:
                await client.generate(HI, model="gpt-5-nano")
            assert (await client.balance()).token_balance == 0
    # gpt-5-nano is already among the cheapest: only a top-up helps.
    assert caught.value.user_message == (
        "gpt-5-nano costs 1 token per request; the balance is 0. Top up your balance. Nothing was charged."
    )


async def test_a_plan_without_api_access_is_permission_denied(tmp_path, kind):
    with EmbeddedServer(make_settings(tmp_path, local_plan="Pro")) as server:
        async with either_client(kind, server.base_url, server.api_key) as client:
            with pytest.raises(errors.PermissionDeniedError) as caught:
                await client.assistants.list()
    # On the local server, its own setting is the way out; it never suggests the local server itself.
    assert caught.value.user_message == (
        "API access needs the VIP or Elite plan; this account is on Pro. "
        "Set STUDIO_LOCAL_PLAN to VIP or Elite and restart the local server."
    )


async def test_an_engine_that_cannot_run_is_model_unavailable_after_retries(tmp_path, kind):
    sleeps, sync_sleep, async_sleep = _recorder()
    with EmbeddedServer(make_settings(tmp_path, engines={"*": "openai"})) as server:
        sleep = async_sleep if kind == "async" else sync_sleep
        async with either_client(kind, server.base_url, server.api_key, sleep=sleep) as client:
            with pytest.raises(errors.ModelUnavailableError) as caught:
                await client.generate(HI, model="gpt-5-nano")
            assert (await client.balance()).token_balance == 100_000
    assert len(sleeps) == 2  # a 503 is a refusal, so even a POST is sent again
    assert "STUDIO_OPENAI_BASE_URL" in caught.value.message


async def test_a_failing_provider_is_a_provider_error_and_is_not_resent(tmp_path, kind):
    with FaultyServer(hang_up) as upstream:
        settings = make_settings(tmp_path, engines={"*": "openai"}, openai_base_url=upstream.base_url)
        with EmbeddedServer(settings) as server:
            async with either_client(
                kind, server.base_url, server.api_key, sleep=_recorder()[2 if kind == "async" else 1]
            ) as client:
                with pytest.raises(errors.ProviderError) as caught:
                    await client.generate(HI, model="gpt-5-nano")
        assert len(upstream.requests) == 1
    assert caught.value.status_code == 500 and "nothing was charged" in caught.value.user_message


async def test_a_provider_failing_mid_answer_is_an_error_event_with_the_partial_text(tmp_path, kind):
    chunk = sse({"choices": [{"delta": {"content": "Half an answer"}}]})
    with FaultyServer(stream_then_cut([chunk])) as upstream:
        settings = make_settings(tmp_path, engines={"*": "openai"}, openai_base_url=upstream.base_url)
        with EmbeddedServer(settings) as server:
            async with either_client(kind, server.base_url, server.api_key) as client:
                async with client.generate_stream(HI, model="gpt-5-nano") as stream:
                    with pytest.raises(errors.StreamError) as caught:
                        async for _ in stream:
                            pass
                assert (await client.balance()).token_balance == 100_000
    assert type(caught.value) is errors.StreamError
    assert caught.value.partial == "Half an answer" and caught.value.code == "provider_error"
