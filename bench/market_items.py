"""A large, varied marketplace made up in code: the same items on every run (a fixed seed)."""

from __future__ import annotations

import random
from typing import Any

CATEGORIES = [
    "productivity", "writing", "coding", "data", "education",
    "business", "marketing", "language", "lifestyle", "fun",
]  # fmt: skip
_ROLES = [
    "coach", "editor", "tutor", "planner", "reviewer", "analyst", "translator", "advisor",
    "writer", "debugger", "summariser", "mentor", "critic", "researcher", "designer", "guide",
]  # fmt: skip
_TOPICS = [
    "python", "sql", "email", "resume", "budget", "travel", "poetry", "marketing", "pitch deck",
    "grammar", "spanish", "french", "german", "meeting", "recipe", "fitness", "chess", "history",
    "physics", "statistics", "excel", "regex", "startup", "contract", "blog", "podcast", "garden",
    "interview", "negotiation", "kubernetes", "rust", "javascript", "philosophy", "astronomy",
]  # fmt: skip
_ADJECTIVES = [
    "friendly", "strict", "concise", "patient", "witty", "careful", "fast", "thorough",
    "playful", "formal", "creative", "practical", "curious", "gentle", "bold", "calm",
]  # fmt: skip
_VERBS = ["explains", "reviews", "drafts", "checks", "plans", "rewrites", "teaches", "summarises", "improves"]
_FILLER = (
    "Ask one clarifying question when the request is ambiguous. Keep answers short unless asked for detail. "
    "Use plain language, give examples, and say so when you are not sure. Never invent facts or sources. "
)


def make_item(rng: random.Random, index: int) -> dict[str, Any]:
    """One made-up community assistant."""
    adjective, topic, role = rng.choice(_ADJECTIVES), rng.choice(_TOPICS), rng.choice(_ROLES)
    other = rng.choice(_TOPICS)
    name = f"{adjective.title()} {topic.title()} {role.title()} {index}"
    description = (
        f"A {adjective} {role} that {rng.choice(_VERBS)} your {topic} work, "
        f"with tips on {other} when it helps."
    )
    instructions = f"You are a {adjective} {topic} {role}. " + _FILLER * rng.randint(1, 4)
    return {
        "id": f"mkt_bench_{index:05d}",
        "name": name,
        "description": description,
        "instructions": instructions,
        "model": "gpt-5-nano",
        "category": CATEGORIES[index % len(CATEGORIES)],
        "author": f"author{rng.randint(1, 400)}",
        "uses": rng.randint(0, 50_000),
        "conversation_starters": [f"Help me with my {topic}.", f"What do you know about {other}?"],
    }


def make_items(count: int, seed: int = 20240601) -> list[dict[str, Any]]:
    """`count` varied items, the same for the same count and seed."""
    rng = random.Random(seed)
    return [make_item(rng, index) for index in range(count)]


def queries(count: int, seed: int = 7) -> list[tuple[str | None, str | None, int]]:
    """(category, words, page): every other one a category page, the rest searches of varied kinds."""
    rng = random.Random(seed)
    words = [*_TOPICS, *_ROLES, *_ADJECTIVES]
    mixes: list[tuple[str | None, str | None, int]] = []
    for index in range(count):
        category = rng.choice(CATEGORIES)
        kind = (index // 2) % 5
        if index % 2 == 0:
            mixes.append((category, None, rng.randint(1, 50)))
        elif kind == 0:
            mixes.append((None, rng.choice(words), 1))
        elif kind == 1:
            mixes.append((category, rng.choice(words), 1))
        elif kind == 2:
            mixes.append((None, f"{rng.choice(_ADJECTIVES)} {rng.choice(_TOPICS)}", 1))
        elif kind == 3:
            mixes.append((None, f"{rng.choice(_ROLES)} {rng.randint(0, 9999)}", 1))
        else:
            mixes.append((None, "zzqx nothing", 1))  # no match: a full scan
    return mixes
