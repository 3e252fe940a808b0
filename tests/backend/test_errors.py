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
    (403, "insufficient_plan", {}, errors.PermissionDeniedError, "Upgrade your plan"),
    (404, "not_found", {}, errors.NotFoundError, "list them again"),
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


def _raise_for(status: int, **answer) -> errors.APIStatusError:
    client = AssistantsClient(
        BASE, KEY, transport=httpx.MockTransport(lambda _: httpx.Response(status, **answer)), max_retries=0
    )
    with client, pytest.raises(errors.APIStatusError) as caught:
        client.assistants.get("asst_1")
    return caught.value


NGINX_404 = "<html><head><title>404 Not Found</title></head><body><center>nginx</center></body></html>"


@pytest.mark.parametrize(
    ("answer", "described"),
    [
        ({"text": NGINX_404, "headers": {"content-type": "text/html"}}, "an HTML page ('<html><head>"),
        ({"json": {"detail": "Not Found"}}, "JSON that is not an API error"),
        ({"text": ""}, "an empty body"),
    ],
    ids=["html", "foreign-json", "empty"],
)
def test_a_404_that_is_not_the_apis_points_at_the_base_url(answer, described):
    error = _raise_for(404, **answer)
    assert isinstance(error, errors.NotFoundError) and error.status_code == 404
    assert error.message.startswith(f"api.test answered 404 with {described}")
    assert "deleted" not in error.user_message
    assert error.user_message.endswith(
        "Check that the base URL points at an Assistants API (it usually ends in /api/v2)."
    )


def test_the_apis_own_404_still_suggests_listing_again():
    error = _raise_for(404, json={"error": "not_found", "message": "No assistant with id 'asst_1'."})
    assert error.message == "No assistant with id 'asst_1'." and "list them again" in error.user_message


@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize(
    "answer",
    [
        {"text": "<html><body>Bad Gateway</body></html>", "headers": {"content-type": "text/html"}},
        {"json": {"error": "provider_error", "message": "The gateway gave up."}},
    ],
    ids=["html", "json"],
)
def test_a_gateway_failure_never_claims_nothing_was_charged(status, answer):
    error = _raise_for(status, **answer)
    assert isinstance(error, errors.ProviderError) and error.status_code == status
    assert "nothing was charged" not in error.user_message
    assert "may have been processed" in error.user_message and "check your balance" in error.user_message
    if "text" in answer:
        assert error.message == f"The server at api.test failed (status {status})."


def test_a_proxys_503_names_what_answered():
    error = _raise_for(503, text="<html>Service Unavailable</html>", headers={"content-type": "text/html"})
    assert isinstance(error, errors.ModelUnavailableError)
    assert error.message.startswith("api.test answered 503 with an HTML page")
    assert "retry later" in error.user_message and "another model" not in error.user_message


@pytest.mark.parametrize(
    ("details", "advice"),
    [
        ({"required": 1, "balance": 0}, "Top up your balance. Nothing was charged."),
        ({"required": 6, "balance": 0}, "Top up your balance. Nothing was charged."),
        ({"required": 1}, "Top up your balance. Nothing was charged."),
        (
            {"required": 6, "balance": 1},
            "Top up your balance, or pick a model that costs at most 1 token. Nothing was charged.",
        ),
        (
            {"required": 39, "balance": 5},
            "Top up your balance, or pick a model that costs at most 5 tokens. Nothing was charged.",
        ),
        ({}, "Top up your balance, or pick a cheaper model. Nothing was charged."),
    ],
)
def test_a_402_suggests_a_cheaper_model_only_when_one_could_help(details, advice):
    error = _raise_for(402, json={"error": "insufficient_tokens", "message": "Too poor.", "details": details})
    assert error.user_message == f"Too poor. {advice}"


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422, 429, 500, 503])
def test_no_next_step_speaks_of_the_studios_buttons(status):
    """The backend is used by scripts and the CLI too: the studio adds its own next step."""
    error = _raise_for(status, json={"error": "x", "message": "Refused."})
    for word in ("press", "button", "click", "refresh", "Retry"):
        assert word not in error.user_message
    for cls in (errors.StreamError, errors.StreamInterruptedError):
        advice = cls("Cut.").user_message
        assert advice == "Cut. Send the request again."


@pytest.mark.parametrize(
    ("count", "words"), [(1, "1 token"), (2, "2 tokens"), (0, "0 tokens"), (1.0, "1 token")]
)
def test_quantities_agree_with_their_count(count, words):
    assert errors.quantity(count, "token") == words
