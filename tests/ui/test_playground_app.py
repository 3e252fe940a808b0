"""The Playground through the launched studio, scripted with gradio_client as a visitor's browser uses it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from tests.conftest import make_settings

WAIT_SECONDS = 60  # an upper bound for waiting on a stream, never an assertion about speed


@pytest.fixture
def server_settings(tmp_path):
    """The echo engine waits 5 ms per token, so a long answer is still streaming when Stop arrives."""
    return make_settings(tmp_path, echo_delay_ms=5)


def texts(chat: list[dict[str, Any]]) -> list[str]:
    """The plain text of each message of a Chatbot value as gradio_client returns it."""
    out = []
    for message in chat:
        content = message["content"]
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        out.append(content)
    return out


def send(client: Client, message: str, **settings: Any) -> tuple[list[str], Any]:
    """One message through the "chat" endpoint: (messages, input box).

    The error box, Retry and the cost line are set by a step chained after the stream, which the page
    runs and gradio_client does not: test_the_status_after_a_stream covers them.
    """
    chat, draft = client.predict(message, api_name="/chat", **settings)
    return texts(chat), draft


def test_three_turns_regenerate_undo_and_export(launched_studio):
    client = Client(launched_studio, verbose=False)
    for word in ("one", "two", "three"):
        shown, _ = send(client, word)
    assert len(shown) == 6
    assert shown[-1].startswith("[turn 3] You said: three")
    assert "1 token" in shown[-1]  # the stats footer under the answer

    chat, *_ = client.predict(api_name="/regenerate")
    assert len(chat) == 6 and texts(chat)[-1].startswith("[turn 3] You said: three")

    chat, draft, *_ = client.predict(api_name="/undo")
    assert texts(chat)[-1].startswith("[turn 2] You said: two") and draft == "three"

    exported = json.loads(Path(client.predict(api_name="/export_json")).read_text(encoding="utf-8"))
    assert exported["format"] == "assistant-studio/conversation"
    assert [m["content"] for m in exported["messages"]] == [
        "one",
        "[turn 1] You said: one",
        "two",
        "[turn 2] You said: two",
    ]
    assert len(exported["turns"]) == 2 and exported["turns"][0]["tokens_used"] == 1
    markdown = Path(client.predict(api_name="/export_markdown")).read_text(encoding="utf-8")
    assert "## You\n\ntwo" in markdown


def test_an_assistant_opened_by_id_is_used_and_edited_instructions_are_sent(launched_studio, local_server):
    from backend.client import AssistantsClient

    with AssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as api:
        saved = api.assistants.create(name="Tutor", model="gpt-5", instructions="Teach kindly.")
    client = Client(launched_studio, verbose=False)
    picker, chat, instructions, about, problem, cost, *_ = client.predict(
        f"mine:{saved.id}", api_name="/open_assistant"
    )
    assert instructions == "Teach kindly." and "Tutor" in about and chat["value"] == []
    assert "Sending costs 2 tokens (gpt-5)" in cost
    shown, *_ = send(client, "hi", instructions=instructions)
    assert shown[-1].startswith("[turn 1 | instructions 13 chars] You said: hi")
    shown, _ = send(client, "and now", instructions="Teach kindly, briefly.")
    assert shown[-1].startswith("[turn 2 | instructions 22 chars] You said: and now")


def test_a_refused_message_keeps_the_conversation_and_the_input(launched_studio):
    client = Client(launched_studio, verbose=False)
    send(client, "kept")
    shown, draft = send(client, "too long", max_tokens=10**9)
    assert shown[0] == "kept" and shown[2] == "too long"
    assert "Not answered:" in shown[-1] and "max_tokens" in shown[-1]  # the cause, for API callers too
    assert "Press Retry to ask again." in shown[-1]
    assert draft == "too long"
    shown, _ = send(client, "too long")  # sent again: it takes the failed turn's place
    assert shown[-1].startswith("[turn 2] You said: too long") and len(shown) == 4


def test_stop_keeps_the_partial_answer_marked_as_stopped(launched_studio):
    client = Client(launched_studio, verbose=False)
    words = " ".join(f"w{i}" for i in range(400))
    job = client.submit(words, api_name="/chat")
    wait_for(lambda: any(len(texts(out[0])) == 2 and "w1" in texts(out[0])[1] for out in job.outputs()))
    chat, *_ = client.predict(api_name="/stop")
    answer = texts(chat)[-1]
    assert "Stopped" in answer and "w1" in answer
    assert "w399" not in answer
    job.result(timeout=WAIT_SECONDS)  # the stream ends by itself once it sees the stop
    shown, *_ = send(client, "after")
    assert shown[-1].startswith("[turn 2] You said: after")


def test_two_visitors_chatting_at_once_see_only_their_own_conversation(launched_studio):
    def converse(name: str) -> list[str]:
        client = Client(launched_studio, verbose=False)
        for turn in range(3):
            shown, *_ = send(client, f"{name} says {turn} " + "word " * 30)
        return shown

    with ThreadPoolExecutor(max_workers=2) as pool:
        alice, bob = pool.map(converse, ["alice", "bob"])
    assert len(alice) == len(bob) == 6
    assert all("bob" not in text for text in alice) and all("alice" not in text for text in bob)
    assert alice[-1].startswith("[turn 3] You said: alice says 2")
    assert bob[-1].startswith("[turn 3] You said: bob says 2")


def test_cancelling_the_event_closes_the_stream_and_marks_the_turn_stopped(launched_studio):
    client = Client(launched_studio, verbose=False)
    job = client.submit(" ".join(f"w{i}" for i in range(400)), api_name="/chat")
    wait_for(lambda: any(len(texts(out[0])) == 2 and "w1" in texts(out[0])[1] for out in job.outputs()))
    job.cancel()  # what Gradio's cancels=[...] does for the Stop button: the handler's generator is closed

    def turns() -> list[dict[str, Any]]:
        return json.loads(Path(client.predict(api_name="/export_json")).read_text(encoding="utf-8"))["turns"]

    wait_for(lambda: turns()[0]["status"] != "streaming")
    assert turns()[0]["status"] == "stopped" and turns()[0]["tokens_used"] == 0
    shown, *_ = send(client, "after")
    assert shown[-1].startswith("[turn 2] You said: after")


def wait_for(condition: Any) -> None:
    """Poll until `condition()` holds, up to WAIT_SECONDS; the test's own asserts then say what went wrong."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and not condition():
        time.sleep(0.02)


def test_the_demo_chats_but_will_not_save_instructions(launched_demo_studio, local_server):
    from backend.client import AssistantsClient

    with AssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as api:
        saved = api.assistants.create(name="Tutor", model="gpt-5-nano", instructions="Teach kindly.")
        client = Client(launched_demo_studio, verbose=False)
        client.predict(f"mine:{saved.id}", api_name="/open_assistant")
        shown, *_ = send(client, "hello", instructions="Teach kindly.")
        assert shown[-1].startswith("[turn 1 | instructions 13 chars] You said: hello")
        note, problem = client.predict("Changed.", api_name="/save_instructions")
        assert note == "" and "read-only demo" in problem["value"]
        assert api.assistants.get(saved.id).instructions == "Teach kindly."


def test_the_status_after_a_stream_comes_from_its_last_view():
    """A stream outputs state, chat and input only; the step chained after it shows error, Retry and cost."""
    import gradio as gr

    from ui.chat_display import chat_messages
    from ui.playground import views as pg
    from ui.playground.chat import ChatView
    from ui.playground.session import PlaygroundSession

    session = PlaygroundSession()
    conversation = session.chat
    problem, retry, _ = pg.status_after(session)  # nothing streamed yet: all hidden
    assert problem.visible is False and retry.visible is False
    conversation.fail(conversation.add_user_turn("hi"), "It broke.")
    failed = ChatView(conversation, draft="hi", error="It broke.", cost="Sending costs 1 token")
    assert pg.stream_frame(session, failed) == (chat_messages(conversation), "hi")
    session.last_view = failed  # what the stream's wrapper keeps once the stream is over
    problem, retry, cost = pg.status_after(session)
    assert problem.visible is True and "It broke." in problem.value
    assert retry.visible is True and cost == "Sending costs 1 token"
    problem, retry = pg.hide_status()  # the next send
    assert problem.visible is False and retry.visible is False
    conversation.add_user_turn("again")
    *_, draft = pg.stream_frame(session, ChatView(conversation))
    assert draft == gr.skip()
    session.last_view = ChatView(conversation)
    problem, retry, cost = pg.status_after(session)
    assert problem.visible is False and retry.visible is False and cost == gr.skip()
    assert (
        len(pg.render_view(session, failed)) == 5
    )  # one-shot actions (Stop, Undo, Clear) set all five outputs


def test_a_conversation_is_saved_as_a_test_case_to_replay(launched_studio, local_server):
    from backend.client import AssistantsClient

    with AssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as api:
        tutor = api.assistants.create(name="Tutor", model="gpt-5-nano", instructions="Teach kindly.")
    client = Client(launched_studio, verbose=False)
    client.predict(f"mine:{tutor.id}", api_name="/open_assistant")
    send(client, "What is a noun?")
    send(client, "And a verb?")
    notice = client.predict("Regression", "two questions", api_name="/save_as_test_case")
    assert "Regression" in notice and "2" in notice, notice
    suites = client.predict(tutor.id, api_name="/suites_list")
    assert "Regression" in json.dumps(suites)
