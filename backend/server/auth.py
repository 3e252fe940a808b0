"""The gate every request passes before any route (key, plan, rate limit), and the one error body shape.

The gate is plain ASGI middleware rather than a dependency so that it also covers unknown paths and
the OpenAPI schema, and so that it can put the X-RateLimit-* headers on every answer, errors included.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import quantity, redact
from backend.schemas import ErrorBody
from backend.server.ratelimit import RateLimiter
from backend.server.store import Store

# Plans whose keys may use the API at all (the docs).
API_PLANS = frozenset({"VIP", "Elite"})


class ApiError(Exception):
    """An error answer: raised anywhere in a route, written as {"error", "message", "details"}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers
        self.extra = extra

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.code, self.message, self.details, headers=self.headers, **self.extra
        )


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The contract's error body, with any extra top-level fields (429's retry_after, plan, limits)."""
    # Redacted: a caller may have put a key where an id or a model belongs, and it would be echoed.
    clean = {
        name: redact(value) if isinstance(value, str) else value for name, value in (details or {}).items()
    }
    body = ErrorBody(error=code, message=redact(message), details=clean, **extra)
    content = body.model_dump(include={"error", "message", "details", *extra})
    return JSONResponse(content, status_code=status, headers=headers)


def bearer_token(headers: Headers) -> str | None:
    """The key in `Authorization: Bearer <key>`, or None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def key_id(key: str) -> str:
    """What the rate limiter counts by, so the key itself is not kept around as a dict key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class Gate:
    """Refuses callers without a valid key or a plan with API access; counts and limits /generate."""

    def __init__(
        self, app: ASGIApp, *, store: Store, limiter: RateLimiter, plan: str, generate_path: str
    ) -> None:
        self.app = app
        self.store = store
        self.limiter = limiter
        self.plan = plan
        self.generate_path = generate_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = bearer_token(Headers(scope=scope))
        verdict = self.store.check_key(key)
        caller = key_id(key) if key and verdict == "ok" else None

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.limiter.headers(caller).items():
                    headers[name] = value
            await send(message)

        refusal = self._refuse(scope, verdict, caller)
        if refusal is not None:
            await refusal(scope, receive, send_with_limits)
            return
        await self.app(scope, receive, send_with_limits)

    def _refuse(self, scope: Scope, verdict: str, caller: str | None) -> JSONResponse | None:
        if verdict == "expired":
            return error_response(
                401, "token_expired", "The API key has expired.", headers={"WWW-Authenticate": "Bearer"}
            )
        if caller is None:
            return error_response(
                401,
                "not_authenticated",
                "Missing or unknown API key: send it as 'Authorization: Bearer <key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if self.plan not in API_PLANS:
            return error_response(
                403,
                "insufficient_plan",
                f"API access needs the VIP or Elite plan; this account is on {self.plan}.",
                # Which of this server's settings decides it, so that a client can say what to change.
                {"plan": self.plan, "required": sorted(API_PLANS), "setting": "STUDIO_LOCAL_PLAN"},
            )
        path = scope["path"].rstrip("/")
        if scope["method"] == "POST" and path == self.generate_path:
            refused = self.limiter.hit(caller)
            if refused is not None:
                limit = self.limiter.limit_hour if refused.window == "hour" else self.limiter.limit_day
                # When to try again is in retry_after and Retry-After, for the client to word once.
                return error_response(
                    429,
                    "rate_limit_exceeded",
                    f"Rate limit reached: {quantity(limit or 0, 'request')} per {refused.window} "
                    f"on the {self.plan} plan.",
                    {
                        "window": refused.window,
                        "retry_after": refused.retry_after,
                        "setting": f"STUDIO_LOCAL_RATE_LIMIT_{refused.window.upper()}",
                    },
                    headers={"Retry-After": str(refused.retry_after)},
                    retry_after=refused.retry_after,
                    plan=self.plan,
                    limit_hour=self.limiter.limit_hour,
                    limit_day=self.limiter.limit_day,
                )
        return None
