"""Conversations kept in the browser: what is written, what comes back, and what is dropped."""

from __future__ import annotations

import json

from studio.conversation import AssistantProfile, ChatParameters, ChatSession, TurnStats
from studio.saved_chats import MAX_SAVED, SavedChat, SavedChats, fingerprint

KEY = "nb_" + "k" * 45


def chat(text: str = "hello") -> ChatSession:
    conversation = ChatSession(AssistantProfile(name="Tutor", model="gpt-5-nano", instructions="Be {{mood}}."),
                               variables={"mood": "calm"})  # fmt: skip
    turn = conversation.add_user_turn(text)
    turn.append("hi there")
    conversation.finish(turn, TurnStats(model="gpt-5-nano", tokens_used=1, total_s=0.2))
    return conversation


def test_a_conversation_comes_back_whole_from_its_json():
    saved = SavedChats()
    saved.keep(
        SavedChat(chat(), fingerprint("local:x", KEY), "Be {{mood}}.", ChatParameters(temperature=0.2))
    )
    document = json.loads(json.dumps(saved.to_document()))  # what the browser stores is plain JSON
    back, notice = SavedChats.load(document)
    assert notice == "" and len(back.chats) == 1
    again = back.chats[0]
    assert again.chat.turns[0].answer == "hi there" and again.chat.turns[0].stats.tokens_used == 1
    assert again.chat.variables == {"mood": "calm"} and again.parameters.temperature == 0.2
    assert again.chat.assistant.instructions == "Be {{mood}}."


def test_the_browser_copy_never_holds_the_key():
    saved = SavedChats()
    saved.keep(SavedChat(chat(), fingerprint("https://neuralbox.top/api/v2", KEY)))
    text = json.dumps(saved.to_document())
    assert KEY not in text and KEY[3:20] not in text
    assert fingerprint("https://neuralbox.top/api/v2", KEY) != fingerprint(
        "https://neuralbox.top/api/v2", KEY + "x"
    )


def test_an_answer_cut_by_a_reload_comes_back_stopped():
    conversation = chat()
    conversation.add_user_turn("a long question").append("partial")
    saved = SavedChats()
    saved.keep(SavedChat(conversation, "fp"))
    back, _ = SavedChats.load(saved.to_document())
    assert back.chats[0].chat.turns[-1].status == "stopped" and not back.chats[0].chat.busy


def test_corrupt_or_older_copies_are_dropped_with_a_notice():
    assert SavedChats.load(None) == (SavedChats(), "")
    for document, why in [
        ("garbage", "not the studio's format"),
        ({"format": "assistant-studio/saved-chats", "version": 0, "chats": []}, "another version"),
    ]:
        back, notice = SavedChats.load(document)
        assert back.chats == [] and why in notice
    good = SavedChats()
    good.keep(SavedChat(chat(), "fp"))
    document = good.to_document()
    document["chats"].append({"chat": {"turns": "not a list"}, "server": "fp"})
    back, notice = SavedChats.load(document)
    assert len(back.chats) == 1 and "1 saved conversation could not be read" in notice


def test_only_the_newest_are_kept():
    saved = SavedChats()
    for i in range(MAX_SAVED + 3):
        saved.keep(SavedChat(chat(f"message {i}"), "fp"))
    assert len(saved.chats) == MAX_SAVED and saved.chats[0].chat.turns[0].user == f"message {MAX_SAVED + 2}"


def test_the_copy_stays_within_what_a_browser_keeps():
    from studio import saved_chats

    saved = SavedChats()
    for i in range(4):
        saved.keep(SavedChat(chat("x" * 800_000 + str(i)), "fp"))
    document = saved.to_document()
    assert len(json.dumps(document).encode()) <= saved_chats.MAX_BYTES + 10_000
    assert document["chats"][0]["chat"]["turns"][0]["user"].endswith("3")  # the newest kept


def test_studios_starting_at_once_on_one_data_folder_share_one_browser_secret(tmp_path):
    """Any process may serve a browser next, so all must hold the secret its conversations are sealed with."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from studio.saved_chats import SECRET_FILE, browser_secret

    for attempt in range(20):
        folder = tmp_path / f"data-{attempt}"
        start = threading.Barrier(8)

        def make(_: int, folder=folder, start=start) -> str:
            start.wait()
            return browser_secret(folder)

        with ThreadPoolExecutor(max_workers=8) as pool:
            made = set(pool.map(make, range(8)))
        kept = (folder / SECRET_FILE).read_text(encoding="utf-8").strip()
        assert made == {kept}
        assert (folder / SECRET_FILE).stat().st_mode & 0o777 == 0o600
        assert [p.name for p in folder.iterdir()] == [SECRET_FILE]  # no drafts left behind
    assert browser_secret(folder) == kept  # and a later start reads it back
