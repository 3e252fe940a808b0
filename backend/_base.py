"""What the sync and async clients share: building requests, reading answers, naming failures. No I/O here."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Generic, Self, TypedDict, TypeVar, Unpack
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from backend.errors import (
    APIConnectionError,
    APITimeoutError,
    AssistantsError,
    NotFoundError,
    UnexpectedResponseError,
    error_from_response,
)
from backend.retries import Delivery, Retrying, parse_retry_after
from backend.schemas import (
    Assistant,
    Balance,
    Deleted,
    GenerateRequest,
    Generation,
    MarketplaceItem,
    Message,
    ModelInfo,
    Page,
)
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
    header = response.headers.get("retry-after")
    seconds = parse_retry_after(header)
    # Pass on the parsed seconds, so an HTTP-date Retry-After still tells the person how long to wait.
    return error_from_response(response.status_code, body, None if seconds is None else f"{seconds:g}")


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
    text = response.text
    if not text.strip():
        return f"an empty answer (status {response.status_code})"
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if "html" in content_type or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        kind = "an HTML page"
    elif content_type:
        kind = f"{content_type} that is not JSON"
    else:
        kind = "text that is not JSON"
    return f"{kind} ({snippet(text)!r})"


def snippet(text: str, limit: int = 80) -> str:
    """The first characters of a body on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


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


# --- The calls -------------------------------------------------------------------------------------------

_assistant_page = TypeAdapter(Page[Assistant])
_market_page = TypeAdapter(Page[MarketplaceItem])
_model_list = TypeAdapter(list[ModelInfo])


def _set(**values: Any) -> dict[str, Any]:
    """Only the fields that are set: the API reads an absent field as 'unchanged' or 'default'."""
    return {key: value for key, value in values.items() if value is not None}


def _list_of(data: Any, *keys: str) -> list[Any]:
    """A list from a bare list or from the first of `keys` in an object; servers differ."""
    if isinstance(data, list):
        return data
    for key in keys:
        if isinstance(data, dict) and isinstance(data.get(key), list):
            return data[key]
    raise ValueError("not a list")


def _dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def list_assistants(page: int = 1, limit: int = 100) -> Call[Page[Assistant]]:
    return Call(
        "GET",
        "/assistants",
        _assistant_page.validate_python,
        "a page of assistants",
        {"page": page, "limit": limit},
    )


def list_all_assistants(limit: int = 100) -> Flow[list[Assistant]]:
    """Every assistant, page after page."""
    found: list[Assistant] = []
    page = 1
    while True:
        result: Page[Assistant] = yield list_assistants(page, limit)
        found.extend(result.items)
        if not result.items or page >= result.pages:
            return found
        page += 1


def get_assistant(assistant_id: str) -> Call[Assistant]:
    return Call("GET", f"/assistants/{require_id(assistant_id)}", Assistant.model_validate, "an assistant")


def create_assistant(name: str, model: str, instructions: str, description: str) -> Call[Assistant]:
    body = {"name": name, "model": model, "instructions": instructions, "description": description}
    return Call("POST", "/assistants", Assistant.model_validate, "an assistant", body=body)


def update_assistant(assistant_id: str, **fields: str | None) -> Call[Assistant]:
    path = f"/assistants/{require_id(assistant_id)}"
    return Call("PUT", path, Assistant.model_validate, "an assistant", body=_set(**fields))


def delete_assistant(assistant_id: str) -> Call[Deleted]:
    path = f"/assistants/{require_id(assistant_id)}"
    done = lambda: Deleted(id=assistant_id)  # noqa: E731
    return Call(
        "DELETE",
        path,
        lambda data: Deleted.model_validate({"id": assistant_id, **_dict(data)}),
        "a deletion receipt",
        empty=done,
        gone=done,
    )


def list_marketplace(
    category: str | None, q: str | None, page: int, limit: int
) -> Call[Page[MarketplaceItem]]:
    params = _set(category=category, q=q, page=page, limit=limit)
    return Call(
        "GET", "/assistants/marketplace", _market_page.validate_python, "a page of the marketplace", params
    )


def _category_names(data: Any) -> list[str]:
    return [
        entry if isinstance(entry, str) else str(_dict(entry)["category"])
        for entry in _list_of(data, "items")
    ]


def marketplace_categories() -> Flow[list[str]]:
    """The marketplace's categories; a server without the local extension gets them from a page."""
    try:
        return (
            yield Call("GET", "/assistants/marketplace/categories", _category_names, "a list of categories")
        )
    except NotFoundError:
        page: Page[MarketplaceItem] = yield list_marketplace(None, None, 1, 100)
        return sorted({item.category for item in page.items if item.category})


def list_models() -> Call[list[ModelInfo]]:
    return Call(
        "GET",
        "/models",
        lambda data: _model_list.validate_python(_list_of(data, "items", "models", "data")),
        "a list of models",
    )


def get_model(slug: str) -> Call[ModelInfo]:
    return Call("GET", f"/models/{require_id(slug, 'slug')}", ModelInfo.model_validate, "a model")


def get_balance() -> Call[Balance]:
    return Call("GET", "/balance", Balance.model_validate, "a balance")


def server_info() -> Flow[dict[str, Any]]:
    """The local server's engines and routes; the real service has no such route, so {} there."""
    try:
        return (yield Call("GET", "/engines", _dict, "a description of the server"))
    except NotFoundError:
        return {}


class GenerateOptions(TypedDict, total=False):
    """The optional fields of `POST /generate`; only those given are sent."""

    assistant_id: str | None
    model: str | None
    temperature: float | None
    max_tokens: int | None
    system: str | None


def generate(
    messages: Iterable[Message | dict[str, Any]], *, stream: bool = False, **options: Unpack[GenerateOptions]
) -> Call[Generation]:
    """`POST /generate`; with stream=True the same call is opened as a stream of events."""
    unknown = set(options) - set(GenerateOptions.__annotations__)
    if unknown:  # a misspelt option would otherwise be sent and silently ignored
        raise TypeError(f"generate() got unexpected options: {', '.join(sorted(unknown))}")
    request = GenerateRequest(messages=[_message(m) for m in messages], **_set(**options))
    body = request.model_dump(mode="json", exclude_none=True, exclude={"stream"})
    if stream:
        body["stream"] = True
    return Call("POST", "/generate", Generation.model_validate, "a generation", body=body)


def _message(message: Message | dict[str, Any]) -> Message:
    return message if isinstance(message, Message) else Message.model_validate(message)
