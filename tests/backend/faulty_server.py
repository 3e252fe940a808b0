"""Real misbehaving HTTP servers on loopback sockets, for faults a well-behaved server never produces."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

Behaviour = Callable[["FaultyServer", socket.socket], None]


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sse(payload: dict | str) -> bytes:
    """One Server-Sent Event."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


class FaultyServer:
    """Accepts connections, reads each request in full, counts it, then does what `behaviour` says."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.peer_closed = threading.Event()  # set when a client hangs up while we wait for it
        self.stopping = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/api/v2"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FaultyServer:
        self._accepting.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            request = read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            self.behaviour(self, conn)

    def wait_for_hang_up(self, conn: socket.socket) -> None:
        """Block until the client closes its end (or the server stops)."""
        conn.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                if conn.recv(1024) == b"":
                    self.peer_closed.set()
                    return
            except TimeoutError:
                continue
            except OSError:
                self.peer_closed.set()
                return


def read_request(conn: socket.socket) -> bytes | None:
    """The whole request (head and Content-Length body), or None if the client left first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


# --- Behaviours ------------------------------------------------------------------------------------------


def hang_up(server: FaultyServer, conn: socket.socket) -> None:
    """Read the request, then close without a word: the client cannot know if it was acted on."""


def never_answer(server: FaultyServer, conn: socket.socket) -> None:
    """Read the request and say nothing until the server stops."""
    server.stopping.wait()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
    b"cache-control: no-store\r\n\r\n"
)


def stream_then_cut(events: Iterable[bytes]) -> Behaviour:
    """Start a chunked event stream, send `events`, then drop the connection mid-body."""

    def behave(server: FaultyServer, conn: socket.socket) -> None:
        conn.sendall(_SSE_HEAD + b"".join(_chunk(event) for event in events))

    return behave


def stream_then_wait(events: Iterable[bytes]) -> Behaviour:
    """Start an event stream, send `events`, then hold the connection open until the client leaves."""

    def behave(server: FaultyServer, conn: socket.socket) -> None:
        conn.sendall(_SSE_HEAD + b"".join(_chunk(event) for event in events))
        server.wait_for_hang_up(conn)

    return behave


def hold_silent(server: FaultyServer, conn: socket.socket) -> None:
    """Read the request and say nothing until the client hangs up (or the server stops)."""
    server.wait_for_hang_up(conn)


def bearer_of(request: bytes) -> str:
    """The key in a raw request's `Authorization: Bearer` header."""
    for line in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"authorization":
            return value.strip().decode().partition(" ")[2]
    return ""


def echo_key(status: int, render: Callable[[str], str], content_type: str = "application/json") -> Behaviour:
    """Answer `status` with a body that `render` makes from the caller's own key, as a careless server might."""

    def behave(server: FaultyServer, conn: socket.socket) -> None:
        body = render(bearer_of(server.requests[-1])).encode()
        head = f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        conn.sendall(head.encode() + b"connection: close\r\n\r\n" + body)

    return behave
