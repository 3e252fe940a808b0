"""What the sync and async clients share: configuration, reading answers, naming failures. No I/O here."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError

from backend.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AssistantsError,
    UnexpectedResponseError,
    describe_text,
    error_from_response,
    snippet,
)
from backend.retries import Delivery, Retrying, parse_retry_after
from backend.settings import Settings

T = TypeVar("T")

try:
    VERSION = version("assistant-studio")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0"
USER_AGENT = f"assistant-studio/{VERSION}"

# Room for 100 concurrent streams plus the ordinary calls made while they run.
POOL_LIMITS = httpx.Limits(max_connections=128, max_keepalive_connections=32)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: what to send, and how to read the answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    expects: str  # what the answer should be, for error messages: "an assistant"
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    empty: Callable[[], T] | None = None  # the result of a 204 or an empty body
    gone: Callable[[], T] | None = None  # the result of a 404 once an earlier attempt may have done it


#: A call that needs several requests (paging, fallbacks): yields Calls, receives results, returns T.
Flow = Generator[Call[Any], Any, T]


class BaseClient:
    """Configuration shared by both clients; the subclasses only add the sending."""

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_retries: int = 2,
        retry_max_wait: float = 20.0,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        if not base_url or not base_url.strip():
            raise ValueError("base_url is required, e.g. https://neuralbox.top/api/v2")
        self.base_url = base_url.strip().rstrip("/")
        # Held as SecretStr so that vars(), repr() and tracebacks never show it.
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.retry_max_wait = retry_max_wait
        self._jitter = jitter or random.random
        self._server = server_name(self.base_url)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Self:
        """A client configured from settings; keyword overrides win (e.g. base_url=, api_key=, transport=)."""
        options: dict[str, Any] = {
            "base_url": settings.base_url,
            "api_key": settings.api_key,
            "connect_timeout": settings.connect_timeout,
            "read_timeout": settings.read_timeout,
            "max_retries": settings.max_retries,
            "retry_max_wait": settings.retry_max_wait,
        }
        options.update(overrides)
        if options["base_url"] is None:
            raise ValueError(
                "No base URL: set STUDIO_BASE_URL, or use open_connection() for the local server."
            )
        return cls(**options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _http_options(self) -> dict[str, Any]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self._api_key is not None and self._api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        return {
            "base_url": self.base_url,
            "headers": headers,
            "timeout": httpx.Timeout(self.read_timeout, connect=self.connect_timeout),
            "limits": POOL_LIMITS,
        }

    def _retrying(self, call: Call[Any]) -> Retrying:
        return Retrying(call.method, self.max_retries, self.retry_max_wait, self._jitter)

    def _hide(self, error: AssistantsError) -> AssistantsError:
        """`error` without this client's own key in it, whatever the key's shape."""
        return error.hide(self._api_key.get_secret_value() if self._api_key is not None else None)

    def _after_failure(self, tries: Retrying, exc: httpx.HTTPError | AssistantsError) -> float:
        """The wait before sending again after `exc`; raises the typed error (key hidden) when there is none."""
        error: AssistantsError
        if isinstance(exc, httpx.TransportError):
            error, delivery = connection_failure(exc, self._server, self.read_timeout)
        elif isinstance(exc, APIStatusError):
            error, delivery = exc, Delivery.MAYBE_RECEIVED
        elif isinstance(exc, httpx.HTTPError):  # a broken compression, endless redirects: the same again
            error, delivery = unreadable(exc, self._server), Delivery.FATAL
        else:  # an answer that is not the contract would be the same again
            error, delivery = exc, Delivery.FATAL
        wait = tries.wait_before_retry(error, delivery)
        if wait is None:
            raise self._hide(error) from (exc if error is not exc else None)
        return wait


def server_name(base_url: str) -> str:
    """The server as a person would name it: host and port, never any credentials in the URL."""
    parts = urlsplit(base_url)
    if not parts.hostname:
        return base_url
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def require_id(value: str, what: str = "assistant_id") -> str:
    """The id, quoted for a path; an empty one is a caller's bug, caught before any I/O."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


# --- Reading answers -------------------------------------------------------------------------------------


def read_response(call: Call[T], response: httpx.Response, *, maybe_received: bool = False) -> T:
    """The parsed result of a finished response, or the typed error it stands for."""
    if response.status_code == 404 and call.gone is not None and maybe_received:
        return call.gone()  # an earlier attempt did it before its answer was lost
    if not response.is_success:
        raise status_error(response)
    if call.empty is not None and (response.status_code == 204 or not response.content.strip()):
        return call.empty()
    try:
        data = response.json()
    except ValueError:
        raise UnexpectedResponseError(
            f"Expected {call.expects} from {server_name(str(response.url))}, but received {describe_body(response)}."
        ) from None
    try:
        return call.parse(data)
    except (PydanticValidationError, TypeError, ValueError, KeyError):
        raise UnexpectedResponseError(
            f"Expected {call.expects} from {server_name(str(response.url))}, "
            f"but received JSON of another shape: {snippet(response.text)!r}."
        ) from None


def status_error(response: httpx.Response) -> AssistantsError:
    """The typed error for a response that is not a success (its body already read)."""
    if response.is_redirect:
        return UnexpectedResponseError(
            f"{server_name(str(response.url))} redirected to {response.headers.get('location', 'another address')}."
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    seconds = parse_retry_after(response.headers.get("retry-after"))
    # Pass on the parsed seconds, so an HTTP-date Retry-After still tells the person how long to wait.
    return error_from_response(
        response.status_code,
        body,
        None if seconds is None else f"{seconds:g}",
        server=server_name(str(response.url)),
        text=response.text,
        content_type=response.headers.get("content-type", ""),
    )


def stream_failure(response: httpx.Response) -> AssistantsError:
    """Why a stream request cannot be read as events (its body already read)."""
    if not response.is_success:
        return status_error(response)
    return UnexpectedResponseError(
        f"Expected a stream of events from {server_name(str(response.url))}, but received {describe_body(response)}."
    )


def is_event_stream(response: httpx.Response) -> bool:
    """True for a 2xx answer that is Server-Sent Events."""
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    return response.is_success and content_type == "text/event-stream"


def describe_body(response: httpx.Response) -> str:
    """What a non-JSON body is, for a person: 'an HTML page ("<!doctype html>...")'."""
    if not response.text.strip():
        return f"an empty answer (status {response.status_code})"
    return describe_text(response.text, response.headers.get("content-type", ""))


def unreadable(exc: httpx.HTTPError, server: str) -> UnexpectedResponseError:
    """The error for an answer httpx could not read (a broken compression, endless redirects)."""
    return UnexpectedResponseError(f"The answer from {server} could not be read ({type(exc).__name__}).")


def connection_failure(
    exc: httpx.TransportError, server: str, read_timeout: float
) -> tuple[AssistantsError, Delivery]:
    """The typed error for a transport failure, and how far the request got."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return APIConnectionError(
            f"The address of {server} is not an http:// or https:// URL."
        ), Delivery.FATAL
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return APITimeoutError(f"Timed out connecting to the server at {server}."), Delivery.NOT_SENT
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return APIConnectionError(f"Could not connect to the server at {server}."), Delivery.NOT_SENT
    if isinstance(exc, httpx.TimeoutException):
        return (
            APITimeoutError(f"The server at {server} did not answer within {read_timeout:g} seconds."),
            Delivery.MAYBE_RECEIVED,
        )
    return (
        APIConnectionError(f"The connection to {server} dropped before the answer was complete."),
        Delivery.MAYBE_RECEIVED,
    )
