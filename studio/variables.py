"""`{{variables}}` in instructions and prompts: finding them, checking them, filling them in.

The syntax, as the README documents it:
- `{{name}}` (or `{{ name }}`) is a variable; a name is letters, digits and underscores.
- `\\{{` is a literal `{{`: the backslash is dropped and what follows is left as written.
- Any other `{{` is a malformed placeholder, reported before anything is sent, never sent as it is.
- Values go in as they are typed: a value holding `{{x}}` is not filled in again.

The Playground and the test suites both fill text through `render`, so a prompt behaves the same in both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from studio.errors import StudioError

# An escaped brace pair, a well-formed placeholder, or any other opening pair (malformed).
_TOKEN = re.compile(r"\\\{\{|\{\{\s*(\w+)\s*\}\}|\{\{")
_SNIPPET = 24


class VariableError(StudioError):
    """The text cannot be filled in as it is; the message names each problem and what to do."""

    def __init__(self, message: str, *, missing: list[str] | None = None, malformed: list[str] | None = None):
        super().__init__(message)
        self.missing = missing or []
        self.malformed = malformed or []


@dataclass(frozen=True)
class Malformed:
    """A `{{` that does not open a placeholder: where it is, and what follows it."""

    line: int
    column: int
    snippet: str

    def describe(self) -> str:
        return f"line {self.line}, column {self.column}: “{self.snippet}”"


@dataclass(frozen=True)
class Scan:
    """What a text holds: its variables in order of first appearance, and its malformed placeholders."""

    names: tuple[str, ...]
    malformed: tuple[Malformed, ...]


def scan(text: str) -> Scan:
    """The variables of `text` in order of first appearance, and every malformed placeholder."""
    names: dict[str, None] = {}
    malformed: list[Malformed] = []
    for match in _TOKEN.finditer(text or ""):
        token = match.group(0)
        if token == "\\{{":
            continue
        if match.group(1) is not None:
            names.setdefault(match.group(1), None)
            continue
        start = match.start()
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        snippet = text[start : start + _SNIPPET].split("\n", 1)[0]
        malformed.append(Malformed(line, column, snippet))
    return Scan(tuple(names), tuple(malformed))


def names(text: str) -> list[str]:
    """The variables of `text`, in order of first appearance."""
    return list(scan(text).names)


def has_placeholders(text: str) -> bool:
    """Whether `text` needs filling in: it holds a variable, an escaped `{{`, or a malformed one."""
    return "{{" in (text or "")


def _unfilled(name: str, values: Mapping[str, str], allow_empty: bool) -> bool:
    value = values.get(name)
    return value is None if allow_empty else not str(value or "").strip()


def problems(
    text: str, values: Mapping[str, str], *, what: str = "The instructions", allow_empty: bool = False
) -> str:
    """What stops `text` from being filled with `values`, as one message; "" when it can be.

    The Playground treats an empty field as unfilled; a test case may set a variable to "" on purpose
    (`allow_empty`), and only a variable it does not give at all is missing.
    """
    found = scan(text)
    parts: list[str] = []
    if found.malformed:
        where = "; ".join(m.describe() for m in found.malformed[:3])
        more = f" and {len(found.malformed) - 3} more" if len(found.malformed) > 3 else ""
        parts.append(
            f"{what} have a malformed placeholder ({where}{more}): write a variable as {{{{name}}}} "
            "with letters, digits or underscores, or \\{{ for a literal {{."
        )
    empty = [name for name in found.names if _unfilled(name, values, allow_empty)]
    if empty:
        listed = ", ".join(f"“{name}”" for name in empty)
        plural = len(empty) > 1
        state = "not given" if allow_empty else "empty"
        parts.append(
            f"Fill in the variable{'s' if plural else ''} {listed}: "
            f"{'they are' if plural else 'it is'} {state}, and nothing was sent."
        )
    return " ".join(parts)


def render(
    text: str, values: Mapping[str, str], *, what: str = "The instructions", allow_empty: bool = False
) -> str:
    """`text` with every variable filled in; raises VariableError naming what is missing or malformed."""
    message = problems(text, values, what=what, allow_empty=allow_empty)
    if message:
        found = scan(text)
        missing = [name for name in found.names if _unfilled(name, values, allow_empty)]
        raise VariableError(message, missing=missing, malformed=[m.describe() for m in found.malformed])

    def fill(match: re.Match[str]) -> str:
        if match.group(0) == "\\{{":
            return "{{"
        return str(values[match.group(1)])

    return _TOKEN.sub(fill, text or "")
