"""An engine that forwards to any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM, ...)."""

from __future__ import annotations

import contextlib
import functools
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from backend.errors import redact
from backend.server.engines.base import (
    Delta,
    EngineEvent,
    EngineFailed,
    EngineRequest,
    EngineStatus,
    EngineUnavailable,
    Finished,
)
from backend.settings import Settings


def _shut(sock: socket.socket) -> None:
    """Wake a thread blocked reading `sock`: closing alone would leave it waiting for the peer."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _upstream_message(response: httpx.Response) -> str:
    """The error text of an upstream answer, whatever its shape (the caller cleans and shortens it)."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text.strip()
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if error:
            return str(body.get("message") or error)
        return str(body.get("message") or body.get("detail") or body)
    return str(body)


class OpenAICompatEngine:
    """POSTs the conversation to {base_url}/chat/completions with stream=true and relays the deltas."""

    name = "openai"

    def __init__(
        self,
        base_url: str | None,
        *,
        api_key: str | None = None,
        model: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.model = model
        self._api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # A new connection per request: cancelling shuts its socket, which a pooled one would outlive.
        limits = httpx.Limits(max_keepalive_connections=0)
        self._client = httpx.Client(timeout=timeout, headers=headers, limits=limits)

    def _clean(self, text: str) -> str:
        """Upstream text without the endpoint's key (an upstream may echo it, whatever its shape).

        Cleaned before it is shortened, so a key cut in two by the shortening cannot slip through.
        """
        if self._api_key and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "***")
        return redact(text)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatEngine:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return cls(
            settings.openai_base_url,
            api_key=key,
            model=settings.openai_model,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )

    def status(self) -> EngineStatus:
        if not self.base_url:
            return EngineStatus(
                self.name, "unavailable", "Set STUDIO_OPENAI_BASE_URL to an OpenAI-compatible endpoint."
            )
        return EngineStatus(self.name, "ready", self.base_url)

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        """Stream the upstream answer; stop reading (closing the connection) once cancelled."""
        if not self.base_url:
            raise EngineUnavailable("No OpenAI-compatible endpoint is set: set STUDIO_OPENAI_BASE_URL.")
        payload: dict[str, Any] = {
            "model": self.model or request.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": request.temperature,
        }
        if request.max_tokens is not None:
            payload["max_tokens"] = request.max_tokens
        url = f"{self.base_url}/chat/completions"
        usage: dict[str, Any] | None = None
        pieces = 0

        def on_connected(event: str, info: dict[str, Any]) -> None:
            # httpcore's trace hook hands over each new connection: cancelling shuts its socket, which
            # wakes this thread at once even while the upstream says nothing (before or after its headers).
            if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                stream = info.get("return_value")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if sock is not None:
                    request.on_cancel(functools.partial(_shut, sock))

        try:
            with connect_sse(
                self._client, "POST", url, json=payload, extensions={"trace": on_connected}
            ) as source:
                response = source.response
                if response.status_code >= 400:
                    response.read()
                    raise EngineFailed(
                        f"The OpenAI-compatible endpoint answered {response.status_code}: "
                        f"{self._clean(_upstream_message(response))[:200]}"
                    )
                for event in source.iter_sse():
                    if request.cancelled.is_set():
                        return
                    if event.data.strip() == "[DONE]":
                        break
                    chunk = json.loads(event.data)
                    if chunk.get("error"):
                        raise EngineFailed(
                            f"The OpenAI-compatible endpoint failed: {self._clean(str(chunk['error']))[:200]}"
                        )
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            pieces += 1
                            yield Delta(text=text)
        except (httpx.HTTPError, SSEError, ValueError) as exc:
            if request.cancelled.is_set():
                return  # the socket was shut on purpose: the caller left
            raise self._failure(exc) from exc
        if usage:
            prompt, completion = (
                int(usage.get("prompt_tokens") or 0),
                int(usage.get("completion_tokens") or 0),
            )
        else:
            # Rough counts when the endpoint does not report usage: words in, pieces out.
            prompt = sum(len(m.get("content", "").split()) for m in request.messages)
            completion = pieces
        yield Finished(prompt_tokens=prompt, completion_tokens=completion)

    def _failure(self, exc: Exception) -> Exception:
        """The engine error for a failed exchange with the endpoint."""
        if isinstance(exc, httpx.ConnectError):
            return EngineUnavailable(
                f"Cannot reach the OpenAI-compatible endpoint at {self.base_url}: "
                "start it or fix STUDIO_OPENAI_BASE_URL"
            )
        if isinstance(exc, httpx.TimeoutException):
            return EngineFailed(f"The OpenAI-compatible endpoint at {self.base_url} did not answer in time.")
        return EngineFailed(f"The OpenAI-compatible endpoint sent a broken answer ({type(exc).__name__}).")

    def close(self) -> None:
        self._client.close()
