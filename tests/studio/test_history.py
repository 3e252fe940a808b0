"""Assistants' history in the store, on SQLite and on PostgreSQL: versions, labels, outside changes,
deleted assistants brought back, Compare's wins, and two saves at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from studio.store.history import FIRST_SEEN_NOTE, HistoryError

SERVER = "http://127.0.0.1:8765/api/v2"
OTHER = "https://neuralbox.top/api/v2"


def assistant(instructions: str = "Teach kindly.", **changes: str) -> dict[str, str]:
    return {"id": "asst_1", "name": "Tutor", "model": "gpt-5-nano", "instructions": instructions,
            "description": "", **changes}  # fmt: skip


def test_each_change_is_a_numbered_version_and_a_save_that_changes_nothing_records_nothing(store):
    history = store.get().history
    first = history.record(SERVER, assistant(), "create")
    assert first is not None and first.number == 1 and first.source == "create"
    assert history.record(SERVER, assistant(), "save") is None
    second = history.record(SERVER, assistant("Teach briskly."), "save", "shorter answers")
    assert second is not None and second.number == 2 and second.note == "shorter answers"
    third = history.record(SERVER, assistant("Teach briskly.", model="gpt-5"), "playground")
    assert third is not None and third.number == 3  # any field makes a version, not only the instructions
    page = history.page(SERVER, "asst_1")
    assert [v.number for v in page.versions] == [3, 2, 1] and page.total == 3
    assert page.versions[-1].fields == {"name": "Tutor", "model": "gpt-5-nano",
                                        "instructions": "Teach kindly.", "description": ""}  # fmt: skip


def test_servers_never_mix(store):
    history = store.get().history
    history.record(SERVER, assistant(), "create")
    history.record(OTHER, assistant("Another server's text."), "create")
    assert history.get(SERVER, "asst_1", 1).instructions == "Teach kindly."
    assert history.get(OTHER, "asst_1", 1).instructions == "Another server's text."
    assert history.page(OTHER, "asst_1").total == 1


def test_labels_point_at_one_version_each_and_move(store):
    history = store.get().history
    for text in ("one", "two", "three"):
        history.record(SERVER, assistant(text), "save")
    history.set_label(SERVER, "asst_1", "production", 1)
    history.set_label(SERVER, "asst_1", "staging", 3)
    assert history.resolve(SERVER, "asst_1", "production").instructions == "one"
    history.set_label(SERVER, "asst_1", "production", 2)  # moved, not copied
    page = history.page(SERVER, "asst_1")
    assert page.labels == {"production": 2, "staging": 3}
    assert {v.number: v.labels for v in page.versions} == {3: ("staging",), 2: ("production",), 1: ()}
    assert history.resolve(SERVER, "asst_1", "v3").instructions == "three"
    assert history.remove_label(SERVER, "asst_1", "staging") and not history.remove_label(
        SERVER, "asst_1", "staging"
    )
    with pytest.raises(HistoryError, match="cannot be a label"):
        history.set_label(SERVER, "asst_1", "no spaces please", 1)
    with pytest.raises(HistoryError, match="no version 9.*1 to 3"):
        history.set_label(SERVER, "asst_1", "canary", 9)
    with pytest.raises(HistoryError, match="labelled “gone”"):
        history.resolve(SERVER, "asst_1", "gone")


def test_changes_made_elsewhere_are_noticed_and_marked(store):
    history = store.get().history
    found = history.observe(SERVER, [assistant()])
    assert [(v.number, v.source, v.note) for v in found] == [(1, "outside", FIRST_SEEN_NOTE)]
    assert history.observe(SERVER, [assistant()]) == []  # unchanged: nothing new
    changed = history.observe(SERVER, [assistant("Edited by a script.")])
    assert [(v.number, v.source) for v in changed] == [(2, "outside")]


def test_a_deleted_assistant_keeps_its_history_and_comes_back_under_a_new_id(store):
    history = store.get().history
    history.record(SERVER, assistant(), "create")
    history.record(SERVER, assistant("Second."), "save")
    history.observe(SERVER, [], complete=True)  # the full list no longer has it: deleted elsewhere
    gone = history.deleted(SERVER)
    assert [(d.assistant_id, d.name, d.last_number) for d in gone] == [("asst_1", "Tutor", 2)]
    history.link_brought_back(SERVER, "asst_1", "asst_2")
    revived = history.record(SERVER, {**assistant("Second."), "id": "asst_2"}, "brought back", "from asst_1")
    assert revived is not None and revived.number == 3  # numbering goes on
    assert [v.number for v in history.page(SERVER, "asst_2").versions] == [3, 2, 1]
    assert history.get(SERVER, "asst_2", 1).assistant_id == "asst_1"  # the id it had then
    assert history.deleted(SERVER) == []


def test_an_assistant_missing_from_one_list_and_seen_again_is_not_deleted(store):
    """A list can miss an assistant (another was deleted between two pages of it); seen again, it is live."""
    history = store.get().history
    history.record(SERVER, assistant(), "create")
    history.record(SERVER, {**assistant(), "id": "asst_2"}, "create")
    history.observe(SERVER, [{**assistant(), "id": "asst_2"}], complete=True)
    assert [d.assistant_id for d in history.deleted(SERVER)] == ["asst_1"]
    history.observe(SERVER, [assistant(), {**assistant(), "id": "asst_2"}], complete=True)
    assert history.deleted(SERVER) == []
    history.observe(SERVER, [{**assistant(), "id": "asst_2"}], complete=True)
    history.observe(SERVER, [assistant()])  # read alone (opened in the Playground): live as well
    assert history.deleted(SERVER) == []


def test_two_people_labelling_at_once_both_succeed(store):
    history = store.get().history
    history.record(SERVER, assistant(), "create")
    history.record(SERVER, assistant("Second."), "save")

    def label(index: int) -> None:
        history.set_label(SERVER, "asst_1", "production", 1 + index % 2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(label, range(64)))  # any failure is raised here
    assert history.page(SERVER, "asst_1").labels["production"] in (1, 2)


def test_wins_count_against_the_version_that_ran(store):
    history = store.get().history
    history.record(SERVER, assistant(), "create")
    history.record(SERVER, assistant("Second."), "save")
    for number in (1, 2, 2):
        history.record_win(SERVER, assistant_id="asst_1", number=number, assistant_name="Tutor",
                           model="gpt-5-nano", columns=2)  # fmt: skip
    history.record_win(
        SERVER, assistant_id=None, number=None, assistant_name="Chef", model="gpt-5", columns=3
    )
    assert {v.number: v.wins for v in history.page(SERVER, "asst_1").versions} == {2: 2, 1: 1}


def test_two_saves_at_once_are_both_recorded_with_distinct_numbers(store):
    history = store.get().history
    history.record(SERVER, assistant(), "create")

    def save(text: str):
        return history.record(SERVER, assistant(text), "save")

    with ThreadPoolExecutor(max_workers=8) as pool:
        saved = list(pool.map(save, [f"Edit {i}" for i in range(16)]))
    numbers = sorted(v.number for v in saved if v is not None)
    assert numbers == list(range(2, 18))
    assert history.page(SERVER, "asst_1").total == 17


def test_a_thousand_versions_are_paged(store):
    history = store.get().history
    for i in range(1000):
        history.record(SERVER, assistant(f"Version {i + 1}"), "save")
    first = history.page(SERVER, "asst_1", 1)
    last = history.page(SERVER, "asst_1", first.pages)
    assert first.total == 1000 and first.pages == 20 and len(first.versions) == 50
    assert first.versions[0].number == 1000 and last.versions[-1].number == 1
    assert history.page(SERVER, "asst_1", 99).page == 20  # past the end: the last page
