"""Unexpected failures answered as the contract's 500, without costing the caller its connection.

Starlette's own last-resort handler sits outside every middleware and re-raises after answering, so
its 500 lacked the X-RateLimit-* headers the gate adds, and the server then closed the kept-alive
connection: the caller's next request on it failed as "connection dropped" although it never arrived.
This middleware sits inside the gate and keeps the failure to itself once an answer has been sent.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import redact
from backend.server.auth import error_response

log = logging.getLogger(__name__)

UNEXPECTED = "The server failed unexpectedly; nothing was charged."


def unexpected_response() -> JSONResponse:
    return error_response(500, "provider_error", UNEXPECTED)


class CatchUnexpected:
    """Answers an unexpected exception with the contract's 500; logs it with the path, never a key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def watch(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.error(
                "Unexpected failure answering %s %s", scope["method"], redact(scope["path"]), exc_info=exc
            )
            if not started:
                await unexpected_response()(scope, receive, send)
            elif not finished:
                raise  # half an answer is out: only closing the connection tells the caller it is cut
