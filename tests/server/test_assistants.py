"""Assistants CRUD over real HTTP: shapes, pagination, validation and the error bodies."""

from __future__ import annotations

import re

import pytest

from backend.schemas import DESCRIPTION_MAX, INSTRUCTIONS_MAX, NAME_MAX, Assistant, Deleted, Page
from tests.server.httputil import assert_error

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def make(http, **fields) -> dict:
    body = {"name": "Support Bot", "model": "claude-sonnet-4.5", **fields}
    response = http.post("/assistants", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_create_get_update_delete(http):
    created = make(http, instructions="Be concise.", description="Answers questions")
    assistant = Assistant.model_validate(created)
    assert re.fullmatch(r"asst_[0-9a-z]{12}", assistant.id)
    assert TIME.fullmatch(assistant.created_at) and assistant.created_at == assistant.updated_at
    assert (assistant.name, assistant.model, assistant.instructions) == (
        "Support Bot",
        "claude-sonnet-4.5",
        "Be concise.",
    )

    assert http.get(f"/assistants/{assistant.id}").json() == created

    updated = http.put(f"/assistants/{assistant.id}", json={"instructions": "Updated instructions..."}).json()
    assert updated["instructions"] == "Updated instructions..."
    assert updated["name"] == "Support Bot" and updated["description"] == "Answers questions"
    assert updated["updated_at"] > created["updated_at"]
    assert http.get(f"/assistants/{assistant.id}").json() == updated

    deleted = http.delete(f"/assistants/{assistant.id}")
    assert deleted.status_code == 200
    assert Deleted.model_validate(deleted.json()) == Deleted(id=assistant.id, deleted=True)
    assert_error(http.get(f"/assistants/{assistant.id}"), 404, "not_found")
    assert_error(http.delete(f"/assistants/{assistant.id}"), 404, "not_found")
    assert_error(http.put(f"/assistants/{assistant.id}", json={"name": "x"}), 404, "not_found")


def test_list_pages_through_everything(http):
    ids = {make(http, name=f"Bot {i}")["id"] for i in range(5)}
    first = Page[Assistant].model_validate(http.get("/assistants", params={"limit": 2}).json())
    assert (first.total, first.page, first.limit, first.pages, len(first.items)) == (5, 1, 2, 3, 2)
    seen = [a.id for a in first.items]
    for page in (2, 3):
        seen += [a["id"] for a in http.get("/assistants", params={"limit": 2, "page": page}).json()["items"]]
    assert sorted(seen) == sorted(ids)
    beyond = http.get("/assistants", params={"limit": 2, "page": 9}).json()
    assert beyond["items"] == [] and beyond["total"] == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "gpt-5"}, "name"),
        ({"name": "   ", "model": "gpt-5"}, "name"),
        ({"name": "x" * (NAME_MAX + 1), "model": "gpt-5"}, "name"),
        ({"name": 5, "model": "gpt-5"}, "name"),
        ({"name": "Bot"}, "model"),
        ({"name": "Bot", "model": "gpt-99"}, "model"),
        ({"name": "Bot", "model": "gpt-5", "instructions": "x" * (INSTRUCTIONS_MAX + 1)}, "instructions"),
        ({"name": "Bot", "model": "gpt-5", "description": "x" * (DESCRIPTION_MAX + 1)}, "description"),
    ],
)
def test_create_validation_names_the_field(http, body, field):
    problem = assert_error(http.post("/assistants", json=body), 422, "validation_error")
    assert field in problem["details"] and isinstance(problem["details"][field], str)
    assert http.get("/assistants").json()["total"] == 0


def test_messages_are_specific(http):
    details = assert_error(
        http.post("/assistants", json={"name": "", "model": "gpt-99"}), 422, "validation_error"
    )["details"]
    assert details["name"] == f"Name must be 1-{NAME_MAX} characters."
    assert "gpt-99" in details["model"] and "gpt-5-nano" in details["model"]


def test_update_validates_and_keeps_the_old_values(http):
    created = make(http)
    problem = assert_error(
        http.put(f"/assistants/{created['id']}", json={"model": "nope"}), 422, "validation_error"
    )
    assert set(problem["details"]) == {"model"}
    assert http.get(f"/assistants/{created['id']}").json() == created


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"text"'])
def test_a_body_that_is_not_an_object_is_a_bad_request(http, raw):
    response = http.post("/assistants", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"page": 0}, "page"), ({"page": "x"}, "page")],
)
def test_bad_query_parameters_get_flat_details(http, params, field):
    problem = assert_error(http.get("/assistants", params=params), 422, "validation_error")
    assert list(problem["details"]) == [field]


def test_marketplace_is_not_taken_for_an_assistant_id(http):
    assert "items" in http.get("/assistants/marketplace").json()
    assert isinstance(http.get("/assistants/marketplace/categories").json(), list)
    assert_error(http.put("/assistants/marketplace", json={"name": "x"}), 404, "not_found")


def test_no_answer_has_fastapi_detail_shape(http):
    responses = [
        http.get("/nowhere"),
        http.patch("/assistants"),
        http.get("/assistants", params={"page": "many"}),
        http.get("/assistants/marketplace", params={"limit": "lots"}),
        http.post("/assistants", content=b"nope"),
        http.post("/generate", json={"messages": "hi"}),
        http.get("/models/not-a-model"),
    ]
    for response in responses:
        body = response.json()
        assert response.status_code >= 400
        assert "detail" not in body and set(body) >= {"error", "message", "details"}
    assert responses[1].status_code == 405
