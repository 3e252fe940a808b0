"""Evaluating assertions on an answer: pass, fail or error, each with a reason a person understands.

`fail` means the answer does not meet the check; `error` means the check could not be made (an invalid
regular expression or JSON Schema, a value whose variables cannot be filled in, a judge whose call
failed), so a broken test is never mistaken for a broken answer.

Values are filled in with the case's `{{variables}}` by the same renderer as the Playground. A user's
regular expression runs with a time limit (the `regex` package's timeout), so a pattern such as `(a+)+$`
cannot hang the studio.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import regex

from studio import variables
from studio.errors import describe_error
from studio.suites.model import DEFAULT_SIMILARITY, Assertion, split_list, unsupported
from studio.suites.similarity import similarity

Status = Literal["pass", "fail", "error"]
REGEX_SECONDS = 0.5
PATTERN_LIMIT = 5_000
_EXCERPT = 80
_INLINE_CHARS = 20_000  # longer answers are checked in a worker thread


@dataclass(frozen=True)
class Outcome:
    """One assertion's result."""

    type: str
    status: Status
    reason: str
    check: str = ""  # the assertion in short, e.g. contains “Paris”
    turn: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.type, "status": self.status, "reason": self.reason, "check": self.check}
        if self.turn is not None:
            out["turn"] = self.turn
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(data["type"], data["status"], data["reason"], data.get("check", ""), data.get("turn"))


@dataclass(frozen=True)
class Observed:
    """What an answer's checks look at: its text, what it cost and how long it took, the case's variables,
    and (replay) the reference answer of its turn."""

    answer: str
    tokens_used: int = 0
    latency_ms: float | None = None
    vars: Mapping[str, str] | None = None
    reference: str = ""


# A judge grades an answer against a rubric: (pass, reason); it raises when it cannot (its call failed).
Judge = Callable[[str, str], Awaitable[tuple[bool, str]]]


class _Unusable(Exception):
    """The check cannot be made; its message is the error's reason."""


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    """A quoted piece of text for a reason, on one line."""
    flat = " ".join((text or "").split())
    return "“" + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + "”"


def overall(outcomes: list[Outcome]) -> Status:
    """A case fails when any check fails, is an error when a check could not be made, else passes."""
    statuses = {o.status for o in outcomes}
    return "fail" if "fail" in statuses else "error" if "error" in statuses else "pass"


def _render(value: Any, observed: Observed) -> str:
    text = "" if value is None else str(value)
    if not variables.has_placeholders(text):
        return text
    try:
        return variables.render(text, observed.vars or {}, what="The assertion's value", allow_empty=True)
    except variables.VariableError as err:
        raise _Unusable(str(err)) from err


# Each check says whether its condition holds, describing the answer both ways: (holds, if so, if not).
Fact = tuple[bool, str, str]


def _equals(value: Any, observed: Observed) -> Fact:
    expected, answer = _render(value, observed), observed.answer
    if answer == expected:
        return True, f"The answer is exactly {excerpt(expected)}.", ""
    at = next((i for i, (a, b) in enumerate(zip(answer, expected, strict=False)) if a != b), None)
    at = min(len(answer), len(expected)) if at is None else at
    return False, f"The answer is exactly {excerpt(expected)}.", (
        f"The answer is not exactly {excerpt(expected)}: it differs from character {at + 1} "
        f"({len(answer):,} characters, expected {len(expected):,}): {excerpt(answer)}."
    )  # fmt: skip


def _contains(value: Any, observed: Observed, *, fold: bool = False) -> Fact:
    wanted = _render(value, observed)
    haystack, needle = (observed.answer.casefold(), wanted.casefold()) if fold else (observed.answer, wanted)
    at = haystack.find(needle)
    case = " (ignoring case)" if fold else ""
    return (
        at >= 0,
        f"The answer contains {excerpt(wanted)}{case}, at character {at + 1}.",
        f"The answer does not contain {excerpt(wanted)}{case}: {excerpt(observed.answer)}.",
    )


def _contains_any(value: Any, observed: Observed) -> Fact:
    wanted = [_render(item, observed) for item in split_list(value)]
    found = [item for item in wanted if item in observed.answer]
    listed = ", ".join(excerpt(item, 40) for item in wanted)
    return (
        bool(found),
        f"The answer contains {', '.join(excerpt(item, 40) for item in found)} (one of {listed} is enough).",
        f"The answer contains none of {listed}: {excerpt(observed.answer)}.",
    )


def _contains_all(value: Any, observed: Observed) -> Fact:
    wanted = [_render(item, observed) for item in split_list(value)]
    missing = [item for item in wanted if item not in observed.answer]
    return (
        not missing,
        f"The answer contains all {len(wanted)} of {', '.join(excerpt(item, 40) for item in wanted)}.",
        f"The answer lacks {', '.join(excerpt(item, 40) for item in missing)} "
        f"({len(wanted) - len(missing)} of {len(wanted)} found): {excerpt(observed.answer)}.",
    )


def _starts_with(value: Any, observed: Observed) -> Fact:
    wanted = _render(value, observed)
    return (
        observed.answer.startswith(wanted),
        f"The answer starts with {excerpt(wanted)}.",
        f"The answer does not start with {excerpt(wanted)}; it starts {excerpt(observed.answer, 40)}.",
    )


def _regex(value: Any, observed: Observed) -> Fact:
    pattern = _render(value, observed)
    if len(pattern) > PATTERN_LIMIT:
        raise _Unusable(
            f"The regular expression is {len(pattern):,} characters; the limit is {PATTERN_LIMIT:,}."
        )
    try:
        compiled = regex.compile(pattern)
    except regex.error as err:
        raise _Unusable(f"The regular expression /{pattern}/ is not valid: {err}.") from err
    try:
        found = compiled.search(observed.answer, timeout=REGEX_SECONDS)
    except TimeoutError as err:
        raise _Unusable(
            f"The regular expression /{pattern}/ took more than {REGEX_SECONDS:g} s on this answer and was "
            "stopped: simplify it (nested repeats such as (a+)+ can take forever on some texts)."
        ) from err
    return (
        found is not None,
        f"The answer matches /{pattern}/" + (f" at {excerpt(found.group(0), 40)}." if found else "."),
        f"The answer does not match /{pattern}/: {excerpt(observed.answer)}.",
    )


def _schema(value: Any) -> Any:
    """The validator of is-json's schema (None without one); an invalid schema cannot be checked."""
    if value is None or value == "":
        return None
    schema = value
    if isinstance(value, str):
        try:
            schema = json.loads(value)
        except json.JSONDecodeError as err:
            raise _Unusable(
                f"The JSON Schema is not JSON: {err.msg} (line {err.lineno}, column {err.colno})."
            ) from err
    if not isinstance(schema, dict):
        raise _Unusable('The JSON Schema must be an object, e.g. {"type": "object"}.')
    from jsonschema.exceptions import SchemaError  # here, not at the top: only is-json needs it, start-up not

    try:
        return _validator(json.dumps(schema, sort_keys=True))
    except SchemaError as err:
        raise _Unusable(f"The JSON Schema is not valid: {err.message}.") from err


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    """Checking a schema against its meta-schema costs far more than using it: once per schema."""
    import jsonschema

    schema = json.loads(schema_text)
    kind = jsonschema.validators.validator_for(schema)
    kind.check_schema(schema)
    return kind(schema)


def _is_json(value: Any, observed: Observed) -> Fact:
    validator = _schema(value)
    try:
        data = json.loads(observed.answer)
    except json.JSONDecodeError as err:
        return False, "The answer is JSON.", (
            f"The answer is not JSON: {err.msg} at line {err.lineno}, column {err.colno}: "
            f"{excerpt(observed.answer)}."
        )  # fmt: skip
    if validator is None:
        return True, "The answer is JSON.", ""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(data))
    if error is None:
        return True, "The answer is JSON that fits the schema.", ""
    where = error.json_path if error.path else "the top level"
    return (
        False,
        "The answer is JSON that fits the schema.",
        (f"The answer is JSON but does not fit the schema at {where}: {error.message}."),
    )


def _similar(value: Any, threshold: float | None, observed: Observed) -> Fact:
    expected = _render(value, observed)
    least = DEFAULT_SIMILARITY if threshold is None else threshold
    score = similarity(observed.answer, expected)
    said = f"similarity {score:.2f} to {excerpt(expected, 60)} (threshold {least:g}, cosine of word counts)"
    return score >= least, f"The answer is similar: {said}.", f"The answer is not similar enough: {said}."


def _limit(assertion: Assertion, measured: float | None, what: str, unit: str) -> Fact:
    limit = assertion.limit()
    if limit is None:
        raise _Unusable(f"{assertion.type} needs a number: the most {unit} allowed.")
    if measured is None:
        raise _Unusable(f"The {what} of this answer is not known, so it cannot be checked.")
    shown = f"{measured:,.0f} {unit}"
    return (
        measured <= limit,
        f"The {what} was {shown}, within the limit of {limit:,g}.",
        f"The {what} was {shown}, over the limit of {limit:,g}.",
    )


def evaluate(assertion: Assertion, observed: Observed) -> Outcome:
    """One assertion on one answer (not llm-rubric, which needs a judge: see `evaluate_all`)."""
    check = assertion.summary() if not assertion.problem() else assertion.type
    made = {"type": assertion.type, "check": check, "turn": assertion.turn}
    problem = assertion.problem()
    if problem:
        return Outcome(status="error", reason=problem, **made)
    base, value = assertion.base, assertion.value
    checks: dict[str, Callable[[], Fact]] = {
        "equals": lambda: _equals(value, observed),
        "contains": lambda: _contains(value, observed),
        "icontains": lambda: _contains(value, observed, fold=True),
        "contains-any": lambda: _contains_any(value, observed),
        "contains-all": lambda: _contains_all(value, observed),
        "starts-with": lambda: _starts_with(value, observed),
        "regex": lambda: _regex(value, observed),
        "is-json": lambda: _is_json(value, observed),
        "similar": lambda: _similar(value, assertion.threshold, observed),
        "cost": lambda: _limit(assertion, float(observed.tokens_used), "cost", "tokens"),
        "latency": lambda: _limit(assertion, observed.latency_ms, "time to answer", "ms"),
    }
    if base not in checks:
        return Outcome(status="error", reason=unsupported(assertion.type), **made)
    try:
        holds, if_so, if_not = checks[base]()
    except _Unusable as err:
        return Outcome(status="error", reason=str(err), **made)
    if assertion.negated:
        return Outcome(status="fail", reason=f"{if_so} It must not.", **made) if holds else Outcome(
            status="pass", reason=if_not, **made
        )  # fmt: skip
    return (
        Outcome(status="pass", reason=if_so, **made)
        if holds
        else Outcome(status="fail", reason=if_not, **made)
    )


async def judge_rubric(assertion: Assertion, observed: Observed, judge: Judge | None) -> Outcome:
    """llm-rubric: the judge grades the answer against the rubric; a judge that cannot is an error."""
    made = {"type": assertion.type, "check": assertion.summary(), "turn": assertion.turn}
    if judge is None:
        return Outcome(
            status="error", reason="No judge is set for llm-rubric: choose one in the suite.", **made
        )
    try:
        rubric = _render(assertion.value, observed)
    except _Unusable as err:
        return Outcome(status="error", reason=str(err), **made)
    try:
        passed, why = await judge(rubric, observed.answer)
    except Exception as err:  # the judge's call failed or it gave no verdict: the check was not made
        return Outcome(
            status="error", reason=f"The judge could not grade this answer: {describe_error(err)}", **made
        )
    return Outcome(status="pass" if passed else "fail", reason=f"The judge says: {why}", **made)


async def evaluate_all(
    assertions: list[Assertion], observed: Observed, judge: Judge | None = None
) -> list[Outcome]:
    """Every assertion on one answer, in order; the judge is asked only for llm-rubric.

    Checks that can take a while (a regular expression up to its time limit, a schema, a long answer) run
    in a worker thread, so the event loop, and with it every other page of the studio, never waits on them.
    """
    judged = [a.base == "llm-rubric" and not a.problem() for a in assertions]
    plain = [a for a, j in zip(assertions, judged, strict=True) if not j]
    slow = len(observed.answer) > _INLINE_CHARS or any(a.base in ("regex", "is-json") for a in plain)
    if slow:
        checked = await asyncio.to_thread(lambda: [evaluate(a, observed) for a in plain])
    else:
        checked = [evaluate(a, observed) for a in plain]
    made = iter(checked)
    return [
        await judge_rubric(a, observed, judge) if j else next(made)
        for a, j in zip(assertions, judged, strict=True)
    ]
