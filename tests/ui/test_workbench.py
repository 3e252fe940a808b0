"""The Playground as a workbench, its handlers called directly against the real local server and store:
variables, versions, the generation log, and Compare."""

from __future__ import annotations

import asyncio

import gradio as gr
import pytest
from sqlalchemy import inspect, select

from studio.compare import ColumnSpec, CompareSession
from studio.conversation import ChatParameters, ChatSession
from studio.store.schema import generations
from ui.app import create_app
from ui.context import open_request
from ui.playground import chat as ph
from ui.playground import compare as pc
from ui.playground.session import PlaygroundSession

pytestmark = pytest.mark.anyio
PARAMS = ChatParameters()


async def say(ctx, conversation, choices, text, instructions="", params=PARAMS) -> list[ph.ChatView]:
    return [view async for view in ph.chat(ctx, conversation, choices, text, instructions, params)]


async def test_an_empty_variable_is_named_and_nothing_is_sent(studio_ctx):
    choices = await ph.refresh(studio_ctx)
    conversation = ChatSession()
    instructions = "You teach {{topic}} to {{audience}}."
    views = await say(studio_ctx, conversation, choices, "Start", instructions)
    assert "“topic”, “audience”" in views[-1].error and views[-1].draft == "Start"
    assert conversation.turns == [] and (await studio_ctx.client.balance()).token_balance == choices.balance
    conversation.variables = {"topic": "chemistry", "audience": "children"}
    await say(studio_ctx, conversation, choices, "Start", instructions)
    filled = "You teach chemistry to children."
    assert conversation.turns[-1].answer == f"[turn 1 | instructions {len(filled)} chars] You said: Start"


async def test_a_refresh_keeps_the_variables_of_instructions_typed_while_it_waited(studio_ctx):
    """Opening the Playground tab refreshes it, reading the instructions box as the tab opened; text typed
    before the refresh's API calls come back must keep its variables' fields, not lose them to the old text."""
    handlers = create_app(studio_ctx).fns.values()
    refresh = next(fn for fn in handlers if fn.api_name == "refresh" and fn.name == "refresh")
    on_instructions = next(fn for fn in handlers if fn.name == "on_instructions")
    show_cost = next(fn for fn in handlers if fn.name == "show_cost")
    session, typing = PlaygroundSession(), "Write regular expressions in {{flavour}}, briefly and exactly."
    waiting = asyncio.create_task(refresh.fn(session, "", "", 0.7, None))
    await asyncio.sleep(0)  # the refresh is now waiting on the API
    typed = on_instructions.fn(session, typing)
    assert typed[-1] == {"flavour": ""}
    values = await waiting
    assert values[refresh.outputs[-1]] == {"flavour": ""} and session.fields == ["flavour"]
    first_field, cost = refresh.outputs[-10], refresh.outputs[8]  # open_outputs' order
    assert values[first_field].label == "{{flavour}}" and values[first_field].visible
    assert values[cost] == show_cost.fn(session, typing, "", 0.7, None)


async def test_a_request_from_another_tab_opens_once(studio_ctx):
    """Gradio can report the request's change twice; the second must not start over the conversation
    and put back the instructions the person began to edit."""
    handlers = create_app(studio_ctx).fns.values()
    open_requested = next(fn for fn in handlers if fn.name == "open_requested")
    on_instructions = next(fn for fn in handlers if fn.name == "on_instructions")
    market = (await studio_ctx.client.marketplace.list()).items[0]
    request = open_request("market", item=market.model_dump())
    session = PlaygroundSession()
    opened = await open_requested.fn(session, request)
    assert market.name in opened[open_requested.outputs[4]]  # the summary names it
    on_instructions.fn(session, "Edited {{tone}}.")
    assert await open_requested.fn(session, request) == {}
    assert session.chat.assistant.name == market.name and session.fields == ["tone"]
    again = await open_requested.fn(session, open_request("market", item=market.model_dump()))
    assert market.name in again[open_requested.outputs[4]]  # a new request (Try it again) opens again


async def test_a_message_sent_right_after_a_variable_is_typed_uses_it(studio_ctx):
    """The fields are current when a message goes out, while the form's JSON copy that the message handlers
    read comes back from the server a moment after each field's change: it can still hold the value from
    before, and must not win."""
    handlers = create_app(studio_ctx).fns.values()
    on_instructions = next(fn for fn in handlers if fn.name == "on_instructions")
    going_out = next(fn for fn in handlers if fn.name == "going_out" and len(fn.outputs) == 3)
    chat = next(fn for fn in handlers if fn.api_name == "chat")
    starter = next(fn for fn in handlers if fn.name == "starter")
    instructions, blanks = "Write regular expressions in {{flavour}}.", [""] * 7

    async def answer(stream) -> str:
        frames = [frame async for frame in stream]
        return frames[-1][0][-1]["content"]

    session = PlaygroundSession()
    stale = on_instructions.fn(session, instructions)[-1]
    assert stale == {"flavour": ""}
    *_, copy = going_out.fn(session, stale, "Python", *blanks)  # the step before the message handler
    assert copy == {"flavour": "Python"}
    said = await answer(chat.fn(session, "UK postcodes", instructions, "", 0.7, None, copy))
    assert said.startswith(f"[turn 1 | instructions {len('Write regular expressions in Python.')} chars]")

    # A starter is sent beside that step (it needs the click's event data), so it reads the fields itself.
    session = PlaygroundSession()
    on_instructions.fn(session, instructions)
    clicked = gr.SelectData(None, {"index": 0, "value": {"text": "Dates"}})
    said = await answer(starter.fn(clicked, session, instructions, "", 0.7, None, stale, "Go", *blanks))
    assert said.startswith(f"[turn 1 | instructions {len('Write regular expressions in Go.')} chars]")


async def test_a_malformed_placeholder_is_pointed_out_before_sending(studio_ctx):
    choices = await ph.refresh(studio_ctx)
    conversation = ChatSession()
    views = await say(studio_ctx, conversation, choices, "hi", "Answer as {{first name}}.")
    assert "malformed placeholder" in views[-1].error and "{{first name}}" in views[-1].error
    assert conversation.turns == []


async def test_an_older_version_is_chatted_with_without_restoring_it(studio_ctx):
    made = await studio_ctx.library.create(name="Tutor", model="gpt-5-nano", instructions="Short.")
    tutor = made.assistant.id
    await studio_ctx.library.update(tutor, instructions="Much longer instructions.")
    choices, conversation = await ph.refresh(studio_ctx), ChatSession()
    opened = await ph.open_assistant(studio_ctx, conversation, choices, f"mine:{tutor}")
    assert opened.error == "" and conversation.assistant.version == 2 and conversation.assistant.live
    old = await ph.open_version(studio_ctx, conversation, choices, "1")
    assert old.error == "" and old.instructions == "Short." and not conversation.assistant.live
    assert "version 1 (older, not restored)" in old.summary
    args = conversation.request_arguments(old.instructions, PARAMS, choices.default_model)
    assert "assistant_id" not in args and args["system"] == "Short." and args["model"] == "gpt-5-nano"
    await say(studio_ctx, conversation, choices, "hi", old.instructions)
    assert conversation.turns[-1].answer == "[turn 1 | instructions 6 chars] You said: hi"
    assert (await studio_ctx.client.assistants.get(tutor)).instructions == "Much longer instructions."
    missing = await ph.open_version(studio_ctx, conversation, choices, "7")
    assert "no version 7" in missing.error and conversation.assistant.version == 1  # kept as it was


async def test_every_turn_is_logged_without_its_text(studio_ctx):
    made = await studio_ctx.library.create(name="Logged", model="gpt-5", instructions="Be terse.")
    choices, conversation = await ph.refresh(studio_ctx), ChatSession()
    await ph.open_assistant(studio_ctx, conversation, choices, f"mine:{made.assistant.id}")
    await say(studio_ctx, conversation, choices, "a secret in the message")
    store = studio_ctx.store.get()
    store.log.flush()
    columns = {c["name"] for c in inspect(store.db.engine).get_columns("generations")}
    assert not {"content", "messages", "text", "prompt"} & columns
    with store.db.read() as db:
        rows = db.execute(select(generations)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert (row["origin"], row["model"], row["outcome"], row["engine"]) == (
        "playground",
        "gpt-5",
        "completed",
        "echo",
    )
    assert row["assistant_id"] == made.assistant.id and row["version"] == 1 and row["tokens_used"] == 2
    assert row["server"] == studio_ctx.server_key and row["total_ms"] >= row["first_token_ms"] > 0
    assert "secret" not in str(dict(row))


async def test_compare_three_columns_answer_each_with_its_own_settings(studio_ctx):
    made = await studio_ctx.library.create(name="Poet", model="gpt-5-nano", instructions="Rhyme.")
    await studio_ctx.library.update(made.assistant.id, instructions="Rhyme, in three lines.")
    choices, chat, compare = await ph.refresh(studio_ctx), ChatSession(), CompareSession()
    await ph.open_assistant(studio_ctx, chat, choices, f"mine:{made.assistant.id}")
    await pc.start(studio_ctx, compare, choices, chat)
    await pc.set_column(studio_ctx, compare, choices, chat, 1, ColumnSpec(version=1))
    third = await pc.set_column(
        studio_ctx, compare, choices, chat, 2, ColumnSpec(model="gpt-5", temperature=0.1)
    )
    assert third.error == "" and len(compare.columns) == 3
    assert "Sending to 3 columns costs 4 tokens" in pc.turn_cost(compare, choices)  # 1 + 1 + 2
    views = [view async for view in pc.send(studio_ctx, compare, choices, "autumn", {})]
    answers = [column.conversation.turns[-1].answer for column in compare.columns]
    assert answers == [
        "[turn 1 | instructions 22 chars] You said: autumn",  # the assistant as saved (version 2), by id
        "[turn 1 | instructions 6 chars] You said: autumn",  # version 1, sent as system text
        "[turn 1 | instructions 22 chars] You said: autumn",  # version 2 with another model
    ]
    assert [c.conversation.turns[-1].stats.model for c in compare.columns] == [
        "gpt-5-nano",
        "gpt-5-nano",
        "gpt-5",
    ]
    assert views[-1].cost is not None and all(notice == "" for notice in views[-1].notices)

    notice = await pc.prefer(studio_ctx, compare, 1)
    assert "version 1 of Poet" in notice
    page = await studio_ctx.library.history(made.assistant.id)
    assert {v.number: v.wins for v in page.versions} == {2: 0, 1: 1}

    chat_again = pc.continue_with(compare, 2)
    assert [t.answer for t in chat_again.turns] == ["[turn 1 | instructions 22 chars] You said: autumn"]
    chat_again.turns[0].answer = "changed"
    assert compare.columns[2].conversation.turns[0].answer != "changed"  # a copy: Compare keeps its own

    # A column with edited instructions runs no version: its win goes to the assistant, not to version 2.
    await pc.set_column(studio_ctx, compare, choices, chat, 3, ColumnSpec(instructions="Rhyme freely."))
    [view async for view in pc.send(studio_ctx, compare, choices, "winter", {})]
    assert "an edited copy of Poet" in await pc.prefer(studio_ctx, compare, 3)
    page = await studio_ctx.library.history(made.assistant.id)
    assert {v.number: v.wins for v in page.versions} == {2: 0, 1: 1}


async def test_columns_running_the_chats_assistant_offer_its_versions(studio_ctx):
    """A column starts on "the chat's assistant"; its Version picker lists that assistant's versions, and
    a column set to an older one keeps showing it when another column is added."""
    made = await studio_ctx.library.create(name="Tutor", model="gpt-5-nano", instructions="Short.")
    await studio_ctx.library.update(made.assistant.id, instructions="Longer instructions.")
    handlers = create_app(studio_ctx).fns.values()
    open_assistant = next(fn for fn in handlers if fn.api_name == "open_assistant")
    switch_mode = next(fn for fn in handlers if fn.name == "switch_mode")
    versions = next(fn for fn in handlers if fn.name == "chats_versions")
    set_column = next(fn for fn in handlers if fn.api_name == "compare_column")
    session = PlaygroundSession()
    await open_assistant.fn(session, f"mine:{made.assistant.id}")
    await switch_mode.fn(session, "Compare")
    first, second, third, fourth = await versions.fn(session)
    assert [value for _, value in first.choices] == ["current", "2", "1"] and first.value == "current"
    assert first.interactive and [value for _, value in second.choices] == ["current", "2", "1"]
    assert third == fourth == gr.skip()  # no such columns yet
    await set_column.fn(session, 2, "", "1")
    assert (await versions.fn(session))[1].value == "1"


async def test_a_failing_column_shows_its_error_while_the_others_finish(studio_ctx):
    choices, chat, compare = await ph.refresh(studio_ctx), ChatSession(), CompareSession()
    await pc.start(studio_ctx, compare, choices, chat)
    await pc.set_column(studio_ctx, compare, choices, chat, 1, ColumnSpec(model="no-such-model"))
    views = [view async for view in pc.send(studio_ctx, compare, choices, "hello", {})]
    good, bad = compare.columns
    assert good.conversation.turns[-1].status == "done" and bad.conversation.turns[-1].status == "failed"
    assert views[-1].notices[0] == "" and "no-such-model" in views[-1].notices[1]
    retried = [v async for v in pc.regenerate(studio_ctx, compare, choices, 0, {})]
    assert retried[-1].error == "" and good.conversation.turns[-1].answer == "[turn 1] You said: hello"


async def test_a_fifth_column_is_refused_with_a_message(studio_ctx):
    choices, chat, compare = await ph.refresh(studio_ctx), ChatSession(), CompareSession()
    for _ in range(2):
        assert pc.add_column(compare, choices, chat).error == ""
    refused = pc.add_column(compare, choices, chat)
    assert "at most 4 columns" in refused.error and len(compare.columns) == 4


async def test_a_version_deleted_from_the_store_while_open_is_reported(studio_ctx):
    made = await studio_ctx.library.create(name="Gone", model="gpt-5", instructions="v1")
    choices, chat, compare = await ph.refresh(studio_ctx), ChatSession(), CompareSession()
    await ph.open_assistant(studio_ctx, chat, choices, f"mine:{made.assistant.id}")
    await studio_ctx.client.assistants.delete(made.assistant.id)  # gone from the server meanwhile
    view = await pc.set_column(studio_ctx, compare, choices, chat, 0, ColumnSpec(version=1))
    assert "not found" in view.error.lower() or "no assistant" in view.error.lower()


async def test_stopping_compare_stops_every_column(slow_ctx):
    choices, chat, compare = await ph.refresh(slow_ctx), ChatSession(), CompareSession()
    await pc.start(slow_ctx, compare, choices, chat)
    stream = pc.send(slow_ctx, compare, choices, " ".join(["word"] * 80), {})
    async for _ in stream:
        if any(c.conversation.turns[-1].answer for c in compare.columns):
            break
    await stream.aclose()  # what Gradio does when Stop all cancels the event
    assert [c.conversation.turns[-1].status for c in compare.columns] == ["stopped", "stopped"]
    assert not compare.busy


@pytest.fixture
async def slow_ctx(tmp_path):
    """A server whose echo engine takes 20 ms a token, so answers are still streaming when stopped."""
    from backend.client import AsyncAssistantsClient
    from backend.server.embedded import EmbeddedServer
    from tests.conftest import make_settings
    from tests.ui.conftest import make_context

    with EmbeddedServer(make_settings(tmp_path / "slow", echo_delay_ms=20)) as server:
        client = AsyncAssistantsClient(base_url=server.base_url, api_key=server.api_key)
        ctx = make_context(server, client)
        try:
            yield ctx
        finally:
            await client.close()
            ctx.store.close()


async def test_the_picker_holds_the_whole_marketplace_and_finds_a_typed_name(studio_ctx):
    choices = await ph.refresh(studio_ctx)
    market = [label for label, key in choices.picker_choices() if key.startswith("market:")]
    assert len(market) == 69  # every item of the local catalog, not the first 50
    assert "Marketplace · Movie Night Picker" in market  # the last one
    conversation = ChatSession()
    opened = await ph.open_assistant(studio_ctx, conversation, choices, "movie night picker")
    assert opened.error == "" and conversation.assistant.name == "Movie Night Picker"
    assert conversation.assistant.kind == "market"
