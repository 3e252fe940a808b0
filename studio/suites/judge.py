"""llm-rubric's judge: a model, or one of my assistants, grades an answer against a rubric through the same
API, and answers with a verdict (pass and a reason) as a JSON object.

The judge's call is streamed and logged like every other call of the run. A call that fails, or an answer
without a verdict, raises: the assertion is then an error, not a fail.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.answering import LogContext, Logger, Outcome, stream_answer
from studio.conversation import AssistantProfile, ChatSession
from studio.errors import StudioError
from studio.suites.assertions import Judge, excerpt

if TYPE_CHECKING:
    from backend.client import AsyncAssistantsClient

ASSISTANT_PREFIX = "assistant:"
# Written without braces on purpose: a judge that only repeats its prompt must not seem to give a verdict.
JUDGE_INSTRUCTIONS = (
    "You grade an assistant's answer against a rubric. Reply with one JSON object and nothing else, with "
    'two keys: "pass", true when the answer meets the rubric and false when it does not, and "reason", '
    "one sentence saying why."
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class JudgeError(StudioError):
    """The judge answered without a verdict."""


def judge_prompt(rubric: str, answer: str) -> str:
    return f"{JUDGE_INSTRUCTIONS}\n\nRubric:\n{rubric}\n\nAnswer to grade:\n{answer}"


def parse_verdict(text: str) -> tuple[bool, str]:
    """The judge's verdict: the JSON object with a "pass" key (the last one, after any reasoning)."""
    stripped = _FENCE.sub("", (text or "").strip())
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    for start in [0] + [m.start() for m in re.finditer(r"\{", stripped)]:
        try:
            value, _ = decoder.raw_decode(stripped, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "pass" in value:
            found = value
    if found is None:
        raise JudgeError(f'The judge did not answer with a verdict ("pass" and "reason"): {excerpt(text)}.')
    verdict = found["pass"]
    if isinstance(verdict, str):
        verdict = verdict.strip().lower() in ("true", "pass", "yes")
    reason = str(found.get("reason") or "").strip() or "(no reason given)"
    return bool(verdict), reason


def describe_judge(spec: str, default_model: str) -> str:
    spec = (spec or "").strip()
    if spec.startswith(ASSISTANT_PREFIX):
        return f"assistant {spec[len(ASSISTANT_PREFIX) :]}"
    return spec or f"{default_model} (the assistant's model)"


@dataclass
class SuiteJudge:
    """The judge of one run: a model slug, or `assistant:<id>`; "" means the assistant's own model."""

    client: AsyncAssistantsClient
    spec: str
    default_model: str
    log: Logger | None = None
    log_context: LogContext | None = None
    profile: AssistantProfile = field(init=False)
    args: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        spec = (self.spec or "").strip()
        self.args = {"temperature": 0.0}
        if spec.startswith(ASSISTANT_PREFIX):
            assistant_id = spec[len(ASSISTANT_PREFIX) :].strip()
            self.profile = AssistantProfile(kind="mine", name="judge", assistant_id=assistant_id)
            self.args["assistant_id"] = assistant_id
        else:
            model = spec or self.default_model
            self.profile = AssistantProfile(kind="blank", name="judge", model=model)
            self.args.update(model=model, system=JUDGE_INSTRUCTIONS)

    @property
    def model(self) -> str:
        return self.args.get("model", "")

    def bind(self, spent: list[int]) -> Judge:
        """A Judge for one answer, adding the tokens its calls are charged to `spent`."""

        async def grade(rubric: str, answer: str) -> tuple[bool, str]:
            conversation = ChatSession(assistant=self.profile)
            turn = conversation.add_user_turn(judge_prompt(rubric, answer))
            outcome = Outcome()
            stream = stream_answer(
                self.client, conversation, turn, dict(self.args), model=self.model, outcome=outcome,
                log=self.log, log_context=self.log_context, frame_seconds=math.inf,
            )  # fmt: skip
            async for _ in stream:
                pass
            spent.append(turn.stats.tokens_used if turn.stats else 0)
            if turn.status == "failed":
                raise outcome.error or JudgeError(turn.error)
            return parse_verdict(turn.answer)

        return grade
