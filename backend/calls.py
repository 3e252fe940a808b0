"""The API's calls: each names one request and how to read its answer, shared by both clients. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict, Unpack

from pydantic import TypeAdapter

from backend._base import Call, Flow, require_id
from backend.errors import NotFoundError, ProviderError, UnexpectedResponseError
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


#: The most pages list_all() asks for (100,000 assistants at 100 a page); a server offering more is wrong.
MAX_PAGES = 1000


def list_all_assistants(limit: int = 100) -> Flow[list[Assistant]]:
    """Every assistant, page after page, as long as pages bring assistants not seen yet (a server that
    ignores `page` sends the first again) and at most MAX_PAGES pages, whatever `pages` the server claims."""
    found: list[Assistant] = []
    seen: set[str] = set()
    page = 1
    while True:
        result: Page[Assistant] = yield list_assistants(page, limit)
        new = [item for item in result.items if item.id not in seen]
        found.extend(new)
        seen.update(item.id for item in new)
        if not new or page >= result.pages:
            return found
        if page >= MAX_PAGES:
            raise UnexpectedResponseError(
                f"The server still offered more pages of assistants after {MAX_PAGES} pages "
                f"({len(found)} assistants); stopped there."
            )
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
    return Call("POST", "/generate", _finished_generation, "a generation", body=body)


def _finished_generation(data: Any) -> Generation:
    """A completed generation; a failed one is a ProviderError, a pending one cannot be waited for."""
    generation = Generation.model_validate(data)
    if generation.status == "failed":
        said = data.get("message") or data.get("error")
        reason = f": {said}" if isinstance(said, str) and said else "."
        # The docs never charge a failure; say so only when the answer confirms it.
        body = {"error": "provider_error"} if generation.tokens_used == 0 else {}
        raise ProviderError(f"The generation {generation.id} failed{reason}", status_code=200, body=body)
    if generation.status == "pending":
        error = UnexpectedResponseError(
            f"The server answered with the generation {generation.id} still pending, "
            "and the Assistants API has no way to fetch it later."
        )
        error.hint = "It may still be charged: check your balance before trying again."
        raise error
    return generation


def _message(message: Message | dict[str, Any]) -> Message:
    return message if isinstance(message, Message) else Message.model_validate(message)
