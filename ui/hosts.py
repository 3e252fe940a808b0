"""Which host names the studio answers to: a guard against DNS rebinding.

A web page the user visits can make its own name resolve to 127.0.0.1 and then call the studio as if it
were the same site, with the user's balance behind it. Such a request still carries the page's name in
its `Host` header, so the studio answers only to the names it is served as, as Jupyter and Vite do:

- any IP address (a page served from an address is that address: it cannot be another site's),
- `localhost` and names under `.localhost`,
- the `--host` given, when it is a name,
- the names added with `--allow-host` or STUDIO_ALLOWED_HOSTS (`.example.com` for all names under it,
  `*` for any name, e.g. behind a reverse proxy that checks names itself),
- and the host of the studio's own `--share` link, once Gradio has made it.

Every other request is refused with 403 and a page that says which option lets it in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ANY = "*"
_NAME_SHOWN_MAX = 80


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port, lower case: `[::1]:7860` -> `::1`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class AllowedHosts:
    """The names the studio is served as; `allows(name)` says whether a request's Host is one of them."""

    def __init__(self, server_name: str, extra: Iterable[str] = ()) -> None:
        names = {host_name(name) for name in extra if name.strip()}
        self.any = ANY in names
        self.suffixes = {name for name in names if name.startswith(".")}
        self.names = {name for name in names - self.suffixes if name != ANY}
        server = host_name(server_name)
        if server and not _is_address(server):  # 0.0.0.0 and :: are addresses: every address is allowed
            self.names.add(server)

    def allows(self, name: str, share_host: str | None = None) -> bool:
        if self.any or _is_address(name):
            return True
        if name == "localhost" or name.endswith(".localhost"):
            return True
        if name in self.names or name == share_host:
            return True
        return any(name.endswith(suffix) or name == suffix[1:] for suffix in self.suffixes)


def _share_host(scope: Scope) -> str | None:
    """The host of the studio's --share link, if Gradio has made one (the tunnel keeps the link's Host)."""
    app: Any = scope.get("app")
    blocks = getattr(app, "blocks", None)
    url = getattr(blocks, "share_url", None)
    if not url:
        return None
    return host_name(url.split("://", 1)[-1].split("/", 1)[0])


def refusal(name: str) -> str:
    """The page a refused request gets: what happened and which option lets the name in."""
    shown = "".join(c for c in name if c.isprintable())[:_NAME_SHOWN_MAX] or "(none)"
    return (
        f"Blocked: this studio does not answer to the host name {shown!r}.\n\n"
        "It answers to localhost, to IP addresses and to the names it was started with. A web page can\n"
        "give its own name this machine's address to reach the studio (DNS rebinding); this check stops it.\n\n"
        f"If you reach the studio as {shown!r} on purpose (a name on your network, a reverse proxy),\n"
        f"start it with --allow-host {shown} (or set STUDIO_ALLOWED_HOSTS={shown}).\n"
    )


class HostCheck:
    """ASGI middleware refusing (403) any HTTP or WebSocket request whose Host is not an allowed name."""

    def __init__(self, app: ASGIApp, allowed: AllowedHosts) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        name = host_name(Headers(scope=scope).get("host", ""))
        if name and self.allowed.allows(name, _share_host(scope)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
            return
        await PlainTextResponse(refusal(name), status_code=403)(scope, receive, send)


def host_check(server_name: str, extra: Iterable[str] = ()) -> Middleware:
    """The middleware for launch(app_kwargs={"middleware": [...]}): Gradio hands it to its FastAPI app."""
    return Middleware(HostCheck, allowed=AllowedHosts(server_name, extra))
