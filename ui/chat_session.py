"""One Playground conversation: the assistant it is held with, its turns and their stats. No I/O, no Gradio.

The methods change the conversation in place, and the streaming handler and the Stop handler hold the same
object (gr.State passes it by reference): whichever of the two runs first, the turn ends up stopped with
its partial text, and a late piece of text for a stopped turn is refused rather than shown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from backend.schemas import Assistant, MarketplaceItem

EXPORT_FORMAT = "assistant-studio/conversation"
EXPORT_VERSION = 1
BLANK_NAME = "Blank assistant"

AssistantKind = Literal["mine", "market", "blank"]
TurnStatus = Literal["pending", "streaming", "done", "stopped", "failed"]
_IN_FLIGHT: tuple[TurnStatus, ...] = ("pending", "streaming")


class ChatInputError(ValueError):
    """An action that cannot be done as asked; the message says why and what to do, fit for a person."""


class ChatBusyError(ChatInputError):
    """A reply is still streaming; the action would interleave two answers."""

    def __str__(self) -> str:
        return "An answer is still streaming: wait for it to finish, or press Stop first."


@dataclass
class AssistantProfile:
    """What the conversation is held with: one of my assistants, a marketplace one, or a blank one."""

    kind: AssistantKind = "blank"
    name: str = BLANK_NAME
    model: str = ""
    instructions: str = ""  # the saved text; the Playground's box may hold an edited copy
    assistant_id: str | None = None
    description: str = ""
    starters: list[str] = field(default_factory=list)
    key: str = "blank"  # its value in the Playground's picker

    @classmethod
    def from_assistant(cls, assistant: Assistant) -> AssistantProfile:
        """One of my saved assistants."""
        starters = getattr(assistant, "conversation_starters", None)  # kept if copied from the marketplace
        return cls(
            kind="mine",
            name=assistant.name,
            model=assistant.model,
            instructions=assistant.instructions,
            assistant_id=assistant.id,
            description=assistant.description,
            starters=[s for s in starters or [] if isinstance(s, str) and s.strip()],
            key=f"mine:{assistant.id}",
        )

    @classmethod
    def from_market_item(cls, item: MarketplaceItem, default_model: str) -> AssistantProfile:
        """A marketplace assistant, tried without copying it."""
        return cls(
            kind="market",
            name=item.name,
            model=item.model or default_model,
            instructions=item.instructions,
            assistant_id=None,
            description=item.description,
            starters=[s for s in item.conversation_starters if s.strip()],
            key=f"market:{item.id or item.name}",
        )

    def instructions_edited(self, instructions: str) -> bool:
        """Whether the box holds a change; an empty box (what an API caller sends by default) means none."""
        return bool(instructions.strip()) and instructions.strip() != self.instructions.strip()

    def effective_instructions(self, instructions: str) -> str:
        """The instructions a call uses: the box's text, or the assistant's own when the box is empty."""
        return instructions if instructions.strip() else self.instructions


@dataclass(frozen=True)
class ChatParameters:
    """What the Parameters accordion holds; None means the assistant's or the model's default."""

    model: str | None = None
    temperature: float = 0.7
    max_tokens: int | None = None


@dataclass
class TurnStats:
    """How one answer went, measured around its stream."""

    model: str
    tokens_used: int = 0
    first_token_s: float | None = None
    total_s: float = 0.0

    def footer(self) -> str:
        """E.g. "gpt-5-nano · 1 token · first token 120 ms · 1.4 s"."""
        unit = "token" if self.tokens_used == 1 else "tokens"
        parts = [self.model, f"{self.tokens_used} {unit}"]
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
    """The conversation of one browser tab, held in gr.State."""

    assistant: AssistantProfile = field(default_factory=AssistantProfile)
    turns: list[Turn] = field(default_factory=list)
    # The Playground's last ChatView of a stream, for the step chained after it: not exported, not sent.
    pending_view: Any = field(default=None, repr=False, compare=False)

    @property
    def busy(self) -> bool:
        """Whether an answer is on its way."""
        return bool(self.turns) and self.turns[-1].in_flight

    @property
    def last_failed(self) -> bool:
        return bool(self.turns) and self.turns[-1].status == "failed"

    def open(self, assistant: AssistantProfile) -> None:
        """Start over with another assistant."""
        self.stop()
        self.assistant = assistant
        self.turns = []

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
        """The turn of a message in to_chatbot(), which always shows two messages per turn."""
        return message_index // 2

    def clear(self) -> None:
        """Forget the conversation, keeping the assistant."""
        self.stop()
        self.turns = []

    def to_api_messages(self) -> list[dict[str, str]]:
        """The whole history as the API takes it; answers still on their way or failed are left out."""
        messages: list[dict[str, str]] = []
        for turn in self.turns:
            messages.append({"role": "user", "content": turn.user})
            if turn.answer and turn.status in ("done", "stopped"):
                messages.append({"role": "assistant", "content": turn.answer})
        return messages

    def request_arguments(
        self, instructions: str, params: ChatParameters, default_model: str
    ) -> dict[str, Any]:
        """How to call: by assistant id while its saved instructions are used as they are, else portably."""
        assistant = self.assistant
        args: dict[str, Any] = {"temperature": params.temperature}
        if params.max_tokens:
            args["max_tokens"] = int(params.max_tokens)
        if (
            assistant.kind == "mine"
            and assistant.assistant_id
            and not assistant.instructions_edited(instructions)
        ):
            args["assistant_id"] = assistant.assistant_id
            if params.model:
                args["model"] = params.model
        else:
            # A model and system text work for any assistant on the real service too, saved or not.
            args["model"] = params.model or assistant.model or default_model
            system = assistant.effective_instructions(instructions)
            if system.strip():
                args["system"] = system
        return args

    def to_chatbot(self) -> list[dict[str, str]]:
        """The messages for gr.Chatbot: each answer with a small footer of its stats, shown only here."""
        messages: list[dict[str, str]] = []
        for turn in self.turns:
            messages.append({"role": "user", "content": turn.user})
            messages.append({"role": "assistant", "content": _display_answer(turn)})
        return messages

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
        for turn in self.turns:
            lines += ["## You", "", turn.user, ""]
            if turn.answer or turn.status != "failed":
                lines += [f"## {self.assistant.name}", "", turn.answer, ""]
            note = _status_note(turn)
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
            },
            "parameters": asdict(parameters),
            "messages": self.to_api_messages(),
            "turns": [_turn_record(turn) for turn in self.turns],
        }
        return json.dumps(document, ensure_ascii=False, indent=2)


def _status_note(turn: Turn) -> str:
    """The line under an answer: its stats, and whether it was stopped or failed."""
    stats = turn.stats.footer() if turn.stats else ""
    if turn.status == "stopped":
        return " · ".join(p for p in ("Stopped", stats) if p)
    if turn.status == "failed":  # the cause travels with the turn: API callers see it in the chat too
        return f"Not answered: {turn.error} Press Retry to ask again." if turn.error else "Not answered."
    return stats if turn.status == "done" else ""


def _display_answer(turn: Turn) -> str:
    """An answer as the chat shows it."""
    if turn.in_flight and not turn.answer:
        return f"*{turn.notice or 'Waiting for the answer…'}*"
    text = turn.answer
    if turn.status == "stopped" and not text:
        text = "*(stopped before any text arrived)*"
    note = _status_note(turn)
    return f"{text}\n\n<sub>{note}</sub>" if note and text else (text or f"<sub>{note}</sub>")


def _turn_record(turn: Turn) -> dict[str, Any]:
    """One turn's stats for the JSON export."""
    stats = turn.stats
    return {
        "status": turn.status,
        "model": stats.model if stats else None,
        "tokens_used": stats.tokens_used if stats else 0,
        "first_token_ms": round(stats.first_token_s * 1000)
        if stats and stats.first_token_s is not None
        else None,
        "total_ms": round(stats.total_s * 1000) if stats else None,
    }
