"""How the studio says what things cost: one wording everywhere a price or a count of tokens is shown."""

from __future__ import annotations


def count(number: int, unit: str) -> str:
    """ "1 token", "2 tokens", "1,000 requests": a number with its unit, singular only for one."""
    return f"{number:,} {unit}{'' if number == 1 else 's'}"


def tokens(number: int) -> str:
    """ "1 token", "12 tokens"."""
    return count(number, "token")


def model_label(slug: str, cost: int) -> str:
    """A model as the pickers show it, with its price: "gpt-5-nano · 1 token/request"."""
    return f"{slug} · {tokens(cost)}/request"
