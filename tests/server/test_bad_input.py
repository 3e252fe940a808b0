"""Input the API does not accept is a clear 4xx naming the field, never a 500, and never charged."""

from __future__ import annotations

import httpx
import pytest

from backend.server.validation import MAX_DEPTH, PAGE_MAX
from tests.server.httputil import assert_error, sse_events

# JSON can spell a lone UTF-16 surrogate; it is not a Unicode character, so the API refuses it.
LONE = "\\ud800"


def post_raw(http: httpx.Client, path: str, text: str, method: str = "POST") -> httpx.Response:
    """Send `text` as the JSON body exactly as written (json= would refuse to encode a lone surrogate)."""
    return http.request(method, path, content=text.encode(), headers={"content-type": "application/json"})


def balance(http: httpx.Client) -> int:
    return http.get("/balance").json()["token_balance"]


@pytest.mark.parametrize("stream", ["false", "true"])
def test_a_lone_surrogate_in_a_message_is_refused_and_not_charged(http, stream):
    before = balance(http)
    body = (
        f'{{"model": "gpt-5", "stream": {stream}, "messages": [{{"role": "user", "content": "a{LONE}b"}}]}}'
    )
    problem = assert_error(post_raw(http, "/generate", body), 422, "validation_error")
    assert list(problem["details"]) == ["messages[0].content"]
    assert "lone UTF-16 surrogate (\\ud800 at character 1)" in problem["details"]["messages[0].content"]
    assert balance(http) == before
    # A surrogate pair is one character, and welcome.
    fine = '{"model": "gpt-5", "messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}'
    assert post_raw(http, "/generate", fine).json()["content"].endswith("You said: \U0001f600")


@pytest.mark.parametrize("field", ["name", "instructions", "description", "model"])
def test_a_lone_surrogate_in_an_assistant_field_is_refused(http, field):
    fields = {"name": '"Bot"', "model": '"gpt-5"', field: f'"x{LONE}"'}
    body = "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"
    problem = assert_error(post_raw(http, "/assistants", body), 422, "validation_error")
    assert list(problem["details"]) == [field]
    assert http.get("/assistants").json()["total"] == 0
    created = http.post("/assistants", json={"name": "Bot", "model": "gpt-5"}).json()
    changed = post_raw(http, f"/assistants/{created['id']}", f'{{"{field}": "y{LONE}"}}', method="PUT")
    assert list(assert_error(changed, 422, "validation_error")["details"]) == [field]
    assert http.get(f"/assistants/{created['id']}").json() == created


def test_a_lone_surrogate_in_a_field_name_is_refused(http):
    problem = assert_error(
        post_raw(http, "/assistants", f'{{"name": "B", "model": "gpt-5", "x{LONE}": 1}}'),
        422,
        "validation_error",
    )
    assert "The name of this field" in next(iter(problem["details"].values()))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_json_nested_deeply_is_a_400(http, depth):
    before = balance(http)
    body = '{"model": "gpt-5", "messages": ' + "[" * depth + "]" * depth + "}"
    problem = assert_error(post_raw(http, "/generate", body), 400, "bad_request")
    assert problem["message"].startswith("The body is nested too deeply")
    assert problem["details"] == {"max_depth": MAX_DEPTH}
    assert balance(http) == before


@pytest.mark.parametrize("path", ["/assistants", "/assistants/marketplace"])
@pytest.mark.parametrize("page", [PAGE_MAX + 1, 2**63, 10**30])
def test_a_page_beyond_the_bound_names_the_page(http, path, page):
    problem = assert_error(http.get(path, params={"page": page}), 422, "validation_error")
    assert problem["details"] == {"page": f"Page must be a whole number from 1 to {PAGE_MAX}."}
    assert http.get(path, params={"page": PAGE_MAX}).json()["items"] == []


@pytest.mark.parametrize("role", [[], {}, 1, None, True])
def test_a_role_that_is_not_a_string_names_the_role(http, role):
    before = balance(http)
    response = http.post("/generate", json={"model": "gpt-5", "messages": [{"role": role, "content": "hi"}]})
    problem = assert_error(response, 422, "validation_error")
    assert problem["details"] == {"messages[0].role": "Role must be system, user or assistant."}
    assert balance(http) == before


@pytest.mark.parametrize("system", [5, 1.5, ["x"], {"a": 1}, True])
def test_a_system_that_is_not_a_string_names_the_system(http, system):
    response = http.post(
        "/generate",
        json={"model": "gpt-5", "system": system, "messages": [{"role": "user", "content": "hi"}]},
    )
    problem = assert_error(response, 422, "validation_error")
    assert problem["details"] == {"system": "System must be a string."}


def test_a_refused_stream_is_a_plain_error_not_a_cut_stream(http):
    body = f'{{"model": "gpt-5", "stream": true, "messages": [{{"role": "user", "content": "{LONE}"}}]}}'
    with http.stream(
        "POST", "/generate", content=body.encode(), headers={"content-type": "application/json"}
    ) as response:
        response.read()
    assert response.status_code == 422 and response.headers["content-type"] == "application/json"
    assert not list(sse_events(response))


def test_max_tokens_written_as_a_float_with_no_fraction_is_a_whole_number(http):
    """JSON has one kind of number, and the schema's `integer` admits 3.0; the fuzz test found this."""
    answer = http.post(
        "/generate",
        json={"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3.0},
    )
    assert answer.status_code == 200 and answer.json()["usage"]["completion_tokens"] == 3
    problem = assert_error(
        http.post(
            "/generate",
            json={"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3.5},
        ),
        422,
        "validation_error",
    )
    assert list(problem["details"]) == ["max_tokens"]
