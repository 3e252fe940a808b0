"""Every assertion type on fixed answers: pass, fail and error, each with the reason a person reads."""

from __future__ import annotations

import asyncio
import time

import pytest

from studio.suites.assertions import Observed, evaluate, evaluate_all, judge_rubric, overall
from studio.suites.model import Assertion, Case
from studio.suites.similarity import similarity

ANSWER = "The capital of France is Paris. It has 2,100,000 people."


def check(kind: str, value=None, answer: str = ANSWER, threshold=None, **observed):
    return evaluate(Assertion(kind, value, threshold), Observed(answer, **observed))


@pytest.mark.parametrize(
    ("kind", "value", "status", "reason"),
    [
        ("equals", ANSWER, "pass", "The answer is exactly"),
        ("equals", "The capital of Spain", "fail", "differs from character 16"),
        ("not-equals", "Paris", "pass", "is not exactly “Paris”"),
        ("not-equals", ANSWER, "fail", "It must not."),
        ("contains", "Paris", "pass", "contains “Paris”, at character 26"),
        ("contains", "London", "fail", "does not contain “London”"),
        ("not-contains", "London", "pass", "does not contain “London”"),
        ("not-contains", "Paris", "fail", "contains “Paris”, at character 26. It must not."),
        ("icontains", "PARIS", "pass", "(ignoring case)"),
        ("icontains", "LONDON", "fail", "does not contain “LONDON” (ignoring case)"),
        ("not-icontains", "paris", "fail", "It must not."),
        (
            "contains-any",
            ["London", "Paris"],
            "pass",
            "contains “Paris” (one of “London”, “Paris” is enough)",
        ),
        ("contains-any", "Rome, Madrid", "fail", "contains none of “Rome”, “Madrid”"),
        ("not-contains-any", ["Rome"], "pass", "contains none of “Rome”"),
        ("contains-all", ["France", "Paris"], "pass", "contains all 2"),
        ("contains-all", ["France", "Rome", "Oslo"], "fail", "lacks “Rome”, “Oslo” (1 of 3 found)"),
        ("not-contains-all", ["France", "Paris"], "fail", "It must not."),
        ("starts-with", "The capital", "pass", "starts with “The capital”"),
        ("starts-with", "Paris", "fail", "does not start with “Paris”; it starts “The capital"),
        ("not-starts-with", "Paris", "pass", "does not start with"),
        ("regex", r"\d{1,3}(,\d{3})+", "pass", "matches /\\d{1,3}(,\\d{3})+/ at “2,100,000”"),
        ("regex", r"^\d+$", "fail", "does not match /^\\d+$/"),
        ("not-regex", r"Paris", "fail", "It must not."),
        ("not-regex", r"London", "pass", "does not match /London/"),
    ],
)
def test_text_assertions(kind, value, status, reason):
    outcome = check(kind, value)
    assert (outcome.status, outcome.type) == (status, kind)
    assert reason in outcome.reason, outcome.reason


def test_values_are_filled_with_the_case_variables_by_the_playground_renderer():
    assert check("contains", "{{city}}", vars={"city": "Paris"}).status == "pass"
    assert check("contains", "{{city}}", vars={"city": "Rome"}).status == "fail"
    # A variable set to "" on purpose is allowed; one not given at all cannot be filled: an error, not a fail.
    assert check("contains", "is{{nothing}} Paris", vars={"nothing": ""}).status == "pass"
    missing = check("contains", "{{city}}", vars={})
    assert missing.status == "error" and "“city”" in missing.reason and "not given" in missing.reason


def test_an_invalid_regex_is_an_error_naming_the_problem():
    outcome = check("regex", "(unclosed")
    assert outcome.status == "error"
    assert "/(unclosed/ is not valid" in outcome.reason and "missing )" in outcome.reason


def test_a_catastrophic_regex_is_stopped_by_its_time_limit():
    started = time.monotonic()
    outcome = check("regex", r"(a|aa)+$", answer="a" * 40 + "!")
    assert time.monotonic() - started < 5  # stopped, not left to run for minutes
    assert outcome.status == "error" and "was stopped" in outcome.reason and "(a|aa)+" in outcome.reason


def test_is_json_with_and_without_a_schema():
    assert check("is-json", answer='{"name": "Ada", "age": 36}').status == "pass"
    bad = check("is-json", answer='Sure! {"name": 1}')
    assert bad.status == "fail" and "is not JSON: Expecting value at line 1, column 1" in bad.reason
    assert check("not-is-json", answer="plain words").status == "pass"
    schema = {"type": "object", "required": ["name", "age"], "properties": {"age": {"type": "integer"}}}
    assert check("is-json", schema, answer='{"name": "Ada", "age": 36}').status == "pass"
    wrong = check("is-json", schema, answer='{"name": "Ada", "age": "old"}')
    assert (
        wrong.status == "fail"
        and "at $.age" in wrong.reason
        and "'old' is not of type 'integer'" in wrong.reason
    )
    lacking = check("is-json", schema, answer='{"name": "Ada"}')
    assert lacking.status == "fail" and "'age' is a required property" in lacking.reason
    as_text = check("is-json", '{"type": "array"}', answer="[1, 2]")
    assert as_text.status == "pass"


def test_an_invalid_schema_is_an_error_not_a_fail():
    outcome = check("is-json", {"type": "no-such-type"}, answer="{}")
    assert outcome.status == "error" and "The JSON Schema is not valid" in outcome.reason
    unparsable = check("is-json", "{not json", answer="{}")
    assert unparsable.status == "error" and "The JSON Schema is not JSON" in unparsable.reason


def test_cost_and_latency_limits():
    assert check("cost", threshold=5, tokens_used=3).status == "pass"
    over = check("cost", 2, tokens_used=3)  # the limit as the value works too
    assert over.status == "fail" and over.reason == "The cost was 3 tokens, over the limit of 2."
    assert check("latency", threshold=1000, latency_ms=250.4).status == "pass"
    slow = check("latency", threshold=100, latency_ms=1234.0)
    assert slow.status == "fail" and "1,234 ms, over the limit of 100" in slow.reason
    unknown = check("latency", threshold=100)
    assert unknown.status == "error" and "not known" in unknown.reason
    no_limit = check("cost")
    assert no_limit.status == "error" and "needs a number" in no_limit.reason


def test_similar_uses_the_cosine_of_word_counts():
    assert similarity("Paris is the capital", "the capital is PARIS") == pytest.approx(1.0)
    assert similarity("Paris", "London") == 0.0
    assert similarity("", "") == 1.0
    near = check("similar", "The capital of France is Paris.", threshold=0.6)
    assert near.status == "pass" and "cosine of word counts" in near.reason
    far = check("similar", "Berlin lies on the Spree", threshold=0.5)
    assert far.status == "fail" and "not similar enough: similarity 0.1" in far.reason
    assert check("not-similar", "Berlin lies on the Spree").status == "pass"
    default = check("similar", "completely different words")
    assert "threshold 0.75" in default.reason


def test_unsupported_and_malformed_assertions_are_errors():
    assert "is a promptfoo assertion the studio does not evaluate" in check("javascript", "1").reason
    assert "has no not- form" in check("not-cost", 3).reason
    assert check("contains-any", []).status == "error"
    assert "needs a value" in check("contains", "").reason
    assert "from 0 to 1" in check("similar", "x", threshold=3).reason


def test_overall_status_prefers_a_known_failure_to_an_error():
    results = [check("contains", "Paris"), check("regex", "("), check("contains", "Rome")]
    assert overall(results) == "fail"
    assert overall(results[:2]) == "error"
    assert overall(results[:1]) == "pass" and overall([]) == "pass"


def test_llm_rubric_takes_the_judges_verdict_and_a_failed_judge_is_an_error():
    rubric = Assertion("llm-rubric", "Names the capital of {{country}}")
    seen = []

    async def judge(text, answer):
        seen.append(text)
        return False, "It names the wrong city."

    async def broken(text, answer):
        raise RuntimeError("connection refused")

    observed = Observed(ANSWER, vars={"country": "France"})
    failed = asyncio.run(judge_rubric(rubric, observed, judge))
    assert failed.status == "fail" and failed.reason == "The judge says: It names the wrong city."
    assert seen == ["Names the capital of France"]
    errored = asyncio.run(judge_rubric(rubric, observed, broken))
    assert errored.status == "error" and "The judge could not grade this answer" in errored.reason
    nobody = asyncio.run(judge_rubric(rubric, observed, None))
    assert nobody.status == "error" and "choose one in the suite" in nobody.reason


def test_evaluate_all_keeps_the_order_and_runs_slow_checks_off_the_loop():
    checks = [Assertion("contains", "Paris"), Assertion("regex", "^The"), Assertion("cost", threshold=1)]
    outcomes = asyncio.run(evaluate_all(checks, Observed(ANSWER, tokens_used=4)))
    assert [o.type for o in outcomes] == ["contains", "regex", "cost"]
    assert [o.status for o in outcomes] == ["pass", "pass", "fail"]


def test_case_problems_are_named():
    assert "end with the user message" in Case(messages=[{"role": "assistant", "content": "x"}]).problem()
    replay = Case(messages=[{"role": "user", "content": "hi"}], replay=True,
                  assertions=[Assertion("contains", "x", turn=3)])  # fmt: skip
    assert "checks turn 3, and the case has 1" in replay.problem()
    assert Case(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                replay=True).references() == ["b"]  # fmt: skip
