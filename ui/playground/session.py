"""One browser tab's Playground, held in gr.State: the chat, Compare's columns, the pickers' choices, the
variables typed for each assistant, the conversations kept in the browser, and the last view of a stream
(for the step chained after it, which shows its error, Retry and cost)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from studio import variables
from studio.choices import Choices
from studio.compare import CompareSession
from studio.conversation import ChatSession
from studio.saved_chats import SavedChats

MAX_VARIABLES = 8  # fields shown in the form; more variables are named in a notice


@dataclass
class PlaygroundSession:
    chat: ChatSession = field(default_factory=ChatSession)
    choices: Choices = field(default_factory=Choices)
    compare: CompareSession = field(default_factory=CompareSession)
    remembered: dict[str, dict[str, str]] = field(default_factory=dict)  # assistant key -> name -> value
    fields: list[str] = field(default_factory=list)  # the variables the form's fields hold, in order
    saved: SavedChats = field(default_factory=SavedChats)
    saved_loaded: bool = False  # the browser's copy has been read into `saved`
    last_view: Any = None  # the last view a stream yielded, for the step after it
    opened_request: str = ""  # the nonce of the last request from another tab to open an assistant here
    instructions: str = ""  # the instructions box's text, as its last change reached the server
    instructions_changes: int = 0  # how many changes of the box have reached the server

    def is_new_request(self, request: dict[str, Any] | None) -> bool:
        """Whether another tab's request to open an assistant (ui.context.open_request) is seen here for the
        first time. Opening it again would start the conversation over and put back instructions the
        person has begun to edit, and Gradio can report one change of a State twice (6.31 does for a
        State inside a tab not on screen; ui.app keeps the request outside the tabs for that reason)."""
        nonce = str((request or {}).get("nonce") or "")
        if nonce and nonce == self.opened_request:
            return False
        self.opened_request = nonce
        return True

    def saw_instructions(self, text: str) -> None:
        """The instructions box changed in the page."""
        self.instructions = text
        self.instructions_changes += 1

    def newest_instructions(self, snapshot: str, since: int) -> str:
        """The box's text for a step that read `snapshot` when `since` changes had reached the server.

        A slow step (a refresh waits on the API) must not answer with the text it was given: a change that
        reached the server while it waited was typed after its snapshot was taken, so that one is newer.
        """
        return self.instructions if self.instructions_changes != since else snapshot

    def values(self) -> dict[str, str]:
        """The variables' values typed for the open assistant."""
        return self.remembered.setdefault(self.chat.assistant.key, {})

    def variable_names(self, instructions: str) -> list[str]:
        """The variables of the instructions the next message would use, in order of first appearance."""
        return variables.names(self.chat.assistant.effective_instructions(instructions))

    def set_value(self, index: int, value: str) -> None:
        """A field of the form changed: remember its value for this assistant and use it in the chat."""
        if 0 <= index < len(self.fields):
            self.values()[self.fields[index]] = value
        self.chat.variables = dict(self.values())

    def take_fields(self, copy: dict[str, Any] | None, shown: Sequence[Any]) -> dict[str, str]:
        """The fields' values as the page shows them when a message goes out; returns the form's JSON copy
        brought up to date. A field's own change reaches here a moment after it is typed, and the JSON copy
        that message handlers read comes back a moment after that: a message sent at once would carry the
        value from before, the fields themselves are current."""
        for name, value in zip(self.fields, shown, strict=False):  # the page always has MAX_VARIABLES fields
            self.values()[name] = "" if value is None else str(value)
        self.chat.variables = dict(self.values())
        return {**(copy or {}), **{name: self.values()[name] for name in self.fields}}

    def use_values(self, given: dict[str, Any] | None) -> None:
        """Values given through the API (or the form) become the chat's, remembered for this assistant."""
        if given:
            self.values().update({str(k): "" if v is None else str(v) for k, v in given.items()})
        self.chat.variables = dict(self.values())
