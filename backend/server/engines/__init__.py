"""Which engine serves which model slug: the router, and the engines it makes (lazily, one per name)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from backend.server.engines.base import Engine, EngineEvent, EngineRequest, EngineStatus, EngineUnavailable
from backend.settings import Settings

log = logging.getLogger(__name__)

LOCAL_EXTRA_HINT = "Install the local model runtime: pip install -e '.[local]'"


class MissingEngine:
    """Stands in for an engine that cannot be made (its runtime is not installed): always unavailable."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def status(self) -> EngineStatus:
        return EngineStatus(self.name, "unavailable", self.reason)

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        raise EngineUnavailable(self.reason)

    def close(self) -> None:
        """Nothing to free."""


def make_engine(name: str, settings: Settings) -> Engine:
    """The engine called `name`, configured from `settings`; never loads a model."""
    if name == "echo":
        from backend.server.engines.echo import EchoEngine

        return EchoEngine.from_settings(settings)
    if name == "openai":
        from backend.server.engines.openai_compat import OpenAICompatEngine

        return OpenAICompatEngine.from_settings(settings)
    if name == "llama":
        try:
            from backend.server.engines.llama import LlamaEngine

            return LlamaEngine.from_settings(settings)
        except ImportError as exc:
            log.warning("The llama engine cannot be loaded: %s", exc)
            return MissingEngine("llama", f"The local model is not installed ({exc}). {LOCAL_EXTRA_HINT}")
        except EngineUnavailable as exc:
            return MissingEngine("llama", str(exc))
        except Exception as exc:  # a broken engine must not take the whole server down
            log.exception("The llama engine could not be set up.")
            return MissingEngine(
                "llama", f"The local model could not be set up ({type(exc).__name__}: {exc})."
            )
    return MissingEngine(name, f"There is no engine called {name!r}; use llama, openai or echo.")


class EngineRouter:
    """Maps a model slug to its engine through `routes` ("*" is the default)."""

    def __init__(
        self,
        routes: dict[str, str],
        engines: dict[str, Engine] | None = None,
        *,
        factory: Callable[[str], Engine] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self._engines: dict[str, Engine] = dict(engines or {})
        self._factory = factory
        self._lock = threading.Lock()

    def engine_name(self, slug: str) -> str | None:
        return self.routes.get(slug, self.routes.get("*"))

    def get(self, name: str) -> Engine:
        """The engine called `name`, made on first use."""
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                if self._factory is None:
                    raise EngineUnavailable(f"The engine {name!r} is not set up on this server.")
                engine = self._engines[name] = self._factory(name)
            return engine

    def for_model(self, slug: str) -> Engine:
        """The engine that serves `slug`."""
        name = self.engine_name(slug)
        if name is None:
            raise EngineUnavailable(f"No engine serves {slug!r}: add it (or '*') to STUDIO_ENGINES.")
        return self.get(name)

    def describe(self, slugs: list[str] | None = None) -> dict[str, Any]:
        """Each engine's state and the models it serves, and the routes."""
        from backend.server.catalog import MODELS

        known = list(slugs if slugs is not None else MODELS)
        known += [slug for slug in self.routes if slug != "*" and slug not in known]
        served: dict[str, list[str]] = {}
        for slug in known:
            name = self.engine_name(slug)
            if name is not None:
                served.setdefault(name, []).append(slug)
        names = list(dict.fromkeys([*self.routes.values(), *self._engines]))
        engines = []
        for name in names:
            try:
                status = self.get(name).status()
            except EngineUnavailable as exc:
                status = EngineStatus(name, "unavailable", str(exc))
            engines.append(
                {
                    "engine": name,
                    "state": status.state,
                    "detail": status.detail,
                    "models": served.get(name, []),
                }
            )
        return {"engines": engines, "routes": dict(self.routes)}

    def close(self) -> None:
        """Free every engine made so far."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            try:
                engine.close()
            except Exception:  # one engine failing to close must not keep the others open
                log.exception("Closing an engine failed.")


def build_engines(settings: Settings) -> EngineRouter:
    """The router for `settings.engines`; engines are made when first needed."""
    return EngineRouter(dict(settings.engines), factory=lambda name: make_engine(name, settings))
