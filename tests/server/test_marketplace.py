"""The marketplace: category filter, word search, popularity order, pagination and the categories list."""

from __future__ import annotations

import pytest

from backend.schemas import MarketplaceItem, Page
from backend.server.catalog import CATALOG_TIME, MARKETPLACE_PATH, MODELS, Marketplace
from backend.server.embedded import EmbeddedServer
from tests.conftest import make_settings
from tests.server.httputil import api, assert_error

ITEMS = [
    {
        "id": "mkt_review",
        "name": "Code Reviewer",
        "description": "Finds bugs and style problems.",
        "instructions": "Review code for bugs, security issues, and style.",
        "model": "claude-sonnet-4.5",
        "category": "coding",
        "author": "Ada Lovelace",
        "uses": 900,
        "conversation_starters": ["Review this function"],
    },
    {
        "id": "mkt_translate",
        "name": "Translator",
        "description": "Any language to English.",
        "instructions": "Translate all user input to English. Preserve formatting and tone.",
        "model": "gpt-5",
        "category": "writing",
        "author": "Grace Hopper",
        "uses": 1200,
        "conversation_starters": [],
    },
    {
        "id": "mkt_email",
        "name": "Email Writer",
        "description": "Professional business emails.",
        "instructions": "Write professional business emails, under 150 words.",
        "model": "gpt-5-nano",
        "category": "productivity",
        "author": "Ada Lovelace",
        "uses": 300,
        "conversation_starters": ["Decline a meeting politely"],
    },
    {
        "id": "mkt_data",
        "name": "Data Analyst",
        "description": "Structured JSON insights.",
        "instructions": "Analyze data the user provides. Output structured JSON.",
        "model": "deepseek-v3",
        "category": "productivity",
        "author": "Edgar Codd",
        "uses": 700,
        "conversation_starters": [],
    },
]


@pytest.fixture
def market(tmp_path):
    with EmbeddedServer(make_settings(tmp_path), marketplace=ITEMS) as server, api(server) as http:
        yield http


def names(response) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


def test_everything_most_used_first(market):
    page = Page[MarketplaceItem].model_validate(market.get("/assistants/marketplace").json())
    assert [i.name for i in page.items] == ["Translator", "Code Reviewer", "Data Analyst", "Email Writer"]
    assert (page.total, page.page, page.pages) == (4, 1, 1)
    first = page.items[1]
    assert first.id == "mkt_review" and first.author == "Ada Lovelace" and first.uses == 900
    assert first.conversation_starters == ["Review this function"] and first.model == "claude-sonnet-4.5"


def test_items_carry_the_assistant_fields_with_catalog_times(market):
    items = market.get("/assistants/marketplace").json()["items"]
    for item in items:
        assert {"id", "name", "model", "instructions", "description", "created_at", "updated_at"} <= set(item)
        assert item["created_at"] == CATALOG_TIME and item["updated_at"] == CATALOG_TIME
    assert CATALOG_TIME.endswith("Z")
    kept = Marketplace([{"name": "Dated", "created_at": "2024-05-01T10:00:00Z"}]).search()["items"][0]
    assert kept["created_at"] == kept["updated_at"] == "2024-05-01T10:00:00Z"  # an item's own time wins


def test_category_filter(market):
    response = market.get("/assistants/marketplace", params={"category": "productivity", "limit": 10})
    assert names(response) == ["Data Analyst", "Email Writer"]
    assert names(market.get("/assistants/marketplace", params={"category": "PRODUCTIVITY"})) == names(
        response
    )
    empty = market.get("/assistants/marketplace", params={"category": "cooking"}).json()
    assert empty["items"] == [] and empty["total"] == 0


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("bugs", ["Code Reviewer"]),
        ("ENGLISH", ["Translator"]),
        ("ada", ["Code Reviewer", "Email Writer"]),  # the author is searched too
        ("ada emails", ["Email Writer"]),  # every word must match
        ("json structured", ["Data Analyst"]),
        ("ada translate", []),
        ("   ", ["Translator", "Code Reviewer", "Data Analyst", "Email Writer"]),
    ],
)
def test_search_words(market, q, expected):
    assert names(market.get("/assistants/marketplace", params={"q": q})) == expected


def test_search_within_a_category(market):
    response = market.get("/assistants/marketplace", params={"q": "ada", "category": "coding"})
    assert names(response) == ["Code Reviewer"]


def test_pagination(market):
    first = market.get("/assistants/marketplace", params={"limit": 3}).json()
    second = market.get("/assistants/marketplace", params={"limit": 3, "page": 2}).json()
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (4, 2, 3, 1)
    assert second["items"][0]["name"] == "Email Writer"
    assert_error(market.get("/assistants/marketplace", params={"limit": 101}), 422, "validation_error")


def test_categories_with_counts(market):
    categories = market.get("/assistants/marketplace/categories").json()
    assert [(c["category"], c["count"]) for c in categories] == [
        ("coding", 1),
        ("productivity", 2),
        ("writing", 1),
    ]


def test_invalid_items_are_skipped_and_ids_filled_in():
    market = Marketplace(
        [{"name": "No id", "category": "Fun", "uses": 1}, {"description": "no name"}, "junk"]
    )
    assert len(market) == 1
    item = market.search()["items"][0]
    assert item["id"].startswith("mkt_") and item["category"] == "fun"


def test_search_scans_ten_thousand_items_correctly():
    items = [
        {
            "name": f"Bot {i}",
            "description": "alpha" if i % 3 == 0 else "beta",
            "author": f"author{i % 7}",
            "uses": i,
        }
        for i in range(10_000)
    ]
    market = Marketplace(items)
    result = market.search(q="alpha author3", limit=100)
    expected = [i for i in range(10_000) if i % 3 == 0 and i % 7 == 3]
    assert result["total"] == len(expected)
    assert [item["uses"] for item in result["items"]] == sorted(expected, reverse=True)[:100]


@pytest.mark.skipif(not MARKETPLACE_PATH.is_file(), reason="assets/marketplace.json is not written yet")
def test_the_shipped_marketplace_loads():
    market = Marketplace.from_file()
    assert len(market) >= 60
    categories = market.categories()
    assert len(categories) >= 8
    every = market.search(limit=100)["items"]
    every += market.search(limit=100, page=2)["items"]
    assert all(item.get("model") in MODELS for item in every)
    assert len({item["id"] for item in every}) == len(every)


@pytest.mark.parametrize("varied", [False, True])
def test_search_agrees_with_reading_every_text(varied):
    import random

    rng = random.Random(7)
    vocabulary = ["code", "c++", "e-mail", "review", "bugs,", "Writer", "data.", "json", "tone", "node.js"]

    def text(n: int) -> str:
        words = rng.choices(vocabulary, k=n)
        if varied:  # nearly every token distinct: the search reads the texts instead of its index
            words = [f"{w}{rng.randrange(10**6)}" for w in words]
        return " ".join(words)

    items = [
        {
            "name": text(2),
            "description": text(5),
            "instructions": text(50),
            "author": text(1),
            "uses": i,
            "category": f"c{i % 3}",
        }
        for i in range(300)
    ]
    market = Marketplace(items)
    for q in [
        "code",
        "C++ json",
        "e-mail",
        "ode",
        "s, d",
        "node.js review",
        "nothing",
        "o",
        "writer tone data.",
    ]:
        for category in (None, "c1"):
            words = q.lower().split()
            expected = sorted(
                (item for item in items if category in (None, item["category"])),
                key=lambda item: -item["uses"],
            )
            expected = [
                item["uses"]
                for item in expected
                if all(
                    w
                    in " ".join(
                        [item["name"], item["description"], item["instructions"], item["author"]]
                    ).lower()
                    for w in words
                )
            ]
            got = market.search(q=q, category=category, limit=100)
            assert got["total"] == len(expected), (q, category)
            assert [item["uses"] for item in got["items"]] == expected[:100], (q, category)
