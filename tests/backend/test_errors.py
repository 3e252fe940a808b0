"""Every error the contract names arrives as its typed error, with a next step and without the key."""

from __future__ import annotations

import httpx
import pytest

from backend import errors
from backend.client import AssistantsClient

BASE = "http://api.test/api/v2"
KEY = "nb_errortestkey0123456789abc"

# (status, code, extra body, expected class, words the message for a person must contain)
CODES = [
    (400, "bad_request", {}, errors.BadRequestError, "report"),
    (401, "not_authenticated", {}, errors.AuthenticationError, "STUDIO_API_KEY"),
    (401, "token_expired", {}, errors.AuthenticationError, "expired"),
    (402, "insufficient_tokens", {}, errors.InsufficientTokensError, "Top up"),
    (403, "insufficient_plan", {}, errors.PermissionDeniedError, "upgrade"),
    (404, "not_found", {}, errors.NotFoundError, "refresh"),
    (422, "validation_error", {"details": {"name": "must not be empty"}}, errors.ValidationError, "name"),
    (429, "rate_limit_exceeded", {"retry_after": 120, "plan": "VIP"}, errors.RateLimitError, "120 seconds"),
    (500, "provider_error", {}, errors.ProviderError, "nothing was charged"),
    (503, "model_unavailable", {}, errors.ModelUnavailableError, "another model"),
]


@pytest.mark.parametrize(("status", "code", "extra", "expected", "words"), CODES)
def test_each_error_code_is_its_typed_error(status, code, extra, expected, words):
    body = {"error": code, "message": f"Refused for key {KEY}.", **extra}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    transport = httpx.MockTransport(handler)
    client = AssistantsClient(BASE, KEY, transport=transport, max_retries=0)
    with client, pytest.raises(expected) as caught:
        client.assistants.create(name="Bot", model="gpt-5-nano")
    error = caught.value
    assert error.status_code == status and error.code == code
    assert words in error.user_message
    assert KEY not in error.user_message and KEY not in str(error)
    assert isinstance(error, errors.APIStatusError | errors.AssistantsError)


def test_an_error_status_with_an_html_body_still_maps_by_status():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"})

    client = AssistantsClient(BASE, KEY, transport=httpx.MockTransport(handler), max_retries=0)
    with client, pytest.raises(errors.ProviderError) as caught:
        client.balance()
    assert caught.value.status_code == 502


def test_validation_errors_name_their_fields():
    body = {
        "error": "validation_error",
        "message": "Some fields are not valid.",
        "details": {"fields": {"model": "unknown model"}},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json=body)

    client = AssistantsClient(BASE, KEY, transport=httpx.MockTransport(handler))
    with client, pytest.raises(errors.ValidationError) as caught:
        client.assistants.create(name="Bot", model="nope")
    assert caught.value.field_errors == {"model": "unknown model"}
