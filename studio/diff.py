"""Word-level diffs of versions (and of answers), with Google's diff-match-patch.

Words (and the spaces and marks between them) are each mapped to one character, so the library's Myers
diff runs over words rather than letters: exact for edits, quick on two 20,000-character instructions. Its
time limit bounds the worst case (two texts with nothing in common) at DIFF_SECONDS, after which the diff
is coarser but still right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from diff_match_patch import diff_match_patch

Op = Literal["equal", "insert", "delete"]
DIFF_SECONDS = 1.0
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_OPS: dict[int, Op] = {0: "equal", 1: "insert", -1: "delete"}
_SURROGATES = range(0xD800, 0xE000)


@dataclass(frozen=True)
class Piece:
    op: Op
    text: str


class _Codebook:
    """One character per distinct token, skipping the code points a str cannot hold alone."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self._next = 1

    def encode(self, text: str) -> str:
        out = []
        for token in _TOKEN.findall(text):
            code = self.codes.get(token)
            if code is None:
                if self._next in _SURROGATES:
                    self._next = _SURROGATES.stop
                code = chr(self._next)
                self._next += 1
                self.codes[token] = code
                self.tokens[code] = token
            out.append(code)
        return "".join(out)

    def decode(self, codes: str) -> str:
        return "".join(self.tokens[code] for code in codes)


def word_diff(old: str, new: str) -> list[Piece]:
    """`old` turned into `new`, as runs of equal, deleted and inserted text."""
    book = _Codebook()
    a, b = book.encode(old), book.encode(new)
    engine = diff_match_patch()
    engine.Diff_Timeout = DIFF_SECONDS
    diffs = engine.diff_main(a, b, False)
    engine.diff_cleanupSemantic(diffs)
    return [Piece(_OPS[op], book.decode(codes)) for op, codes in diffs if codes]


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class VersionDiff:
    """What changed between two versions: the instructions word by word, the other fields whole."""

    old_number: int
    new_number: int
    instructions: list[Piece]
    changed: list[FieldChange]  # name, model, description, when they differ

    @property
    def instructions_changed(self) -> bool:
        return any(piece.op != "equal" for piece in self.instructions)

    @property
    def identical(self) -> bool:
        return not self.changed and not self.instructions_changed


def diff_fields(old_number: int, old: dict[str, str], new_number: int, new: dict[str, str]) -> VersionDiff:
    """The diff of two versions' fields."""
    changed = [
        FieldChange(name, old.get(name, ""), new.get(name, ""))
        for name in ("name", "model", "description")
        if old.get(name, "") != new.get(name, "")
    ]
    pieces = word_diff(old.get("instructions", ""), new.get("instructions", ""))
    return VersionDiff(old_number, new_number, pieces, changed)
