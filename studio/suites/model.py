"""Test suites as data: a suite, its cases, and their assertions. No I/O.

A case sends one user message made from the suite's prompt and the case's variables, or messages of its
own: a conversation whose earlier assistant turns are given (only the last message is answered), or a
conversation to *replay* turn by turn, whose assistant turns are the reference answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError

# Assertions the studio evaluates, named as promptfoo names them.
TEXT_TYPES = ("equals", "contains", "icontains", "contains-any", "contains-all", "starts-with", "regex")
OTHER_TYPES = ("is-json", "cost", "latency", "similar", "llm-rubric")
# Types with a `not-` form: the text checks, and the two where "not" still means something.
NEGATABLE = (*TEXT_TYPES, "is-json", "similar")
BASE_TYPES = (*TEXT_TYPES, *OTHER_TYPES)
SUPPORTED = (*BASE_TYPES, *(f"not-{name}" for name in NEGATABLE))
LIST_TYPES = ("contains-any", "contains-all")
NUMBER_TYPES = ("cost", "latency")
DEFAULT_SIMILARITY = 0.75  # promptfoo's default threshold for `similar`

# Every assertion type promptfoo knows, so a file using one the studio lacks is told so by name,
# rather than read as an expected answer (promptfoo's CSV reads unknown prefixes as `equals`).
PROMPTFOO_TYPES = frozenset(
    [
        "answer-relevance",
        "bleu",
        "classifier",
        "contains",
        "contains-all",
        "contains-any",
        "contains-html",
        "contains-json",
        "contains-sql",
        "contains-xml",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "conversation-relevance",
        "cost",
        "equals",
        "factuality",
        "finish-reason",
        "g-eval",
        "gleu",
        "guardrails",
        "human",
        "icontains",
        "icontains-all",
        "icontains-any",
        "is-html",
        "is-json",
        "is-refusal",
        "is-sql",
        "is-valid-function-call",
        "is-valid-openai-function-call",
        "is-valid-openai-tools-call",
        "is-xml",
        "javascript",
        "latency",
        "levenshtein",
        "llm-rubric",
        "meteor",
        "model-graded-closedqa",
        "model-graded-factuality",
        "moderation",
        "perplexity",
        "perplexity-score",
        "pi",
        "python",
        "regex",
        "rouge-l",
        "rouge-n",
        "rouge-s",
        "ruby",
        "select-best",
        "similar",
        "starts-with",
        "tool-call-f1",
        "webhook",
    ]
)


class SuiteError(StudioError):
    """A suite, case or assertion that cannot be used as it is; the message says what to change."""


@dataclass(frozen=True)
class Assertion:
    """One check of an answer. `value`: text, a list of texts (contains-any/all), a JSON Schema (is-json),
    or a number (cost, latency); `threshold`: similar's least similarity, or cost's and latency's limit when
    given that way; `turn`: the user turn (from 1) of a replayed conversation it checks, None for the last."""

    type: str
    value: Any = None
    threshold: float | None = None
    turn: int | None = None

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base(self) -> str:
        return self.type[4:] if self.negated else self.type

    def limit(self) -> float | None:
        """cost's and latency's limit: `threshold`, or a number given as `value` (both forms are common)."""
        for candidate in (self.threshold, self.value):
            if candidate is None or isinstance(candidate, bool):
                continue
            try:
                return float(candidate)
            except (TypeError, ValueError):
                continue
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.value is not None:
            out["value"] = self.value
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.turn is not None:
            out["turn"] = self.turn
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assertion:
        """An assertion as stored or typed; SuiteError names what is wrong with it."""
        if not isinstance(data, dict):
            raise SuiteError(f"An assertion must be a mapping with a type, not {type(data).__name__}.")
        kind = str(data.get("type") or "").strip()
        threshold = data.get("threshold")
        turn = data.get("turn")
        try:
            threshold = None if threshold in (None, "") else float(threshold)
            turn = None if turn in (None, "") else int(turn)
        except (TypeError, ValueError) as err:
            raise SuiteError(f"The {kind or 'assertion'}'s threshold and turn must be numbers.") from err
        found = cls(kind, data.get("value"), threshold, turn)
        problem = found.problem()
        if problem:
            raise SuiteError(problem)
        return found

    def problem(self) -> str:
        """What makes this assertion unusable ("" when it is fine)."""
        if not self.type:
            return "An assertion needs a type, e.g. contains."
        if self.type not in SUPPORTED:
            return unsupported(self.type)
        base, value = self.base, self.value
        if base in LIST_TYPES:
            if not isinstance(value, list | str) or not split_list(value):
                return f"{self.type} needs a list of texts to look for, e.g. [Paris, London]."
        elif base in NUMBER_TYPES:
            if self.limit() is None:
                unit = "tokens charged" if base == "cost" else "milliseconds"
                return f"{self.type} needs a number: the most {unit} allowed, e.g. threshold: 100."
        elif base == "is-json":
            if value is not None and not isinstance(value, dict | str):
                return "is-json takes an optional JSON Schema (a mapping), nothing else."
        elif base in ("llm-rubric", "regex", "similar") or base in TEXT_TYPES:
            if value is None or (isinstance(value, str) and not value.strip() and base != "equals"):
                return f"{self.type} needs a value: {VALUE_HINTS.get(base, 'the text to check for')}."
            if not isinstance(value, str | int | float):
                return f"{self.type} needs a text value, not {type(value).__name__}."
        if self.threshold is not None and base == "similar" and not 0 <= self.threshold <= 1:
            return f"{self.type}'s threshold is a similarity from 0 to 1, not {self.threshold:g}."
        if self.turn is not None and self.turn < 1:
            return "An assertion's turn counts from 1 (the first user message)."
        return ""

    def summary(self) -> str:
        """A short line naming the check, e.g. `contains “Paris”` or `latency ≤ 2000 ms`."""
        base = self.base
        if base in NUMBER_TYPES:
            unit = "tokens" if base == "cost" else "ms"
            return f"{self.type} ≤ {self.limit():g} {unit}"
        if base in LIST_TYPES:
            return f"{self.type} " + ", ".join(f"“{v}”" for v in split_list(self.value))
        if base == "is-json":
            return self.type + (" (with a schema)" if self.value else "")
        text = str(self.value if self.value is not None else "")
        text = text if len(text) <= 60 else text[:59] + "…"
        shown = f"/{text}/" if base == "regex" else f"“{text}”"
        if base == "similar":
            shown += f" ≥ {self.threshold if self.threshold is not None else DEFAULT_SIMILARITY:g}"
        return f"{self.type} {shown}"


VALUE_HINTS = {
    "regex": "a regular expression, e.g. ^\\d+$",
    "similar": "the expected answer",
    "llm-rubric": "the rubric the judge grades against",
    "starts-with": "the text the answer must start with",
}


def unsupported(kind: str) -> str:
    """Why an assertion type is not evaluated here."""
    base = kind[4:] if kind.startswith("not-") else kind
    if base in BASE_TYPES:
        return f"“{kind}” has no not- form here; use {base} (not- works for {', '.join(NEGATABLE)})."
    known = "a promptfoo assertion the studio does not evaluate" if base in PROMPTFOO_TYPES else "not known"
    return f"The assertion type “{kind}” is {known}; supported: {', '.join(BASE_TYPES)} (and not- forms)."


def split_list(value: Any) -> list[str]:
    """contains-any/all's texts: a list, or one comma-separated text as promptfoo's CSV writes them."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


@dataclass
class Case:
    """One test case. `messages`: [] to send the suite's prompt filled with `vars`; otherwise the
    conversation, ending with a user message, or (replay) with the reference answers in the assistant turns."""

    description: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    assertions: list[Assertion] = field(default_factory=list)
    replay: bool = False
    id: int | None = None

    def user_turns(self) -> list[str]:
        return [m["content"] for m in self.messages if m.get("role") == "user"]

    def references(self) -> list[str]:
        """A replayed conversation's reference answers, one per user turn ("" where none was given)."""
        refs: list[str] = []
        for message in self.messages:
            if message.get("role") == "user":
                refs.append("")
            elif message.get("role") == "assistant" and refs:
                refs[-1] = message.get("content", "")
        return refs

    def label(self, index: int) -> str:
        """How the results name this case: its description, else its number and first words."""
        if self.description.strip():
            return self.description.strip()
        hint = ", ".join(f"{k}={v}" for k, v in list(self.vars.items())[:2])
        if not hint and self.messages:
            hint = self.user_turns()[0] if self.user_turns() else ""
        hint = hint if len(hint) <= 40 else hint[:39] + "…"
        return f"#{index + 1}" + (f" {hint}" if hint else "")

    def problem(self) -> str:
        """What makes this case unusable as it is ("" when it is fine)."""
        for message in self.messages:
            if message.get("role") not in ("user", "assistant") or not isinstance(
                message.get("content"), str
            ):
                return "A case's messages are user and assistant messages with text content."
        if self.messages and not self.replay and self.messages[-1].get("role") != "user":
            return "A case's conversation must end with the user message to answer."
        if self.replay and not self.user_turns():
            return "A conversation to replay needs at least one user message."
        turns = len(self.user_turns())
        for assertion in self.assertions:
            problem = assertion.problem()
            if problem:
                return problem
            if assertion.turn is not None and (not self.replay or assertion.turn > turns):
                return f"An assertion checks turn {assertion.turn}, and the case has {turns if self.replay else 1}."
        return ""


@dataclass
class Suite:
    """A named set of cases for one assistant (on one server, under its lineage, as the history keeps it).

    `prompt`: the user-message template for cases without messages; `judge`: llm-rubric's grader, a model
    slug or "assistant:<id>" ("" uses the assistant's own model).
    """

    name: str
    assistant_id: str
    prompt: str = ""
    judge: str = ""
    cases: list[Case] = field(default_factory=list)
    id: int | None = None
    server: str = ""
    lineage: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    case_count: int = 0


NAME_LIMIT = 120


def check_suite_name(name: str) -> str:
    """The name, trimmed; SuiteError when it cannot be one."""
    name = (name or "").strip()
    if not name:
        raise SuiteError("Give the suite a name, e.g. “Smoke tests”.")
    if len(name) > NAME_LIMIT:
        raise SuiteError(f"A suite's name is at most {NAME_LIMIT} characters; this one has {len(name)}.")
    return name


def case_from_conversation(conversation: Any, description: str = "") -> Case:
    """A Playground conversation (studio.conversation.ChatSession) as a case to replay: its user turns, its
    answers as the references, and its variables' values. Failed and unfinished turns are left out."""
    messages: list[dict[str, str]] = []
    for turn in conversation.turns:
        if turn.status not in ("done", "stopped") or not turn.user.strip():
            continue
        messages += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.answer}]
    if not messages:
        raise SuiteError(
            "The conversation has no answered message yet: chat first, then save it as a test case."
        )
    profile = conversation.assistant
    version = f" (v{profile.version})" if getattr(profile, "version", None) is not None else ""
    first = " ".join(messages[0]["content"].split())
    title = (
        description.strip() or f"{first[:50] + ('…' if len(first) > 50 else '')} — {profile.name}{version}"
    )
    values = {str(k): str(v) for k, v in (conversation.variables or {}).items()}
    return Case(description=title, vars=values, messages=messages, replay=True)
