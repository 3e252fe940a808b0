"""A header on every answer of the studio: its pages show images only from the studio itself.

The chat and every other view prepare text so that no image can form (ui/chat_display.py); this is the
browser's own check behind that: an image whose address is elsewhere, whatever made it, is not fetched, so
a prompt-injected answer cannot send a conversation away in an image's address.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = "img-src 'self' data: blob:"


class ImagesFromHere:
    """ASGI middleware adding `Content-Security-Policy: img-src 'self' data: blob:` to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = POLICY
            await send(message)

        await self.app(scope, receive, send_with_policy)


def images_from_here() -> Middleware:
    """The middleware for launch(app_kwargs={"middleware": [...]})."""
    return Middleware(ImagesFromHere)
