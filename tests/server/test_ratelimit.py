"""Rate limits: rolling windows (with a hand-moved clock) and the 429 answer and headers over HTTP."""

from __future__ import annotations

import pytest

from backend.server.embedded import EmbeddedServer
from backend.server.ratelimit import PLAN_LIMITS, RateLimiter
from tests.conftest import make_settings
from tests.server.httputil import api, assert_error

HELLO = [{"role": "user", "content": "hi"}]
HEADERS = [
    "x-ratelimit-limit-hour",
    "x-ratelimit-remaining-hour",
    "x-ratelimit-limit-day",
    "x-ratelimit-remaining-day",
    "x-ratelimit-reset-hour",
]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_hour_window_rolls():
    clock = Clock()
    limiter = RateLimiter("Starter", 2, 10, clock=clock)
    assert limiter.hit("k") is None
    clock.now += 600
    assert limiter.hit("k") is None
    refused = limiter.hit("k")
    assert refused is not None and refused.window == "hour" and refused.retry_after == 3000
    assert limiter.hit("other") is None  # counted per key
    clock.now += 3000
    assert limiter.hit("k") is None  # the first hit left the window
    assert limiter.headers("k")["X-RateLimit-Remaining-Hour"] == "0"
    assert limiter.headers("k")["X-RateLimit-Remaining-Day"] == "7"


def test_the_day_window():
    clock = Clock()
    limiter = RateLimiter("Basic", None, 2, clock=clock)
    assert limiter.hit("k") is None and limiter.hit("k") is None
    refused = limiter.hit("k")
    assert refused.window == "day" and refused.retry_after == 86400
    headers = limiter.headers("k")
    assert headers["X-RateLimit-Limit-Hour"] == "unlimited" and headers["X-RateLimit-Limit-Day"] == "2"
    clock.now += 86400
    assert limiter.hit("k") is None


def test_plan_limits_follow_the_docs():
    assert PLAN_LIMITS == {
        "Starter": (5, 20),
        "Basic": (30, 200),
        "Pro": (60, 500),
        "VIP": (100, 1000),
        "Elite": (None, None),
    }


def test_a_full_window_answers_429_with_retry_after(tmp_path):
    with EmbeddedServer(make_settings(tmp_path, local_rate_limit_hour=2)) as server, api(server) as http:
        first = http.post("/generate", json={"model": "gpt-5", "messages": HELLO})
        assert (
            first.headers["x-ratelimit-limit-hour"] == "2"
            and first.headers["x-ratelimit-remaining-hour"] == "1"
        )
        assert http.post("/generate", json={"model": "gpt-5", "messages": HELLO}).status_code == 200
        before = http.get("/balance").json()["token_balance"]
        refused = http.post("/generate", json={"model": "gpt-5", "messages": HELLO, "stream": True})
        body = assert_error(refused, 429, "rate_limit_exceeded")
        assert (
            3500 <= body["retry_after"] <= 3600 and int(refused.headers["retry-after"]) == body["retry_after"]
        )
        assert body["plan"] == "Elite" and body["limit_hour"] == 2 and body["limit_day"] is None
        assert refused.headers["x-ratelimit-remaining-hour"] == "0"
        assert http.get("/balance").json()["token_balance"] == before
        # Only /generate is counted; reading goes on.
        assert http.get("/assistants").status_code == 200


def test_vip_headers_on_every_answer(tmp_path):
    with EmbeddedServer(make_settings(tmp_path, local_plan="VIP")) as server, api(server) as http:
        for response in (http.get("/health"), http.get("/nowhere"), http.post("/assistants", json={})):
            assert all(name in response.headers for name in HEADERS), response.headers
            assert response.headers["x-ratelimit-limit-hour"] == "100"
            assert response.headers["x-ratelimit-limit-day"] == "1000"
            assert int(response.headers["x-ratelimit-reset-hour"]) > 1_700_000_000
        http.post("/generate", json={"model": "gpt-5", "messages": HELLO})
        assert http.get("/health").headers["x-ratelimit-remaining-day"] == "999"


@pytest.mark.parametrize("plan", ["Starter", "Elite"])
def test_headers_even_on_refusals(tmp_path, plan):
    with (
        EmbeddedServer(make_settings(tmp_path, local_plan=plan)) as server,
        api(server, headers={"Authorization": "x"}) as http,
    ):
        response = http.get("/balance")
        assert response.status_code == 401
        assert all(name in response.headers for name in HEADERS)
