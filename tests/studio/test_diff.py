"""Word diffs of versions: exact on edits, quick on long texts, every field shown when it changed."""

from __future__ import annotations

from studio.diff import Piece, diff_fields, word_diff


def test_a_changed_word_is_one_deletion_and_one_insertion_in_place():
    assert word_diff("Answer in haiku about autumn.", "Answer in a haiku about spring.") == [
        Piece("equal", "Answer in "),
        Piece("insert", "a "),
        Piece("equal", "haiku about "),
        Piece("delete", "autumn"),
        Piece("insert", "spring"),
        Piece("equal", "."),
    ]


def test_joining_the_pieces_gives_back_both_texts():
    old = "First line.\nSecond line, with words.\n\nThird {{var}} line!"
    new = "First line.\nSecond line with more words.\nThird {{var}} line?"
    pieces = word_diff(old, new)
    assert "".join(p.text for p in pieces if p.op != "insert") == old
    assert "".join(p.text for p in pieces if p.op != "delete") == new


def test_two_long_single_line_texts_diff_exactly():
    words = [f"word{i % 997}" for i in range(3000)]
    old = " ".join(words)
    changed = list(words)
    changed[1500] = "CHANGED"
    pieces = word_diff(old, " ".join(changed))
    assert [p.text for p in pieces if p.op == "delete"] == [words[1500]]
    assert [p.text for p in pieces if p.op == "insert"] == ["CHANGED"]


def test_other_fields_are_listed_only_when_they_changed():
    old = {"name": "Tutor", "model": "gpt-5", "instructions": "Teach.", "description": ""}
    diff = diff_fields(1, old, 2, {**old, "model": "gpt-5-nano"})
    assert [(c.field, c.old, c.new) for c in diff.changed] == [("model", "gpt-5", "gpt-5-nano")]
    assert not diff.instructions_changed and not diff.identical
    assert diff_fields(1, old, 1, old).identical
