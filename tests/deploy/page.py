"""A browser tab of the studio, over plain HTTP: what Gradio 6's page asks for, in the order it asks.

The page loads `/` and `/config`, holds `/gradio_api/heartbeat/<session>` open while it is open, sends each
event with `POST /gradio_api/queue/join` and reads what happens on `GET /gradio_api/queue/data` (Server-Sent
Events), uploads files to `/gradio_api/upload` and downloads them from `/gradio_api/file=`. Inputs are
given by their components' labels; the others keep the page's values, and state is the session's. Cookies
are kept as a browser keeps them (httpx's cookie jar), so nginx's affinity cookie comes back on every
request, the heartbeat's included.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

AFFINITY = "studio_affinity"


class PageError(RuntimeError):
    """An event ended in an error, or its stream ended without its result."""


class Page:
    """One tab: its session, its cookies, and the events it sends."""

    def __init__(self, url: str, host: str, *, cookies: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(base_url=url, headers={"Host": host}, cookies=cookies, timeout=60.0)
        self.session = uuid.uuid4().hex[:11]
        self.components: dict[int, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self._heartbeat: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def affinity(self) -> str:
        """The affinity cookie nginx gave this browser ("" before its first answer)."""
        return self.http.cookies.get(AFFINITY) or ""

    def open(self) -> Page:
        """Load the page and its configuration, and start the heartbeat, as the page's script does."""
        self.http.get("/").raise_for_status()
        config = self.http.get("/config").raise_for_status().json()
        self.components = {c["id"]: c for c in config["components"]}
        self.events = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        self._heartbeat = threading.Thread(target=self._beat, daemon=True)
        self._heartbeat.start()
        return self

    def _beat(self) -> None:
        """Hold the heartbeat open until the tab closes (a socket of its own, so closing is immediate)."""
        address = httpx.URL(str(self.http.base_url))
        cookies = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        request = (
            f"GET /gradio_api/heartbeat/{self.session} HTTP/1.1\r\nHost: {self.http.headers['Host']}\r\n"
            f"Cookie: {cookies}\r\nAccept: text/event-stream\r\n\r\n"
        )
        try:
            with socket.create_connection((address.host, address.port or 80), timeout=5) as sock:
                sock.sendall(request.encode())
                sock.settimeout(0.1)
                while not self._closed.is_set():
                    try:
                        if not sock.recv(4096):
                            return
                    except TimeoutError:
                        continue
        except OSError:  # the process or nginx went away: a browser would reconnect, this tab just stops
            return

    def close(self) -> None:
        """Close the tab: the heartbeat ends (the process then forgets the session) and the connections go."""
        self._closed.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        self.http.close()

    def __enter__(self) -> Page:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- Events ---------------------------------------------------------------------------------------

    def inputs(self, api: str, values: dict[str, Any]) -> list[Any]:
        """The event's inputs: the given values by label, the page's current values for the rest."""
        event = self.events[api]
        labels = {self.components[i]["props"].get("label") for i in event["inputs"]}
        if unknown := set(values) - labels:
            raise KeyError(f"{api} has no input labelled {sorted(unknown)}")
        data = []
        for component_id in event["inputs"]:
            component = self.components[component_id]
            label = component["props"].get("label")
            default = None if component["type"] == "state" else component["props"].get("value")
            data.append(values.get(label, default))
        return data

    def join(self, api: str, **values: Any) -> str:
        """Send an event (by its API name), as a click does; returns its event id."""
        body = {
            "data": self.inputs(api, values),
            "fn_index": self.events[api]["id"],
            "session_hash": self.session,
            "event_data": None,
            "trigger_id": None,
        }
        return str(self.http.post("/gradio_api/queue/join", json=body).raise_for_status().json()["event_id"])

    def messages(self) -> Iterator[dict[str, Any]]:
        """The session's event stream, message by message, until the process closes it."""
        params = {"session_hash": self.session}
        with self.http.stream("GET", "/gradio_api/queue/data", params=params) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                yield message
                if message.get("msg") == "close_stream":
                    return

    def call(self, api: str, **values: Any) -> list[Any]:
        """Send an event and read the stream until it completes; returns its outputs."""
        event_id = self.join(api, **values)
        for message in self.messages():
            if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                return completed(message)
        raise PageError(f"the stream closed before {api} completed")

    # --- Files ----------------------------------------------------------------------------------------

    def upload(self, name: str, content: bytes) -> dict[str, Any]:
        """Upload a file as a file input does; returns the value to give that input."""
        response = self.http.post(
            "/gradio_api/upload",
            params={"upload_id": uuid.uuid4().hex[:11]},
            files={"files": (name, content)},
        )
        path = response.raise_for_status().json()[0]
        return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def download(self, file: dict[str, Any]) -> tuple[str, bytes]:
        """Fetch a file output by its link; returns the link's host and the bytes."""
        link = urlsplit(file["url"])
        target = link.path + (f"?{link.query}" if link.query else "")
        return link.netloc, self.http.get(target).raise_for_status().content


def completed(message: dict[str, Any]) -> list[Any]:
    """The outputs of a `process_completed` message; PageError if the event failed."""
    if not message.get("success", False):
        raise PageError(f"the event failed: {json.dumps(message.get('output'))[:500]}")
    return list(message["output"]["data"])


def chat_text(outputs: list[Any]) -> str:
    """The last answer's text in a chat event's outputs (the chatbot comes first)."""
    messages = outputs[0]
    return "".join(part.get("text", "") for part in messages[-1]["content"])
