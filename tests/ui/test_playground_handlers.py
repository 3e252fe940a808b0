"""Playground handlers against the real local server (echo engine), called directly without Gradio."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.client import AsyncAssistantsClient
from backend.server.embedded import EmbeddedServer
from studio.conversation import ChatParameters, ChatSession
from tests.conftest import make_settings
from ui.chat_display import chat_messages
from ui.context import StudioContext, open_request
from ui.playground import chat as ph

pytestmark = pytest.mark.anyio
PARAMS = ChatParameters()


async def say(ctx, conversation, catalog, text, instructions="", params=PARAMS) -> list[ph.ChatView]:
    """Send one message and collect every view the handler yields."""
    return [view async for view in ph.chat(ctx, conversation, catalog, text, instructions, params)]


@pytest.fixture
async def slow_ctx(tmp_path) -> AsyncIterator[StudioContext]:
    """A second server behaving like one local model: 40 ms a token, one answer at a time, others queued."""
    settings = make_settings(tmp_path / "slow", echo_delay_ms=40, echo_one_at_a_time=True)
    with EmbeddedServer(settings) as server:
        client = AsyncAssistantsClient(base_url=server.base_url, api_key=server.api_key)
        try:
            yield StudioContext(client=client)
        finally:
            await client.close()


@pytest.fixture
async def dead_ctx(local_server) -> AsyncIterator[StudioContext]:
    """A client pointed at a loopback port where nothing listens (found by binding, then closing, it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AsyncAssistantsClient(
        base_url=f"http://127.0.0.1:{port}/api/v2", api_key="nb_" + "x" * 45, max_retries=0
    )
    try:
        yield StudioContext(client=client)
    finally:
        await client.close()


async def test_every_call_sends_the_whole_history(studio_ctx):
    catalog = await ph.refresh(studio_ctx)
    conversation = ChatSession()
    for text in ("one", "two", "three"):
        views = await say(studio_ctx, conversation, catalog, text)
    assert views[0].draft == ""  # the input is cleared as the message goes out
    assert conversation.turns[-1].answer == "[turn 3] You said: three"
    assert [t.status for t in conversation.turns] == ["done"] * 3
    stats = conversation.turns[-1].stats
    assert stats.model == catalog.default_model and stats.tokens_used == catalog.models[stats.model]
    assert stats.first_token_s is not None and stats.total_s >= stats.first_token_s
    assert views[-1].cost and f"balance {catalog.balance:,} tokens" in views[-1].cost
    assert catalog.balance == (await studio_ctx.client.balance()).token_balance


async def test_refresh_lists_models_with_prices_my_assistants_and_the_marketplace(studio_ctx):
    mine = await studio_ctx.client.assistants.create(name="Tutor", model="gpt-5", instructions="Teach.")
    catalog = await ph.refresh(studio_ctx)
    assert catalog.problem == "" and catalog.balance is not None
    assert ("gpt-5 · 2 tokens/request", "gpt-5") in catalog.model_choices()
    keys = [key for _, key in catalog.picker_choices()]
    assert keys[0] == "blank" and f"mine:{mine.id}" in keys
    assert any(key.startswith("market:") for key in keys)


async def test_a_saved_assistant_is_called_by_id_until_its_instructions_are_edited(studio_ctx):
    saved = await studio_ctx.client.assistants.create(
        name="Tutor", model="gpt-5-nano", instructions="Teach kindly."
    )
    conversation, catalog = ChatSession(), await ph.refresh(studio_ctx)
    opened = await ph.open_assistant(studio_ctx, conversation, catalog, f"mine:{saved.id}")
    assert opened.error == "" and opened.instructions == "Teach kindly." and opened.can_save
    args = conversation.request_arguments(opened.instructions, PARAMS, catalog.default_model)
    assert args["assistant_id"] == saved.id and "system" not in args
    await say(studio_ctx, conversation, catalog, "hi", opened.instructions)
    assert conversation.turns[-1].answer == "[turn 1 | instructions 13 chars] You said: hi"

    edited = "Teach kindly, in rhyme."
    args = conversation.request_arguments(edited, ChatParameters(model="gpt-5", max_tokens=50), "x")
    assert "assistant_id" not in args and args["system"] == edited and args["model"] == "gpt-5"
    assert args["max_tokens"] == 50
    views = await say(studio_ctx, conversation, catalog, "again", edited)
    assert conversation.turns[-1].answer == f"[turn 2 | instructions {len(edited)} chars] You said: again"
    assert "edited instructions are sent" in views[-1].cost


async def test_a_marketplace_item_from_another_tab_is_tried_with_model_and_system(studio_ctx):
    catalog = await ph.refresh(studio_ctx)
    item = (await studio_ctx.client.marketplace.list(limit=1)).items[0]
    conversation = ChatSession()
    opened = await ph.open_requested(
        studio_ctx, conversation, catalog, open_request("market", item=item.model_dump())
    )
    assert opened.error == "" and not opened.can_save
    assert (
        conversation.assistant.kind == "market"
        and conversation.assistant.starters == item.conversation_starters
    )
    assert opened.key in [key for _, key in catalog.picker_choices()]
    args = conversation.request_arguments(opened.instructions, PARAMS, catalog.default_model)
    assert args["model"] == (item.model or catalog.default_model) and args["system"] == item.instructions
    await say(studio_ctx, conversation, catalog, item.conversation_starters[0], opened.instructions)
    expected = (
        f"[turn 1 | instructions {len(item.instructions)} chars] You said: {item.conversation_starters[0]}"
    )
    assert conversation.turns[-1].answer == expected


async def test_opening_an_unknown_assistant_keeps_the_conversation(studio_ctx):
    conversation, catalog = ChatSession(), await ph.refresh(studio_ctx)
    await say(studio_ctx, conversation, catalog, "keep me")
    opened = await ph.open_assistant(studio_ctx, conversation, catalog, "mine:asst_missing")
    assert "list them again" in opened.error
    assert [t.user for t in conversation.turns] == ["keep me"]
    bogus = await ph.open_assistant(studio_ctx, conversation, catalog, "nonsense")
    assert "choose one from the list" in bogus.error


async def test_a_failed_call_keeps_the_conversation_and_the_message_and_retry_sends_it(studio_ctx, dead_ctx):
    conversation, catalog = ChatSession(), await ph.refresh(studio_ctx)
    await say(studio_ctx, conversation, catalog, "first")
    views = await say(dead_ctx, conversation, catalog, "second")
    failed = views[-1]
    assert "could not be reached" in failed.error.lower() or "connect" in failed.error.lower()
    assert "check that the server is running" in failed.error.lower()
    assert failed.draft == "second"
    assert [t.user for t in conversation.turns] == ["first", "second"] and conversation.last_failed
    assert "nb_" not in failed.error

    retried = [view async for view in ph.regenerate(studio_ctx, conversation, catalog, "", PARAMS)]
    assert retried[0].draft == ""  # the message is no longer unsent
    assert conversation.turns[-1].answer == "[turn 2] You said: second" and not conversation.last_failed


async def test_sending_is_refused_while_an_answer_streams(studio_ctx):
    conversation, catalog = ChatSession(), await ph.refresh(studio_ctx)
    conversation.add_user_turn("in flight")
    views = await say(studio_ctx, conversation, catalog, "another")
    assert "Stop" in views[-1].error and views[-1].draft == "another"
    assert [t.user for t in conversation.turns] == ["in flight"]
    empty = await say(studio_ctx, conversation, catalog, "  ")
    assert "Type a message" in empty[-1].error


async def test_stop_mid_stream_keeps_the_partial_answer(slow_ctx):
    conversation, catalog = ChatSession(), await ph.refresh(slow_ctx)
    before = catalog.balance
    long_text = " ".join(f"w{i}" for i in range(60))
    shown = []
    async for view in ph.chat(slow_ctx, conversation, catalog, long_text, "", PARAMS):
        shown.append(chat_messages(view.conversation)[-1]["content"])
        if view.conversation.turns[-1].answer and conversation.turns[-1].status != "stopped":
            ph.stop(conversation)  # what the Stop button does, while the stream runs
    turn = conversation.turns[-1]
    assert turn.status == "stopped" and turn.answer
    # The stream's own last frame shows the mark too: it may be drawn after Stop's frame, and replace it.
    assert "Stopped" in shown[-1]
    assert turn.answer != f"[turn 1] You said: {long_text}"
    assert "Stopped" in chat_messages(conversation)[-1]["content"]
    assert turn.stats is not None and turn.stats.tokens_used == 0
    await say(slow_ctx, conversation, catalog, "next")
    assert (
        conversation.turns[-1].answer == "[turn 2] You said: next"
    )  # the partial answer went with the history
    # One answer at a time: "next" ran only once the stopped one was over; had its stream stayed open, that
    # answer would have run to its end and been charged too.
    assert before - catalog.balance == catalog.models[catalog.default_model]


async def test_cancelling_the_stream_closes_it_and_marks_the_turn_stopped(slow_ctx):
    conversation, catalog = ChatSession(), await ph.refresh(slow_ctx)
    before = catalog.balance
    stream = ph.chat(slow_ctx, conversation, catalog, " ".join(["word"] * 60), "", PARAMS)
    async for view in stream:
        if view.conversation.turns[-1].answer:
            break
    await stream.aclose()  # what Gradio does to the event's generator when Stop cancels it
    assert conversation.turns[-1].status == "stopped" and not conversation.busy
    views = await say(slow_ctx, conversation, catalog, "after")
    assert conversation.turns[-1].answer == "[turn 2] You said: after", views[-1].error
    assert (
        before - catalog.balance == catalog.models[catalog.default_model]
    )  # the stopped answer cost nothing


async def test_a_second_request_is_told_its_place_in_the_queue(slow_ctx):
    first, second = ChatSession(), ChatSession()
    catalog = await ph.refresh(slow_ctx)
    catalog.engine_ready = True
    notices: list[str] = []
    started = asyncio.Event()

    async def long_chat() -> None:
        async for view in ph.chat(slow_ctx, first, catalog, " ".join(["w"] * 30), "", PARAMS):
            if view.conversation.turns[-1].answer:
                started.set()

    async def queued_chat() -> None:
        await started.wait()
        async for view in ph.chat(slow_ctx, second, catalog, "me too", "", PARAMS):
            notices.append(view.conversation.turns[-1].notice)

    await asyncio.gather(long_chat(), queued_chat())
    assert "Waiting for the model (position 1)…" in notices
    assert second.turns[-1].answer == "[turn 1] You said: me too"


async def test_regenerate_undo_edit_and_clear(studio_ctx):
    conversation, catalog = ChatSession(), await ph.refresh(studio_ctx)
    for text in ("one", "two", "three"):
        await say(studio_ctx, conversation, catalog, text)
    [view async for view in ph.regenerate(studio_ctx, conversation, catalog, "", PARAMS)]
    assert len(conversation.turns) == 3 and conversation.turns[-1].answer == "[turn 3] You said: three"
    undone = ph.undo(conversation, unsent="my next question")  # text typed and not sent stays in the box
    assert undone.draft is None and "Your unsent text stays" in undone.error and "“three”" in undone.error
    [view async for view in ph.regenerate(studio_ctx, conversation, catalog, "", PARAMS)]
    await say(studio_ctx, conversation, catalog, "three")
    assert ph.undo(conversation).draft == "three" and len(conversation.turns) == 2
    [view async for view in ph.edit_message(studio_ctx, conversation, catalog, 1, "ONE", "", PARAMS)]
    assert [t.user for t in conversation.turns] == ["ONE"] and conversation.turns[
        0
    ].answer == "[turn 1] You said: ONE"
    bad = [view async for view in ph.edit_message(studio_ctx, conversation, catalog, 7, "x", "", PARAMS)]
    assert "no message 7" in bad[-1].error
    assert ph.clear(conversation).conversation.turns == []
    assert "nothing to undo" in ph.undo(conversation).error


async def test_save_and_reset_instructions(studio_ctx):
    saved = await studio_ctx.client.assistants.create(name="Tutor", model="gpt-5-nano", instructions="Old.")
    conversation, catalog = ChatSession(), await ph.refresh(studio_ctx)
    await ph.open_assistant(studio_ctx, conversation, catalog, f"mine:{saved.id}")
    note, error = await ph.save_instructions(studio_ctx, conversation, "New and better.")
    assert error == "" and "Saved" in note
    assert (await studio_ctx.client.assistants.get(saved.id)).instructions == "New and better."
    assert ph.reset_instructions(conversation) == "New and better."
    blank = ChatSession()
    _, refused = await ph.save_instructions(studio_ctx, blank, "x")
    assert "Marketplace tab" in refused


async def test_demo_mode_chats_but_refuses_to_save(demo_ctx):
    saved = await demo_ctx.client.assistants.create(name="Tutor", model="gpt-5-nano", instructions="Old.")
    conversation, catalog = ChatSession(), await ph.refresh(demo_ctx)
    await ph.open_assistant(demo_ctx, conversation, catalog, f"mine:{saved.id}")
    await say(demo_ctx, conversation, catalog, "hello")
    assert conversation.turns[-1].status == "done"
    _, refused = await ph.save_instructions(demo_ctx, conversation, "Changed.")
    assert "read-only demo" in refused
    assert (await demo_ctx.client.assistants.get(saved.id)).instructions == "Old."


async def test_exports_are_files_without_the_key(studio_ctx, local_server):
    conversation, catalog = ChatSession(), await ph.refresh(studio_ctx)
    await say(studio_ctx, conversation, catalog, "hello")
    params = ChatParameters(temperature=0.2)
    document = json.loads(Path(ph.export_json(conversation, "Be kind.", params)).read_text(encoding="utf-8"))
    assert document["format"] == "assistant-studio/conversation"
    assert document["messages"][-1] == {"role": "assistant", "content": "[turn 1] You said: hello"}
    assert document["parameters"]["temperature"] == 0.2
    markdown = Path(ph.export_markdown(conversation, "Be kind.", params)).read_text(encoding="utf-8")
    assert "## You\n\nhello" in markdown
    for text in (json.dumps(document), markdown):
        assert local_server.api_key not in text


def test_engine_notice_reads_the_engine_serving_the_model() -> None:
    info = {
        "engines": [{"engine": "llama", "state": "not_loaded"}, {"engine": "echo", "state": "ready"}],
        "routes": {"gpt-5": "echo", "*": "llama"},
    }
    assert ph.engine_notice(info, "gpt-5-nano") == ph.LOADING_NOTICE
    assert ph.engine_notice(info, "gpt-5") == ""
    assert ph.engine_notice({}, "gpt-5") is None


async def test_a_burst_of_tokens_is_shown_in_frames_and_the_last_view_has_it_all(studio_ctx):
    catalog = await ph.refresh(studio_ctx)
    conversation = ChatSession()
    words = " ".join(f"w{i}" for i in range(300))  # the echo engine answers all 300+ tokens at once
    views = await say(studio_ctx, conversation, catalog, words)
    assert len(views) < 50  # one update a frame, not one per token
    assert conversation.turns[-1].answer == f"[turn 1] You said: {words}"
    shown = chat_messages(views[-1].conversation)[-1]["content"]
    assert f"You said: {words}" in shown
