"""EmbeddedServer: the local Assistants API on a loopback port, served by uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from backend.server.app import PREFIX, create_app
from backend.server.engines import EngineRouter
from backend.server.sse import KEEPALIVE_SECONDS
from backend.settings import Settings

START_TIMEOUT = 30.0


class ServerStartError(RuntimeError):
    """The local server could not start; the message says why."""


def url_host(host: str) -> str:
    """The host as it goes in a URL: any-address binds are reached through loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0 picks a free port); raises OSError when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP matters: asyncio turns Nagle's algorithm off only on TCP-typed sockets, and without
    # that every small answer (and every SSE event) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class EmbeddedServer:
    """Runs the local server in this process; the model is not loaded until the first generation."""

    def __init__(
        self,
        settings: Settings,
        *,
        engines: EngineRouter | None = None,
        marketplace: list[dict] | None = None,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.settings = settings
        self.app: FastAPI = create_app(
            settings, engines=engines, marketplace=marketplace, keepalive=keepalive
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    @property
    def api_key(self) -> str:
        return self.app.state.api_key

    @property
    def engines(self) -> EngineRouter:
        return self.app.state.engines

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise ServerStartError("The local server is not started: call start() first.")
        return f"http://{url_host(self.settings.local_host)}:{self.port}{PREFIX}"

    def start(self) -> EmbeddedServer:
        """Bind the port, serve in a daemon thread, and return once the server answers."""
        if self._thread is not None:
            return self
        if self.app.state.store.closed:  # stop() closed the database with the app
            raise ServerStartError("This local server was stopped; start a new EmbeddedServer instead.")
        host, port = self.settings.local_host, self.settings.local_port
        try:
            sock = bind_socket(host, port)
        except OSError as exc:
            raise ServerStartError(
                f"The local server cannot listen on {host}:{port} ({exc.strerror or exc}): "
                "set STUDIO_LOCAL_PORT to a free port, or 0 to pick one."
            ) from exc
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            log_config=None,  # the host application's logging stays as it configured it
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="local-assistants-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerStartError("The local server did not start; see the log above for the cause.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving, free the engines (and so the model) and close the database."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=15)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.port = None
        self.app.state.engines.close()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
