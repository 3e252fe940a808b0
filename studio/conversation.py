"""One Playground conversation: who it is held with, its turns and their stats, and how a request is built
from it. No I/O.

The methods change the conversation in place, and the streaming handler and the Stop handler hold the same
object (gr.State passes it by reference): whichever of the two runs first, the turn ends up stopped with
its partial text, and a late piece of text for a stopped turn is refused rather than shown.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from backend.schemas import DEFAULT_TEMPERATURE, Assistant, MarketplaceItem
from studio import pricing, variables
from studio.errors import StudioError
from studio.picker import BLANK, PickerKey

EXPORT_FORMAT = "assistant-studio/conversation"
EXPORT_VERSION = 2  # 2 added the variables' values
BLANK_NAME = "Blank assistant"

AssistantKind = Literal["mine", "market", "template", "blank"]
TurnStatus = Literal["pending", "streaming", "done", "stopped", "failed"]
_IN_FLIGHT: tuple[TurnStatus, ...] = ("pending", "streaming")


class ChatInputError(StudioError):
    """An action that cannot be done as asked; the message says why and what to do, fit for a person."""


class ChatBusyError(ChatInputError):
    """A reply is still streaming; the action would interleave two answers."""

    def __str__(self) -> str:
        return "An answer is still streaming: wait for it to finish, or press Stop first."


@dataclass
class AssistantProfile:
    """What the conversation is held with: one of my assistants (or a version of one), a marketplace one,
    a template tried as it is, or a blank one."""

    kind: AssistantKind = "blank"
    name: str = BLANK_NAME
    model: str = ""
    instructions: str = ""  # the saved text (or the version's); the Playground's box may hold an edited copy
    assistant_id: str | None = None
    description: str = ""
    starters: list[str] = field(default_factory=list)
    key: str = str(BLANK)  # its value in the Playground's picker
    version: int | None = None  # the studio's version number of what is held, when the store knows it
    live: bool = True  # False for an older version: the API's assistant differs, so calls are portable

    @classmethod
    def from_assistant(cls, assistant: Assistant, version: int | None = None) -> AssistantProfile:
        """One of my saved assistants, as the API holds it now (`version`: its number in the store)."""
        starters = getattr(assistant, "conversation_starters", None)  # kept if copied from the marketplace
        return cls(
            kind="mine",
            name=assistant.name,
            model=assistant.model,
            instructions=assistant.instructions,
            assistant_id=assistant.id,
            description=assistant.description,
            starters=[s for s in starters or [] if isinstance(s, str) and s.strip()],
            key=str(PickerKey.mine(assistant.id)),
            version=version,
        )

    @classmethod
    def from_market_item(
        cls, item: MarketplaceItem, default_model: str, kind: AssistantKind = "market"
    ) -> AssistantProfile:
        """A marketplace assistant (or a template), tried without copying it."""
        return cls(
            kind=kind,
            name=item.name,
            model=item.model or default_model,
            instructions=item.instructions,
            assistant_id=None,
            description=item.description,
            starters=[s for s in item.conversation_starters if s.strip()],
            key=str(PickerKey.market(item.id or item.name)),
        )

    def at_version(self, number: int, fields: dict[str, str], *, live: bool) -> AssistantProfile:
        """The same assistant as it was at version `number` (`live`: that version is the API's current one)."""
        return replace(
            self,
            name=fields.get("name", self.name),
            model=fields.get("model", self.model),
            instructions=fields.get("instructions", self.instructions),
            description=fields.get("description", self.description),
            version=number,
            live=live,
        )

    def instructions_edited(self, instructions: str) -> bool:
        """Whether the box holds a change; an empty box (what an API caller sends by default) means none."""
        return bool(instructions.strip()) and instructions.strip() != self.instructions.strip()

    def effective_instructions(self, instructions: str) -> str:
        """The instructions a call uses: the box's text, or the assistant's own when the box is empty."""
        return instructions if instructions.strip() else self.instructions


@dataclass(frozen=True)
class ChatParameters:
    """What the Parameters fold holds; None means the assistant's or the model's default."""

    model: str | None = None
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = None

    @classmethod
    def from_fields(
        cls, model: str | None, temperature: float | None, max_tokens: float | None
    ) -> ChatParameters:
        """The parameters as a form gives them: empty fields (and a max tokens of 0) mean the defaults."""
        return cls(
            model=model or None,
            temperature=DEFAULT_TEMPERATURE if temperature is None else float(temperature),
            max_tokens=int(max_tokens) if max_tokens else None,
        )


@dataclass
class TurnStats:
    """How one answer went, measured around its stream."""

    model: str
    tokens_used: int = 0
    first_token_s: float | None = None
    total_s: float = 0.0
    engine: str | None = None  # which engine of the local server answered, when it says
    prompt_tokens: int | None = None  # the model's own counts, when the server gives them
    completion_tokens: int | None = None

    def footer(self) -> str:
        """E.g. "gpt-5-nano · answered by llama · 1 token · 41 in, 12 out · first token 120 ms · 1.4 s"."""
        parts = [self.model]
        if self.engine:
            parts.append(f"answered by {self.engine}")
        parts.append(pricing.tokens(self.tokens_used))
        if self.prompt_tokens is not None and self.completion_tokens is not None:
            parts.append(f"{self.prompt_tokens:,} in, {self.completion_tokens:,} out")
        if self.first_token_s is not None:
            parts.append(f"first token {self.first_token_s * 1000:.0f} ms")
        parts.append(f"{self.total_s:.1f} s")
        return " · ".join(parts)


@dataclass
class Turn:
    """A user message and the answer to it."""

    user: str
    answer: str = ""
    status: TurnStatus = "pending"
    stats: TurnStats | None = None
    error: str = ""  # why it failed, as shown to a person
    notice: str = ""  # what the wait is about (queued, model loading) until text arrives

    @property
    def in_flight(self) -> bool:
        return self.status in _IN_FLIGHT

    def append(self, delta: str) -> bool:
        """Add a piece of the answer; False once the turn was stopped, so the stream should end."""
        if not self.in_flight:
            return False
        self.status = "streaming"
        self.answer += delta
        self.notice = ""
        return True

    def halt(self, stats: TurnStats | None = None) -> None:
        """The answer ends early: the turn is stopped, keeping its text and the first stats measured."""
        if self.in_flight:
            self.status = "stopped"
            self.notice = ""
        if self.status == "stopped" and self.stats is None:
            self.stats = stats


@dataclass
class ChatSession:
    """One conversation: the assistant, the turns, and the values of the instructions' variables."""

    assistant: AssistantProfile = field(default_factory=AssistantProfile)
    turns: list[Turn] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def busy(self) -> bool:
        """Whether an answer is on its way."""
        return bool(self.turns) and self.turns[-1].in_flight

    @property
    def last_failed(self) -> bool:
        return bool(self.turns) and self.turns[-1].status == "failed"

    @property
    def title(self) -> str:
        """How a list of conversations names this one: the assistant and the first message."""
        first = (
            self.turns[0].user.strip().splitlines()[0] if self.turns and self.turns[0].user.strip() else ""
        )
        first = first if len(first) <= 48 else first[:47] + "…"
        return f"{self.assistant.name} · {first}" if first else self.assistant.name

    def open(self, assistant: AssistantProfile) -> None:
        """Start over with another assistant: a new conversation."""
        self.stop()
        self.assistant = assistant
        self.turns = []
        self.id = uuid.uuid4().hex

    def add_user_turn(self, text: str) -> Turn:
        """Ask a new question; a failed last turn is replaced, since the same message is being sent again."""
        if not text.strip():
            raise ChatInputError("Type a message first.")
        if self.busy:
            raise ChatBusyError()
        if self.last_failed:
            self.turns.pop()
        turn = Turn(user=text)
        self.turns.append(turn)
        return turn

    def finish(self, turn: Turn, stats: TurnStats) -> None:
        """The answer is complete; a turn stopped meanwhile stays stopped."""
        turn.stats = stats
        if turn.in_flight:
            turn.status = "done"
            turn.notice = ""

    def fail(self, turn: Turn, error: str, partial: str = "") -> None:
        """The call failed: the question stays, unanswered, so Retry can ask it again."""
        turn.status = "failed"
        turn.error = error
        turn.answer = partial
        turn.notice = ""

    def stop(self, stats: TurnStats | None = None) -> bool:
        """End the answer on its way, keeping its partial text; False if there was none."""
        if not self.busy:
            return False
        self.turns[-1].halt(stats)
        return True

    def regenerate(self) -> Turn:
        """Drop the last answer (stopping it if needed) and get a fresh turn that asks the same question."""
        if not self.turns:
            raise ChatInputError("There is no answer to regenerate yet: send a message first.")
        self.stop()
        turn = Turn(user=self.turns[-1].user)
        # A new object, so a stream still writing into the old turn cannot reach the new one.
        self.turns[-1] = turn
        return turn

    def undo(self) -> str:
        """Remove the last turn and give back its message, so it can be changed and sent again."""
        if not self.turns:
            return ""
        self.stop()
        return self.turns.pop().user

    def edit(self, turn_index: int, text: str) -> Turn:
        """Change a sent message: everything after it is dropped and it is asked again."""
        if not text.strip():
            raise ChatInputError("The edited message is empty: type the new text.")
        if not 0 <= turn_index < len(self.turns):
            count = len(self.turns)
            raise ChatInputError(f"There is no message {turn_index + 1}: pick one of 1 to {count}.")
        self.stop()
        del self.turns[turn_index:]
        turn = Turn(user=text)
        self.turns.append(turn)
        return turn

    @staticmethod
    def turn_index_of_message(message_index: int) -> int:
        """The turn of a message in a chat that shows two messages per turn."""
        return message_index // 2

    def clear(self) -> None:
        """Forget the conversation, keeping the assistant."""
        self.stop()
        self.turns = []

    def copy(self) -> ChatSession:
        """An independent copy (a new id): to continue one of Compare's columns as the chat."""
        return ChatSession(
            assistant=replace(self.assistant, starters=list(self.assistant.starters)),
            turns=[replace(t, stats=replace(t.stats) if t.stats else None) for t in self.turns],
            variables=dict(self.variables),
        )

    # --- Requests ------------------------------------------------------------------------------------

    def to_api_messages(self) -> list[dict[str, str]]:
        """The whole history as the API takes it; answers still on their way or failed are left out."""
        messages: list[dict[str, str]] = []
        for turn in self.turns:
            messages.append({"role": "user", "content": turn.user})
            if turn.answer and turn.status in ("done", "stopped"):
                messages.append({"role": "assistant", "content": turn.answer})
        return messages

    def request_arguments(
        self, instructions: str, params: ChatParameters, default_model: str, *, allow_empty: bool = False
    ) -> dict[str, Any]:
        """How to call: by assistant id while its saved instructions are used as they are, else portably.

        Instructions with `{{variables}}` are filled in here (the API cannot) and sent as system text with
        the assistant's model; raises VariableError, naming what to fill in, before anything is sent.
        `allow_empty`: a variable set to "" is filled with nothing (a test case's choice), not refused.
        """
        assistant = self.assistant
        text = assistant.effective_instructions(instructions)
        fill = variables.has_placeholders(text)
        args: dict[str, Any] = {"temperature": params.temperature}
        if params.max_tokens:
            args["max_tokens"] = int(params.max_tokens)
        if (
            assistant.kind == "mine"
            and assistant.assistant_id
            and assistant.live
            and not assistant.instructions_edited(instructions)
            and not fill
        ):
            args["assistant_id"] = assistant.assistant_id
            if params.model:
                args["model"] = params.model
            return args
        # A model and system text work for any assistant on the real service too, saved or not.
        args["model"] = params.model or assistant.model or default_model
        system = variables.render(text, self.variables, allow_empty=allow_empty) if fill else text
        if system.strip():
            args["system"] = system
        return args

    # --- Exports -------------------------------------------------------------------------------------

    def to_markdown(self, instructions: str, parameters: ChatParameters) -> str:
        """The conversation as a Markdown document."""
        model = parameters.model or self.assistant.model
        max_tokens = parameters.max_tokens if parameters.max_tokens else "model default"
        lines = [
            f"# Conversation with {self.assistant.name}",
            "",
            f"Model: {model} · temperature {parameters.temperature:g} · max tokens {max_tokens}",
            "",
        ]
        if instructions.strip():
            quoted = "\n".join(f"> {line}" for line in instructions.strip().splitlines())
            lines += ["## Instructions", "", quoted, ""]
        used = self.used_variables(instructions)
        if used:
            lines += ["## Variables", ""] + [f"- `{name}`: {value}" for name, value in used.items()] + [""]
        for turn in self.turns:
            lines += ["## You", "", turn.user, ""]
            if turn.answer or turn.status != "failed":
                lines += [f"## {self.assistant.name}", "", turn.answer, ""]
            note = status_note(turn)
            if note:
                lines += [f"*{note}*", ""]
        return "\n".join(lines).rstrip() + "\n"

    def to_json(self, instructions: str, parameters: ChatParameters) -> str:
        """The conversation as the studio's JSON export."""
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "assistant": {
                "name": self.assistant.name,
                "model": self.assistant.model,
                "instructions": instructions,
                "version": self.assistant.version,
            },
            "variables": self.used_variables(instructions),
            "parameters": {
                "model": parameters.model,
                "temperature": parameters.temperature,
                "max_tokens": parameters.max_tokens,
            },
            "messages": self.to_api_messages(),
            "turns": [_turn_record(turn) for turn in self.turns],
        }
        return json.dumps(document, ensure_ascii=False, indent=2)

    def used_variables(self, instructions: str) -> dict[str, str]:
        """The variables the instructions use, with the values given, in order of first appearance."""
        text = self.assistant.effective_instructions(instructions)
        return {name: self.variables.get(name, "") for name in variables.names(text)}


def status_note(turn: Turn) -> str:
    """The line under an answer: its stats, and whether it was stopped or failed."""
    stats = turn.stats.footer() if turn.stats else ""
    if turn.status == "stopped":
        return " · ".join(p for p in ("Stopped", stats) if p)
    if turn.status == "failed":  # the cause travels with the turn: API callers see it in the chat too
        return f"Not answered: {turn.error} Press Retry to ask again." if turn.error else "Not answered."
    return stats if turn.status == "done" else ""


def _turn_record(turn: Turn) -> dict[str, Any]:
    """One turn's stats for the JSON export."""
    stats = turn.stats
    return {
        "status": turn.status,
        "model": stats.model if stats else None,
        "engine": stats.engine if stats else None,
        "tokens_used": stats.tokens_used if stats else 0,
        "first_token_ms": round(stats.first_token_s * 1000)
        if stats and stats.first_token_s is not None
        else None,
        "total_ms": round(stats.total_s * 1000) if stats else None,
    }
