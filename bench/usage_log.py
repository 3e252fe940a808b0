"""A made-up generation log for the usage benchmark: 100,000 calls over 90 days, as a busy studio logs
them (a dozen assistants with several versions each, five models, the three origins, a few failures)."""

from __future__ import annotations

import random
from typing import Any

from studio.store.database import Database
from studio.store.schema import generations, wins
from studio.usage.zones import DAY_MS

LOCAL = "local:/srv/studio"
REMOTE = "https://neuralbox.top/api/v2"
MODELS = {"gpt-5-nano": 1, "gpt-5-mini": 3, "claude-haiku-4.5": 4, "claude-sonnet-4.5": 12, "gpt-5": 20}
ERRORS = [
    "RateLimitError",
    "ProviderError",
    "APIConnectionError",
    "StreamInterruptedError",
    "APITimeoutError",
]
ASSISTANTS = [f"asst_bench{n:02d}" for n in range(12)]
NAMES = ["Support Bot", "Haiku Poet", "SQL Coach", "Tutor", "Translator", "Summariser",
         "Code Reviewer", "Travel Guide", "Chef", "Legal Drafts", "Marketing Copy", "Therapist Notes"]  # fmt: skip
_BATCH = 5_000


def make_rows(count: int, end_ms: int, *, days: int = 90, seed: int = 7) -> list[dict[str, Any]]:
    """`count` generation records spread over the `days` before `end_ms`, oldest first."""
    rng = random.Random(seed)
    start = end_ms - days * DAY_MS
    balance = {LOCAL: 10_000_000, REMOTE: 2_000_000}
    rows = []
    for at in sorted(rng.randrange(start, end_ms) for _ in range(count)):
        server = LOCAL if rng.random() < 0.8 else REMOTE
        mine = rng.random() < 0.9
        index = rng.randrange(len(ASSISTANTS))
        model = rng.choice(list(MODELS))
        roll = rng.random()
        outcome = "failed" if roll < 0.04 else ("stopped" if roll < 0.07 else "completed")
        tokens = MODELS[model] if outcome == "completed" else 0
        balance[server] -= tokens
        if balance[server] < 1000:
            balance[server] += 1_000_000  # a top-up
        first = rng.lognormvariate(5.5, 0.6) if outcome != "failed" else None
        rows.append(
            {
                "at_ms": at, "server": server, "model": model, "outcome": outcome,
                "assistant_id": ASSISTANTS[index] if mine else None,
                "lineage": ASSISTANTS[index] if mine else None,
                "version": 1 + (at - start) * 6 // (days * DAY_MS + 1) if mine else None,
                "assistant_name": NAMES[index] if mine else rng.choice(["", "Market Pick"]),
                "engine": "echo" if server == LOCAL else None,
                "origin": rng.choices(["playground", "compare", "test"], [80, 15, 5])[0],
                "run_id": None, "tokens_used": tokens,
                "prompt_tokens": rng.randrange(10, 2000), "completion_tokens": rng.randrange(1, 800),
                "total_tokens": None, "first_token_ms": first,
                "total_ms": (first or 0) + rng.lognormvariate(7.0, 0.7),
                "error_class": rng.choice(ERRORS) if outcome == "failed" else None,
                "balance_after": balance[server] if outcome == "completed" else None,
            }
        )  # fmt: skip
    return rows


def fill(db: Database, count: int, end_ms: int, *, seed: int = 7) -> None:
    """Write the made-up log (and some Compare wins) into the store."""
    rows = make_rows(count, end_ms, seed=seed)
    with db.write() as connection:
        for offset in range(0, len(rows), _BATCH):
            connection.execute(generations.insert(), rows[offset : offset + _BATCH])
        picked = [row for row in rows if row["lineage"] and row["origin"] == "compare"][::5]
        connection.execute(
            wins.insert(),
            [
                {"server": r["server"], "lineage": r["lineage"], "number": r["version"],
                 "assistant_name": r["assistant_name"], "model": r["model"], "columns": 2, "created_ms": r["at_ms"]}
                for r in picked
            ],
        )  # fmt: skip
