"""Serves what a benchmark measures, in its own process: the local server alone, or the studio as app.py runs it.

`python -m bench.runner server|studio --data-dir D [--port P] [--engine echo|llama] [--echo-delay-ms X]
[--marketplace N]` prints one JSON line, {"api": <the local server's base URL>}, once the local server
answers; the studio then launches on --port exactly as app.py's serve() does, and the bench polls its page.
The local server's key is in <data-dir>/data/api_key. Runs until terminated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from backend.client import AsyncAssistantsClient
from backend.server.embedded import EmbeddedServer
from backend.settings import Settings, describe_server
from bench.market_items import make_items


class ServerTiming:
    """ASGI middleware adding `Server-Timing: app;dur=<ms>`: the time the whole server took to answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    (b"server-timing", f"app;dur={took:.3f}".encode()),
                ]
            await send(message)

        await self.app(scope, receive, timed_send)


def settings_for(data_dir: Path, engine: str, delay_ms: float) -> Settings:
    """The settings app.py would read with STUDIO_DATA_DIR, STUDIO_ENGINES and STUDIO_ECHO_DELAY_MS set."""
    return Settings(_env_file=None, data_dir=data_dir, engines={"*": engine}, echo_delay_ms=delay_ms)


def start_server(args: argparse.Namespace) -> EmbeddedServer:
    """The embedded local server, with the engine and marketplace asked for."""
    settings = settings_for(args.data_dir / "data", args.engine, args.echo_delay_ms)
    items = make_items(args.marketplace) if args.marketplace else None
    server = EmbeddedServer(settings, marketplace=items)
    if args.mode == "server":
        server.app.add_middleware(ServerTiming)
    return server.start()


def serve_studio(server: EmbeddedServer, port: int, *, store: bool = True) -> None:
    """What app.py's serve() does, on the connection open_connection() would make for this server.

    `store=False`: the same studio without its store (no history, no generation log), to measure their cost.
    """
    from app import studio_context
    from backend.connection import Connection
    from ui.app import configure_queue, create_app, launch_kwargs

    key = SecretStr(server.api_key)
    client = AsyncAssistantsClient.from_settings(server.settings, base_url=server.base_url, api_key=key)
    label = describe_server(server.base_url)
    connection = Connection(client, server, label, server.base_url, server.settings, key)
    ctx = studio_context(connection)
    if not store:
        ctx.store.close()
        ctx = replace(ctx, store=None)
    blocks = configure_queue(create_app(ctx))
    blocks.launch(**launch_kwargs(host="127.0.0.1", port=port, share=False, auth=None))


def watch_parent(max_seconds: float) -> None:
    """Exit when the benchmark closes our stdin (it ended or died), or after `max_seconds` at most."""

    def wait_for_eof() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    timer = threading.Timer(max_seconds, lambda: os._exit(0))
    timer.daemon = True
    timer.start()


def main() -> None:
    """Start, announce the local server's URL, then serve until terminated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["server", "studio"])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--engine", default="echo", choices=["echo", "llama"])
    parser.add_argument("--echo-delay-ms", type=float, default=0.0)
    parser.add_argument("--marketplace", type=int, default=0, help="serve this many generated items")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long at most")
    parser.add_argument("--no-store", action="store_true", help="the studio without its store")
    args = parser.parse_args()
    watch_parent(args.max_seconds)
    server = start_server(args)
    print(json.dumps({"api": server.base_url}), flush=True)
    if args.mode == "studio":
        serve_studio(server, args.port, store=not args.no_store)
    else:
        threading.Event().wait(args.max_seconds)


if __name__ == "__main__":
    main()
