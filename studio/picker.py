"""What the Playground's assistant picker holds: a key per choice, parsed in this one place.

A key is "blank", "mine:<assistant id>" or "market:<item id or name>"; the same text is what an API
caller of the studio passes to `/open_assistant`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from studio.errors import StudioError

PickerKind = Literal["blank", "mine", "market"]
_PREFIXED: tuple[PickerKind, ...] = ("mine", "market")


class PickerKeyError(StudioError):
    """Text that is not a key of the picker; the message says what to do."""


@dataclass(frozen=True)
class PickerKey:
    kind: PickerKind
    ident: str = ""

    @classmethod
    def parse(cls, text: str | None) -> PickerKey:
        """The key in `text`; empty text is the blank assistant."""
        value = (text or "").strip()
        if not value or value == "blank":
            return BLANK
        kind, sep, ident = value.partition(":")
        if sep and kind in _PREFIXED and ident.strip():
            return cls(kind, ident.strip())  # type: ignore[arg-type]
        raise PickerKeyError(f"“{value}” is not an assistant of the picker: choose one from the list.")

    @classmethod
    def mine(cls, assistant_id: str) -> PickerKey:
        return cls("mine", assistant_id)

    @classmethod
    def market(cls, ident: str) -> PickerKey:
        return cls("market", ident)

    def __str__(self) -> str:
        return self.kind if self.kind == "blank" else f"{self.kind}:{self.ident}"


BLANK = PickerKey("blank")
