"""What the Playground offers to pick from: the models and their prices, my assistants, the marketplace,
and the account's balance. Filled by the Playground's refresh; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio import pricing
from studio.picker import BLANK, PickerKey

#: The model a request falls back to when the server lists none: the cheapest of the docs' price list.
DEFAULT_MODEL = "gpt-5-nano"
BLANK_LABEL = "Blank assistant (type instructions)"
OWN_MODEL_LABEL = "The assistant's own model"


@dataclass
class Choices:
    """The pickers' options, refreshed whenever the Playground is opened."""

    models: dict[str, int] = field(default_factory=dict)  # slug -> token cost, in the server's order
    mine: dict[str, str] = field(default_factory=dict)  # picker key -> label
    market: dict[str, dict[str, Any]] = field(default_factory=dict)  # picker key -> marketplace item
    balance: int | None = None
    engine_ready: bool = False
    engines: dict[str, Any] = field(default_factory=dict)  # the local server's report; {} elsewhere
    problem: str = ""  # why a list could not be loaded

    @property
    def default_model(self) -> str:
        return next(iter(self.models), DEFAULT_MODEL)

    def add_mine(self, assistant_id: str, name: str, model: str) -> str:
        key = str(PickerKey.mine(assistant_id))
        self.mine[key] = f"{name} · {model}"
        return key

    def add_market(self, item: dict[str, Any]) -> str:
        key = str(PickerKey.market(item.get("id") or item.get("name") or ""))
        self.market[key] = item
        return key

    def picker_choices(self) -> list[tuple[str, str]]:
        """(label, key) for the assistant picker: blank, then mine, then the marketplace."""
        choices = [(BLANK_LABEL, str(BLANK))]
        choices += [(label, key) for key, label in self.mine.items()]
        choices += [(f"Marketplace · {item.get('name', '')}", key) for key, item in self.market.items()]
        return choices

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, slug) for the model override, each with its price; "" keeps the assistant's model."""
        return [(OWN_MODEL_LABEL, ""), *((pricing.model_label(s, c), s) for s, c in self.models.items())]

    def price(self, model: str) -> str:
        """What one request to `model` costs, in words."""
        cost = self.models.get(model)
        return pricing.tokens(cost) if cost is not None else "an unknown number of tokens"

    def engine_for(self, model: str) -> dict[str, Any] | None:
        """The local server's engine that answers `model`, from its report; None elsewhere."""
        engines = [e for e in self.engines.get("engines") or [] if isinstance(e, dict)]
        if not engines:
            return None
        routes = self.engines.get("routes") if isinstance(self.engines.get("routes"), dict) else {}
        name = routes.get(model, routes.get("*"))
        return next((e for e in engines if e.get("engine") == name), engines[0])
