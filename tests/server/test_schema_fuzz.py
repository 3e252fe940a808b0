"""Property-based test of the local server, driven by its own OpenAPI schema (Schemathesis).

Schemathesis generates requests from the served schema, valid ones and ones that break it, sends them
to the real server over HTTP and checks each answer: no 5xx, the status, content type, headers and body
as the schema says, and the contract's error body on every error. Bounded: a few dozen examples per
operation, a few hundred in all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from backend.server.embedded import EmbeddedServer
from tests.conftest import make_settings

EXAMPLES_PER_OPERATION = 15
WITH_INPUT = {
    "GET /api/v2/assistants",
    "POST /api/v2/assistants",
    "PUT /api/v2/assistants/{assistant_id}",
    "GET /api/v2/assistants/marketplace",
    "POST /api/v2/generate",
}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory) -> Iterator[EmbeddedServer]:
    with EmbeddedServer(make_settings(tmp_path_factory.mktemp("fuzz"))) as server:
        yield server


@pytest.fixture(scope="module")
def served_schema(fuzzed_server):
    auth = {"Authorization": f"Bearer {fuzzed_server.api_key}"}
    config = schemathesis.Config.from_dict(
        {
            "headers": auth,
            "generation": {"max-examples": EXAMPLES_PER_OPERATION, "mode": "all", "deterministic": True},
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{fuzzed_server.base_url}/openapi.json", headers=auth, config=config
    )
    return schema


@schemathesis.check
def contract_error_body(ctx, response, case) -> bool | None:
    """Every error answer is {"error", "message", "details"}, and every answer has the rate-limit headers."""
    missing = {"x-ratelimit-limit-hour", "x-ratelimit-remaining-hour", "x-ratelimit-reset-hour"} - {
        name.lower() for name in response.headers
    }
    assert not missing, f"no {', '.join(sorted(missing))} header"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and set(body) >= {"error", "message", "details"}, body
        assert isinstance(body["error"], str) and isinstance(body["message"], str) and body["message"]
        assert isinstance(body["details"], dict) and "detail" not in body
    return None


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_server_keeps_to_its_schema(fuzzed_server, served_schema, mode):
    # One Hypothesis run per operation, driven here rather than by schemathesis.pytest, whose
    # fixture-based loader does not run under pytest 9.
    base_url = fuzzed_server.base_url.removesuffix("/api/v2")
    unbreakable: list[str] = []
    for result in served_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_described(case):
            case.call_and_validate(base_url=base_url, additional_checks=[contract_error_body], timeout=30)

        try:
            answers_as_described()
        except Unsatisfiable:
            # Nothing in this request can be made invalid (no body, no bounded parameter): a string in a
            # path is always a string. Only the negative mode meets this.
            assert mode is GenerationMode.NEGATIVE, operation.label
            unbreakable.append(operation.label)
    # Every operation with a body or a query was fuzzed with invalid input too.
    assert WITH_INPUT.isdisjoint(unbreakable), unbreakable
