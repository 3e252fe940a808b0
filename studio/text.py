"""Words for people that several parts of the studio write the same way."""

from __future__ import annotations


def counted(number: int, word: str) -> str:
    """ "1 token", "2 tokens", "1,234 tokens"."""
    return f"{number:,} {word}{'' if number == 1 else 's'}"
