"""The served OpenAPI schema describes every body, answer and error; OPTIONS and 405 say every method."""

from __future__ import annotations

import pytest

from tests.server.httputil import assert_error

PREFIX = "/api/v2"
ERROR = {"$ref": "#/components/schemas/ErrorAnswer"}
RATE_HEADERS = {
    "X-RateLimit-Limit-Hour",
    "X-RateLimit-Remaining-Hour",
    "X-RateLimit-Limit-Day",
    "X-RateLimit-Remaining-Day",
    "X-RateLimit-Reset-Hour",
}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/assistants", "GET, OPTIONS, POST"),
        ("/assistants/asst_1", "DELETE, GET, OPTIONS, PUT"),
        ("/generate", "OPTIONS, POST"),
        ("/balance", "GET, OPTIONS"),
        ("/openapi.json", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_and_405_list_every_method_of_the_path(http, path, methods):
    options = http.options(path)
    assert options.status_code == 204 and options.headers["allow"] == methods
    assert set(options.headers) >= {name.lower() for name in RATE_HEADERS}
    refused = http.request("PATCH", path)
    assert_error(refused, 405, "method_not_allowed")
    assert refused.headers["allow"] == methods


def test_options_of_a_path_that_does_not_exist_is_a_404(http):
    assert_error(http.options("/nothing"), 404, "not_found")


def test_the_schema_describes_every_body_answer_and_error(http):
    schema = http.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert schema["security"] == [{"bearer": []}]
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(components)
    operations = [(m, p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]
    assert len(operations) == 13
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        answer = responses["200"]["content"]["application/json"]["schema"]
        assert answer, f"{where} does not describe its answer"
        assert {"401", "403", "500"} <= set(responses), where
        for status, response in responses.items():
            assert set(response["headers"]) >= RATE_HEADERS, (where, status)
            if status != "200":
                assert response["content"]["application/json"]["schema"] == ERROR, (where, status)
        if method in ("post", "put"):
            body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert body.rsplit("/", 1)[1] in components, where
    generate = schema["paths"][f"{PREFIX}/generate"]["post"]
    assert {"400", "402", "404", "422", "429", "503"} <= set(generate["responses"])
    assert "text/event-stream" in generate["responses"]["200"]["content"]
    assert "Retry-After" in generate["responses"]["429"]["headers"]
    new = components["NewAssistant"]
    assert set(new["required"]) == {"name", "model"} and "gpt-5-nano" in new["properties"]["model"]["enum"]
    assert [branch["required"] for branch in components["GenerateBody"]["anyOf"]] == [
        ["model"],
        ["assistant_id"],
    ]
    assert set(components["ErrorAnswer"]["required"]) == {"error", "message", "details"}
