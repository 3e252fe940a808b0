"""ChatSession without Gradio or a server: turns, stop, regenerate, undo, edit, clear and the exports."""

from __future__ import annotations

import json

import pytest

from backend.schemas import Assistant, MarketplaceItem
from studio.conversation import (
    EXPORT_FORMAT,
    AssistantProfile,
    ChatBusyError,
    ChatInputError,
    ChatParameters,
    ChatSession,
    TurnStats,
)
from ui.chat_display import chat_messages

STATS = TurnStats(model="gpt-5-nano", tokens_used=1, first_token_s=0.12, total_s=1.4)


def answered(*pairs: tuple[str, str]) -> ChatSession:
    """A conversation whose turns are complete."""
    conversation = ChatSession(AssistantProfile(name="Tutor", model="gpt-5-nano", instructions="Be brief."))
    for question, answer in pairs:
        turn = conversation.add_user_turn(question)
        turn.append(answer)
        conversation.finish(turn, STATS)
    return conversation


def test_api_messages_hold_the_whole_history_and_no_footer() -> None:
    conversation = answered(("one", "A1"), ("two", "A2"))
    conversation.add_user_turn("three")
    assert conversation.to_api_messages() == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "A2"},
        {"role": "user", "content": "three"},
    ]
    assert conversation.busy


def test_chatbot_shows_stats_under_each_answer_but_the_state_stays_clean() -> None:
    conversation = answered(("hi", "hello"))
    shown = chat_messages(conversation)
    assert shown[0] == {"role": "user", "content": "hi"}
    assert shown[1]["content"].startswith("hello")
    assert "gpt-5-nano · 1 token · first token 120 ms · 1.4 s" in shown[1]["content"]
    assert conversation.turns[0].answer == "hello"
    assert "token" not in json.dumps(conversation.to_api_messages())


def test_a_message_cannot_be_sent_while_an_answer_streams_or_when_blank() -> None:
    conversation = answered()
    conversation.add_user_turn("first")
    with pytest.raises(ChatBusyError, match="Stop"):
        conversation.add_user_turn("second")
    with pytest.raises(ChatInputError, match="Type a message"):
        ChatSession().add_user_turn("   ")


def test_stop_keeps_the_partial_answer_and_refuses_later_text() -> None:
    conversation = answered()
    turn = conversation.add_user_turn("tell me")
    assert turn.append("part ")
    assert conversation.stop()
    assert not turn.append("late")
    assert turn.answer == "part " and turn.status == "stopped"
    assert "Stopped" in chat_messages(conversation)[1]["content"]
    assert conversation.to_api_messages()[-1] == {"role": "assistant", "content": "part "}
    assert not conversation.stop()  # nothing left to stop


def test_halt_after_stop_adds_the_measured_stats_once() -> None:
    conversation = answered()
    turn = conversation.add_user_turn("x")
    conversation.stop()
    turn.halt(STATS)
    turn.halt(TurnStats(model="other"))
    assert turn.stats == STATS


def test_finish_does_not_undo_a_stop() -> None:
    conversation = answered()
    turn = conversation.add_user_turn("x")
    conversation.stop()
    conversation.finish(turn, STATS)
    assert turn.status == "stopped"


def test_regenerate_drops_the_last_answer_in_a_new_turn() -> None:
    conversation = answered(("one", "A1"), ("two", "A2"))
    old = conversation.turns[-1]
    turn = conversation.regenerate()
    assert turn is not old and turn.user == "two" and turn.answer == ""
    assert conversation.to_api_messages()[-1] == {"role": "user", "content": "two"}
    with pytest.raises(ChatInputError, match="send a message first"):
        ChatSession().regenerate()


def test_regenerate_while_streaming_stops_the_old_turn_first() -> None:
    conversation = answered()
    old = conversation.add_user_turn("q")
    old.append("partial")
    conversation.regenerate()
    assert old.status == "stopped"
    assert not old.append("more")  # the old stream can no longer write into the conversation
    assert conversation.turns[-1].answer == ""


def test_undo_removes_the_last_turn_and_gives_its_message_back() -> None:
    conversation = answered(("one", "A1"), ("two", "A2"))
    assert conversation.undo() == "two"
    assert [t.user for t in conversation.turns] == ["one"]
    assert ChatSession().undo() == ""


def test_edit_truncates_after_the_message_and_asks_it_again() -> None:
    conversation = answered(("one", "A1"), ("two", "A2"), ("three", "A3"))
    turn = conversation.edit(1, "TWO")
    assert [t.user for t in conversation.turns] == ["one", "TWO"]
    assert turn.in_flight and conversation.turns[-1] is turn
    assert conversation.to_api_messages()[-1] == {"role": "user", "content": "TWO"}
    with pytest.raises(ChatInputError, match="no message 5"):
        conversation.edit(4, "x")
    with pytest.raises(ChatInputError, match="empty"):
        conversation.edit(0, " ")


def test_chatbot_message_index_maps_to_its_turn() -> None:
    conversation = answered(("one", "A1"), ("two", "A2"))
    shown = chat_messages(conversation)
    assert shown[2]["content"] == "two"
    assert conversation.turns[ChatSession.turn_index_of_message(2)].user == "two"


def test_a_failed_turn_stays_unanswered_and_a_new_send_replaces_it() -> None:
    conversation = answered(("one", "A1"))
    turn = conversation.add_user_turn("two")
    conversation.fail(turn, "The server is down.", partial="")
    assert conversation.last_failed
    assert "Retry" in chat_messages(conversation)[-1]["content"]
    assert conversation.to_api_messages()[-1] == {"role": "user", "content": "two"}
    conversation.add_user_turn("two, again")
    assert [t.user for t in conversation.turns] == ["one", "two, again"]


def test_clear_keeps_the_assistant_and_open_changes_it() -> None:
    conversation = answered(("one", "A1"))
    conversation.clear()
    assert conversation.turns == [] and conversation.assistant.name == "Tutor"
    conversation.add_user_turn("x")
    conversation.open(AssistantProfile(name="Other", model="gpt-5"))
    assert conversation.turns == [] and conversation.assistant.name == "Other"


def test_profiles_from_my_assistant_and_a_marketplace_item() -> None:
    mine = AssistantProfile.from_assistant(
        Assistant(id="asst_1", name="Mine", model="gpt-5", instructions="I")
    )
    assert (mine.kind, mine.assistant_id, mine.key) == ("mine", "asst_1", "mine:asst_1")
    item = MarketplaceItem(name="Chef", description="Cooks", conversation_starters=["Soup?", " "])
    market = AssistantProfile.from_market_item(item, default_model="gpt-5-nano")
    assert (market.kind, market.model, market.starters, market.key) == (
        "market",
        "gpt-5-nano",
        ["Soup?"],
        "market:Chef",
    )
    assert market.instructions_edited("new text") and not market.instructions_edited("")


def test_json_export_has_the_documented_shape() -> None:
    conversation = answered(("one", "A1"))
    params = ChatParameters(model="gpt-5", temperature=0.3, max_tokens=64)
    document = json.loads(conversation.to_json("Edited.", params))
    assert document["format"] == EXPORT_FORMAT and document["version"] == 2  # 2 added the variables
    assert document["assistant"] == {
        "name": "Tutor",
        "model": "gpt-5-nano",
        "instructions": "Edited.",
        "version": None,
    }
    assert document["variables"] == {}
    assert document["parameters"] == {"model": "gpt-5", "temperature": 0.3, "max_tokens": 64}
    assert document["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "A1"},
    ]
    assert document["turns"] == [
        {
            "status": "done",
            "model": "gpt-5-nano",
            "engine": None,
            "tokens_used": 1,
            "first_token_ms": 120,
            "total_ms": 1400,
        }
    ]


def test_markdown_export_reads_as_a_conversation() -> None:
    conversation = answered(("one", "A1"))
    turn = conversation.add_user_turn("two")
    conversation.fail(turn, "down")
    text = conversation.to_markdown("Be brief.\nAlways.", ChatParameters())
    assert text.startswith("# Conversation with Tutor")
    assert "> Be brief.\n> Always." in text
    assert "## You\n\none" in text and "## Tutor\n\nA1" in text
    assert "Not answered" in text
    assert "<sub>" not in text


def test_an_empty_instructions_box_means_the_assistants_own_instructions() -> None:
    mine = ChatSession(
        AssistantProfile.from_assistant(
            Assistant(id="asst_1", name="Mine", model="gpt-5", instructions="Be kind.")
        )
    )
    # An API caller that leaves `instructions` out sends "": the saved assistant is called by id.
    assert mine.request_arguments("", ChatParameters(), "gpt-5-nano")["assistant_id"] == "asst_1"
    edited = mine.request_arguments("Be terse.", ChatParameters(), "gpt-5-nano")
    assert edited["system"] == "Be terse." and "assistant_id" not in edited
    item = MarketplaceItem(name="Chef", description="Cooks", instructions="Cook well.", model="gpt-5")
    market = ChatSession(AssistantProfile.from_market_item(item, default_model="gpt-5-nano"))
    assert market.request_arguments("", ChatParameters(), "gpt-5-nano")["system"] == "Cook well."
