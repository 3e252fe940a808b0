"""The price list of text models, and the marketplace of community assistants with its search."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from backend.schemas import MarketplaceItem, ModelInfo

log = logging.getLogger(__name__)

MARKETPLACE_PATH = Path(__file__).resolve().parents[2] / "assets" / "marketplace.json"

# slug, name, provider, token cost per request (the docs' price list), description
_PRICE_LIST: list[tuple[str, str, str, int, str]] = [
    ("gpt-5-nano", "GPT-5 Nano", "OpenAI", 1, "OpenAI's smallest GPT-5: fast, cheap everyday answers."),
    ("claude-haiku-4.5", "Claude Haiku 4.5", "Anthropic", 1, "Anthropic's quick model for light tasks."),
    ("gemini-2.5-flash", "Gemini 2.5 Flash", "Google", 1, "Google's fast multimodal model."),
    ("deepseek-v3", "DeepSeek V3", "DeepSeek", 1, "DeepSeek's general chat model."),
    ("grok-4-fast", "Grok 4 Fast", "xAI", 1, "xAI's low-latency Grok."),
    ("deepseek-r1", "DeepSeek R1", "DeepSeek", 1, "DeepSeek's reasoning model: thinks before it answers."),
    ("gpt-5", "GPT-5", "OpenAI", 2, "OpenAI's flagship general model."),
    ("gemini-3-pro", "Gemini 3 Pro", "Google", 3, "Google's strongest model for long, complex work."),
    ("gpt-5.2", "GPT-5.2", "OpenAI", 4, "OpenAI's newer GPT-5 for demanding writing and code."),
    (
        "claude-sonnet-4.5",
        "Claude Sonnet 4.5",
        "Anthropic",
        4,
        "Anthropic's balanced model for code and analysis.",
    ),
    ("claude-opus-4.5", "Claude Opus 4.5", "Anthropic", 6, "Anthropic's most capable model."),
    ("gpt-5.2-pro", "GPT-5.2 Pro", "OpenAI", 39, "OpenAI's slowest, most thorough reasoning model."),
]

MODELS: dict[str, ModelInfo] = {
    slug: ModelInfo(
        slug=slug,
        name=name,
        category="text",
        provider=provider,
        # The docs: cheap models are open to every plan, the rest need Basic or above.
        min_plan="Starter" if cost == 1 else "Basic",
        token_cost=cost,
        description_en=description,
        supports_streaming=True,
    )
    for slug, name, provider, cost, description in _PRICE_LIST
}


def model_hint(limit: int = 4) -> str:
    """A few valid slugs, for an error message."""
    return ", ".join(list(MODELS)[:limit])


# --- Marketplace ---------------------------------------------------------------------------------------

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")
# When the shipped catalog was written: the created_at/updated_at of items that do not carry their own.
CATALOG_TIME = "2025-01-01T00:00:00Z"


def load_marketplace(path: Path = MARKETPLACE_PATH) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The items and categories of a marketplace file; empty when the file is absent."""
    if not path.is_file():
        log.warning("No marketplace file at %s; the marketplace is empty.", path.name)
        return [], []
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return data, []
    return list(data.get("items", [])), list(data.get("categories", []))


class Marketplace:
    """Community assistants: filter by category, search words, page through, most used first."""

    def __init__(self, items: list[dict[str, Any]], categories: list[dict[str, Any]] | None = None) -> None:
        self._items: list[dict[str, Any]] = []
        for index, raw in enumerate(items):
            item = _normalise(raw, index)
            if item is not None:
                self._items.append(item)
        self._items.sort(key=lambda item: (-item["uses"], item["name"].lower()))
        self._haystacks = [
            "\n".join(
                str(item.get(key) or "") for key in ("name", "description", "instructions", "author")
            ).lower()
            for item in self._items
        ]
        self._by_category: dict[str, list[int]] = {}
        for index, item in enumerate(self._items):
            self._by_category.setdefault((item.get("category") or "").lower(), []).append(index)
        self._category_meta = {str(c.get("slug", "")).lower(): c for c in categories or [] if c.get("slug")}

    @classmethod
    def from_file(cls, path: Path = MARKETPLACE_PATH) -> Marketplace:
        """The marketplace shipped in assets/marketplace.json."""
        items, categories = load_marketplace(path)
        return cls(items, categories)

    def __len__(self) -> int:
        return len(self._items)

    def search(
        self, *, category: str | None = None, q: str | None = None, page: int = 1, limit: int = 20
    ) -> dict:
        """One page of the items in `category` whose text holds every word of `q` (any case)."""
        matches: list[int] | range = range(len(self._items))
        if category:
            matches = self._by_category.get(category.strip().lower(), [])
        # A plain scan of the lower-cased texts: 10,000 items take a few milliseconds, well within the
        # goal of bench/bench_marketplace.py, so no index is kept. The longest word first: it usually
        # matches the fewest items, which leaves the fewest for the next word.
        haystacks = self._haystacks
        for word in sorted(set((q or "").lower().split()), key=len, reverse=True):
            matches = [i for i in matches if word in haystacks[i]]
        total = len(matches)
        start = (page - 1) * limit
        chosen = [self._items[i] for i in matches[start : start + limit]]
        pages = max(1, math.ceil(total / limit))
        return {"items": chosen, "total": total, "page": page, "limit": limit, "pages": pages}

    def categories(self) -> list[dict[str, Any]]:
        """Each category with its number of items: the file's order first, then any others by name."""
        counts: dict[str, int] = {}
        for item in self._items:
            slug = (item.get("category") or "").lower()
            if slug:
                counts[slug] = counts.get(slug, 0) + 1
        ordered = [slug for slug in self._category_meta if slug in counts]
        ordered += sorted(slug for slug in counts if slug not in self._category_meta)
        result = []
        for slug in ordered:
            meta = self._category_meta.get(slug, {})
            entry = {
                "category": slug,
                "count": counts[slug],
                "name": meta.get("name") or slug.replace("-", " ").title(),
            }
            if meta.get("description"):
                entry["description"] = meta["description"]
            result.append(entry)
        return result


def _normalise(raw: Any, index: int) -> dict[str, Any] | None:
    """One item as the API shows it, or None (logged) when it is not a valid item."""
    if not isinstance(raw, dict):
        log.warning("Marketplace item %d is not an object; skipped.", index)
        return None
    try:
        item = MarketplaceItem.model_validate(raw)
    except PydanticValidationError as exc:
        log.warning("Marketplace item %d is not valid (%s); skipped.", index, exc.errors()[0].get("msg"))
        return None
    data = item.model_dump(exclude_none=True)
    if not data.get("id"):
        data["id"] = "mkt_" + (_SLUG_STRIP.sub("-", data["name"].lower()).strip("-") or str(index))
    if data.get("category"):
        data["category"] = str(data["category"]).lower()
    data.setdefault("created_at", CATALOG_TIME)
    data.setdefault("updated_at", data["created_at"])
    return data
