"""The price list of text models, and the marketplace of community assistants with a fast search."""

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


def get_model(slug: str) -> ModelInfo | None:
    """The model with this slug, or None."""
    return MODELS.get(slug)


def model_hint(limit: int = 4) -> str:
    """A few valid slugs, for an error message."""
    return ", ".join(list(MODELS)[:limit])


# --- Marketplace ---------------------------------------------------------------------------------------

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")
# Past this many postings (per candidate item) to merge, reading each candidate's text is cheaper.
_MERGE_PER_CANDIDATE = 2
# Past this many distinct tokens per item, the text is too varied for an index to help.
_VOCABULARY_PER_ITEM = 10


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
        self._postings, self._vocabulary = self._index()
        self._category_meta = {str(c.get("slug", "")).lower(): c for c in categories or [] if c.get("slug")}

    @classmethod
    def from_file(cls, path: Path = MARKETPLACE_PATH) -> Marketplace:
        """The marketplace shipped in assets/marketplace.json."""
        items, categories = load_marketplace(path)
        return cls(items, categories)

    def __len__(self) -> int:
        return len(self._items)

    def _index(self) -> tuple[dict[str, list[int]] | None, str]:
        """Which items hold each whitespace-separated token, and all the tokens in one string."""
        # A query word has no whitespace, so it occurs in an item's text exactly when it occurs inside one
        # of the item's tokens: the search scans the (much smaller) vocabulary instead of every text.
        # Text of nearly all distinct tokens gains nothing from this, so no index is kept for it.
        most = _VOCABULARY_PER_ITEM * len(self._items) + 10_000
        postings: dict[str, list[int]] = {}
        for index, haystack in enumerate(self._haystacks):
            for token in set(haystack.split()):
                postings.setdefault(token, []).append(index)
            if len(postings) > most:
                return None, ""
        return postings, "\n".join(postings)

    def search(
        self, *, category: str | None = None, q: str | None = None, page: int = 1, limit: int = 20
    ) -> dict:
        """One page of the items in `category` whose text holds every word of `q` (any case)."""
        matches = list(range(len(self._items)))
        if category:
            matches = self._by_category.get(category.strip().lower(), [])
        words = sorted(set((q or "").lower().split()), key=len, reverse=True)
        if words and matches:
            found: set[int] | None = set(matches) if category else None
            for word in words:  # the longest first: it usually matches the fewest items
                found = self._containing(word, found)
                if not found:
                    break
            matches = [i for i in matches if i in found] if found else []
        total = len(matches)
        start = (page - 1) * limit
        chosen = [self._items[i] for i in matches[start : start + limit]]
        pages = max(1, math.ceil(total / limit))
        return {"items": chosen, "total": total, "page": page, "limit": limit, "pages": pages}

    def _containing(self, word: str, among: set[int] | None) -> set[int]:
        """The items (of `among`, if given) whose text contains `word`."""
        tokens = self._tokens_containing(word, len(among) if among is not None else len(self._items))
        if tokens is None:
            candidates = among if among is not None else range(len(self._items))
            return {i for i in candidates if word in self._haystacks[i]}
        found = set().union(*(self._postings[token] for token in tokens))  # type: ignore[index]
        return found & among if among is not None else found

    def _tokens_containing(self, word: str, candidates: int) -> list[str] | None:
        """The vocabulary's tokens that contain `word`; None when reading the candidates' texts is cheaper."""
        if self._postings is None:
            return None
        vocabulary, postings = self._vocabulary, self._postings
        budget = _MERGE_PER_CANDIDATE * candidates + 64
        tokens: list[str] = []
        position = 0
        while (hit := vocabulary.find(word, position)) >= 0:
            start = vocabulary.rfind("\n", 0, hit) + 1
            end = vocabulary.find("\n", hit)
            end = len(vocabulary) if end < 0 else end
            token = vocabulary[start:end]
            budget -= len(postings[token]) + 4  # a token costs more to visit than one posting to merge
            if budget < 0:
                return None
            tokens.append(token)
            position = end + 1
        return tokens

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
    return data
