"""The local Assistants API: create_app(settings) builds the FastAPI app, every route under /api/v2."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import Scope

from backend.errors import quantity, redact
from backend.schemas import Assistant, Balance, Deleted, Generation, MarketplaceItem, ModelInfo, Page
from backend.server.auth import ApiError, Gate, error_response
from backend.server.catalog import MODELS, Marketplace
from backend.server.engines import EngineRouter, build_engines
from backend.server.engines.base import EngineRequest, EngineUnavailable
from backend.server.openapi import (
    AssistantChanges,
    CategoryCount,
    GenerateBody,
    Health,
    NewAssistant,
    ServerInfo,
    described,
    install,
)
from backend.server.ratelimit import RateLimiter
from backend.server.sse import KEEPALIVE_SECONDS, GenerationResponse, Job
from backend.server.store import Store
from backend.server.unexpected import CatchUnexpected, unexpected_response
from backend.server.validation import (
    PAGE_MAX,
    check_assistant,
    check_generate,
    invalid,
    read_object,
    unknown_model,
)
from backend.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "/api/v2"
_QUERY_MESSAGES = {
    "page": f"Page must be a whole number from 1 to {PAGE_MAX}.",
    "limit": "Limit must be a whole number from 1 to 100.",
}
_STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "insufficient_plan", 404: "not_found"}


# --- Errors ---------------------------------------------------------------------------------------------


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method some route answers at this path (Starlette's 405 names only the first route's)."""
    allowed = {"OPTIONS"}
    for method in _METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in app.router.routes):
            allowed.add(method)
    return sorted(allowed)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    where = redact(f"{request.method} {request.url.path}")
    if exc.status_code == 404:
        return error_response(404, "not_found", f"Nothing here: {where}.")
    if exc.status_code == 405:
        allow = {"Allow": ", ".join(allowed_methods(request.app, request.scope))}
        if request.method == "OPTIONS":  # the path exists: OPTIONS answers with what it allows
            return Response(status_code=204, headers=allow)
        return error_response(405, "method_not_allowed", f"Method not allowed: {where}.", headers=allow)
    code = _STATUS_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "provider_error")
    return error_response(exc.status_code, code, redact(str(exc.detail)), headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems: dict[str, str] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return error_response(400, "bad_request", "The body is not valid JSON.")
        where = [
            str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body", "header")
        ]
        field = ".".join(where) or "request"
        problems[field] = _QUERY_MESSAGES.get(field, str(error.get("msg", "Not valid.")))
    return invalid(problems).response()


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # The last resort, for a failure in the gate itself; everything inside it is CatchUnexpected's.
    log.error("Unexpected failure answering %s %s", request.method, redact(request.url.path), exc_info=exc)
    return unexpected_response()


# --- The app --------------------------------------------------------------------------------------------


def create_app(
    settings: Settings,
    *,
    engines: EngineRouter | None = None,
    marketplace: list[dict] | None = None,
    keepalive: float = KEEPALIVE_SECONDS,
) -> FastAPI:
    """The local server's app; its API key is in `app.state.api_key`, its storage in `app.state.store`.

    `keepalive`: seconds of silence after which a waiting stream gets an SSE comment.
    """
    store = Store(settings.data_dir, initial_balance=settings.local_balance, plan=settings.local_plan)
    router = engines if engines is not None else build_engines(settings)
    market = Marketplace(marketplace) if marketplace is not None else Marketplace.from_file()
    limiter = RateLimiter.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await anyio.to_thread.run_sync(router.close)
        await anyio.to_thread.run_sync(store.close)

    app = FastAPI(
        title="Assistant Studio local server",
        description="The Assistants API, served locally.",
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{PREFIX}/openapi.json",  # behind the key like everything else
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.engines = router
    app.state.marketplace = market
    app.state.limiter = limiter
    app.state.api_key = store.default_key()
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(CatchUnexpected)  # inside the gate, so its 500s carry the rate-limit headers
    app.add_middleware(
        Gate, store=store, limiter=limiter, plan=settings.local_plan, generate_path=f"{PREFIX}/generate"
    )
    app.include_router(_routes(store, router, market, keepalive))
    install(app)
    return app


def _assistant(row: dict[str, Any]) -> dict[str, Any]:
    body = Assistant(**row).model_dump()
    return {"id": body.pop("id"), **body}


def _page(items: list[dict[str, Any]], total: int, page: int, limit: int) -> dict[str, Any]:
    return {
        "items": items,
        "total": total,
        "page": page,
        "limit": limit,
        "pages": max(1, math.ceil(total / limit)),
    }


def _routes(store: Store, engines: EngineRouter, market: Marketplace, keepalive: float) -> APIRouter:
    api = APIRouter(prefix=PREFIX)

    async def find(assistant_id: str) -> dict[str, Any]:
        row = await run_in_threadpool(store.get_assistant, assistant_id)
        if row is None:
            raise ApiError(404, "not_found", f"No assistant with id {assistant_id!r}.", {"id": assistant_id})
        return row

    @api.get("/health", **described(Health))
    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    # The marketplace routes come before /assistants/{assistant_id}, which would otherwise capture them.
    @api.get("/assistants/marketplace", **described(Page[MarketplaceItem], 422))
    async def marketplace(
        category: str | None = None,
        q: str | None = None,
        page: int = Query(1, ge=1, le=PAGE_MAX),
        limit: int = Query(20, ge=1, le=100),
    ) -> Response:
        return JSONResponse(market.search(category=category, q=q, page=page, limit=limit))

    @api.get("/assistants/marketplace/categories", **described(list[CategoryCount]))
    async def marketplace_categories() -> Response:
        return JSONResponse(market.categories())

    @api.post("/assistants", **described(Assistant, 400, 422, body=NewAssistant))
    async def create_assistant(request: Request) -> Response:
        fields = check_assistant(await read_object(request), partial=False)
        row = await run_in_threadpool(store.create_assistant, fields)
        return JSONResponse(_assistant(row))

    @api.get("/assistants", **described(Page[Assistant], 422))
    async def list_assistants(
        page: int = Query(1, ge=1, le=PAGE_MAX), limit: int = Query(20, ge=1, le=100)
    ) -> Response:
        rows, total = await run_in_threadpool(lambda: store.list_assistants(page=page, limit=limit))
        return JSONResponse(_page([_assistant(r) for r in rows], total, page, limit))

    @api.get("/assistants/{assistant_id}", **described(Assistant, 404))
    async def get_assistant(assistant_id: str) -> Response:
        return JSONResponse(_assistant(await find(assistant_id)))

    @api.put("/assistants/{assistant_id}", **described(Assistant, 400, 404, 422, body=AssistantChanges))
    async def update_assistant(assistant_id: str, request: Request) -> Response:
        await find(assistant_id)
        changes = check_assistant(await read_object(request), partial=True)
        row = await run_in_threadpool(store.update_assistant, assistant_id, changes)
        if row is None:  # deleted meanwhile
            raise ApiError(404, "not_found", f"No assistant with id {assistant_id!r}.", {"id": assistant_id})
        return JSONResponse(_assistant(row))

    @api.delete("/assistants/{assistant_id}", **described(Deleted, 404))
    async def delete_assistant(assistant_id: str) -> Response:
        if not await run_in_threadpool(store.delete_assistant, assistant_id):
            raise ApiError(404, "not_found", f"No assistant with id {assistant_id!r}.", {"id": assistant_id})
        return JSONResponse(Deleted(id=assistant_id, deleted=True).model_dump())

    @api.get("/models", **described(list[ModelInfo]))
    async def list_models() -> Response:
        return JSONResponse([model.model_dump() for model in MODELS.values()])

    @api.get("/models/{slug}", **described(ModelInfo, 404))
    async def get_model(slug: str) -> Response:
        model = MODELS.get(slug)
        if model is None:
            raise ApiError(
                404, "not_found", f"No model {slug!r}. GET /models lists them all.", {"slug": slug}
            )
        return JSONResponse(model.model_dump())

    @api.get("/balance", **described(Balance))
    async def balance() -> Response:
        return JSONResponse(Balance(**await run_in_threadpool(store.balance)).model_dump())

    @api.get("/engines", **described(ServerInfo))
    async def describe_engines() -> Response:
        return JSONResponse(await run_in_threadpool(engines.describe))

    @api.post(
        "/generate", **described(Generation, 400, 402, 404, 422, 429, 503, body=GenerateBody, stream=True)
    )
    async def generate(request: Request) -> Response:
        ask = check_generate(await read_object(request))
        assistant = await find(ask["assistant_id"]) if ask.get("assistant_id") else None
        slug = ask.get("model") or (assistant or {}).get("model")
        model = MODELS.get(slug or "")
        if model is None:  # the contract: 404 for an unknown model (creating an assistant with one is a 422)
            raise ApiError(404, "not_found", unknown_model(slug), {"model": slug})
        messages: list[dict[str, str]] = []
        if assistant and assistant["instructions"]:
            messages.append({"role": "system", "content": assistant["instructions"]})
        if ask.get("system"):
            messages.append({"role": "system", "content": ask["system"]})
        messages += [{"role": m["role"], "content": m["content"]} for m in ask["messages"]]
        try:
            engine = await run_in_threadpool(engines.for_model, model.slug)
            status = await run_in_threadpool(engine.status)
        except EngineUnavailable as exc:
            raise ApiError(503, "model_unavailable", redact(str(exc)), {"model": model.slug}) from None
        if status.state == "unavailable":
            message = redact(status.detail) or f"The {engine.name} engine is unavailable."
            raise ApiError(503, "model_unavailable", message, {"engine": engine.name, "model": model.slug})
        temperature = ask.get("temperature")
        job = Job(
            store=store,
            engine=engine,
            request=EngineRequest(
                model=model.slug,
                messages=messages,
                temperature=0.7 if temperature is None else float(temperature),
                max_tokens=ask.get("max_tokens"),
            ),
            cost=model.token_cost,
            assistant_id=assistant["id"] if assistant else None,
        )
        if not await run_in_threadpool(job.reserve):
            have = (await run_in_threadpool(store.balance))["token_balance"]
            raise ApiError(
                402,
                "insufficient_tokens",
                f"{model.slug} costs {quantity(model.token_cost, 'token')} per request; the balance is {have}.",
                {"required": model.token_cost, "balance": have},
            )
        return GenerationResponse(job, stream=bool(ask.get("stream")), keepalive=keepalive)

    return api
