"""promptfoo's test files: YAML and CSV in, with unsupported cases left out by line; bad files refused whole."""

from __future__ import annotations

import pytest

from studio.suites.files import (
    MAX_BYTES,
    SuiteFileError,
    assertion_from_text,
    parse_csv,
    parse_yaml,
    read_suite_file,
    to_csv,
    to_yaml,
)
from studio.suites.model import Assertion, Case

PROMPTFOO_YAML = """\
description: Capitals
prompts:
  - 'Answer briefly: {{question}}'
defaultTest:
  vars:
    tone: plain
  assert:
    - type: latency
      threshold: 5000
tests:
  - description: France
    vars:
      question: What is the capital of France?
    assert:
      - type: icontains
        value: paris
      - type: similar
        value: Paris is the capital of France.
        threshold: 0.6
      - type: not-contains-any
        value: [London, Berlin]
  - description: uses javascript
    vars:
      question: Anything
    assert:
      - type: javascript
        value: output.length < 100
  - vars:
      question: [one, two]
  - description: JSON
    vars: {question: Give JSON}
    assert:
      - type: is-json
        value: {type: object, required: [answer]}
      - type: llm-rubric
        value: Is polite
      - type: cost
        threshold: 3
"""


def test_promptfoo_yaml_comes_in_with_its_prompt_defaults_and_unsupported_cases_by_line():
    found = parse_yaml(PROMPTFOO_YAML)
    assert found.prompt == "Answer briefly: {{question}}"
    assert [c.description for c in found.cases] == ["France", "JSON"]
    france = found.cases[0]
    assert france.vars == {"tone": "plain", "question": "What is the capital of France?"}
    assert france.assertions == [
        Assertion("latency", None, 5000.0),
        Assertion("icontains", "paris"),
        Assertion("similar", "Paris is the capital of France.", 0.6),
        Assertion("not-contains-any", ["London", "Berlin"]),
    ]
    assert found.cases[1].assertions[1] == Assertion("is-json", {"type": "object", "required": ["answer"]})
    assert [(s.line, s.reason.split(" ")[0:4]) for s in found.skipped] == [
        (22, ["The", "assertion", "type", "“javascript”"]),
        (28, ["its", "variable", "“question”", "is"]),
    ]
    assert "assertion at line 26" in found.skipped[0].reason
    assert found.report().startswith("2 cases read, 2 left out (line 22: ")


def test_a_bare_list_of_tests_is_a_promptfoo_tests_file():
    found = parse_yaml("- vars: {q: hi}\n  assert: [{type: equals, value: 4}]\n- description: empty\n")
    assert [c.vars for c in found.cases] == [{"q": "hi"}, {}]
    assert found.cases[0].assertions == [Assertion("equals", 4)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tests:\n  - vars: {q: [unclosed\n", "Line 3, column 1 is not valid YAML"),
        ("just a sentence\n", "Line 1: the tests must be a list"),
        ("prompts: [x]\n", "no `tests:` list"),
        ("tests: file://tests.csv\n", "Line 1: `tests` points at another file (file://tests.csv)"),
        ("tests:\n  - vars: {q: 1}\n  - 42\n", "Line 3: each test must be a mapping"),
        ("tests:\n  - vars: [a, b]\n", "Line 2: a test's vars must be a mapping"),
        ("tests:\n  - assert: {type: contains}\n", "Line 2: a test's assert must be a list"),
        ("tests:\n  - assert:\n      - contains\n", "Line 3: each assertion must be a mapping"),
        ("---\ntests: []\n---\ntests: []\n", "is not valid YAML"),
    ],
)
def test_a_yaml_file_of_the_wrong_shape_is_refused_naming_the_line(text, message):
    with pytest.raises(SuiteFileError) as caught:
        parse_yaml(text)
    assert message in str(caught.value)


CSV = """\
question,__expected1,__expected2,__description
What is 2+2?,contains: 4,regex:^\\d+$,math
"Capital of France, please",icontains:PARIS,"contains-any:Paris, Lyon",with a comma
Plain expected,Paris,,
Code,python: output == 'x',,left out
Graded,grade: Is it polite?,similar(0.9):Paris,
Not,not-contains:London,"latency(1500)",
"""


def test_promptfoo_csv_comes_in_with_both_spacings_and_unsupported_rows_by_line():
    found = parse_csv(CSV)
    assert [c.vars["question"] for c in found.cases] == [
        "What is 2+2?", "Capital of France, please", "Plain expected", "Graded", "Not",
    ]  # fmt: skip
    math, comma, plain, graded, negated = found.cases
    assert math.description == "math"
    assert math.assertions == [Assertion("contains", "4"), Assertion("regex", "^\\d+$")]
    assert comma.assertions == [Assertion("icontains", "PARIS"), Assertion("contains-any", ["Paris", "Lyon"])]
    assert plain.assertions == [Assertion("equals", "Paris")]
    assert graded.assertions == [Assertion("llm-rubric", "Is it polite?"), Assertion("similar", "Paris", 0.9)]
    assert negated.assertions == [Assertion("not-contains", "London"), Assertion("latency", None, 1500.0)]
    assert [s.line for s in found.skipped] == [5]
    assert "python" in found.skipped[0].reason


def test_csv_lines_count_quoted_line_breaks():
    text = 'q,__expected\n"two\nlines",contains:x\nok,javascript:1\n'
    found = parse_csv(text)
    assert found.cases[0].vars == {"q": "two\nlines"}
    assert [s.line for s in found.skipped] == [4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q,q\n1,2\n", "Line 1 names the column “q” twice"),
        ("q,\n1,2\n", "Line 1 has a column without a name"),
        ("q,__expected\n1,contains:a,extra\n", "Line 2 has 3 values and the header names 2 columns"),
        ('q,__expected\n"unclosed,contains:a\n', "is not valid CSV"),
        ("q,__expected\n", "a header and no rows"),
    ],
)
def test_a_malformed_csv_is_refused_naming_the_line(text, message):
    with pytest.raises(SuiteFileError) as caught:
        parse_csv(text)
    assert message in str(caught.value)


def test_files_too_large_empty_or_not_utf8_are_refused():
    with pytest.raises(SuiteFileError, match="the limit is 20 MB"):
        read_suite_file("big.csv", b"x" * (MAX_BYTES + 1))
    with pytest.raises(SuiteFileError, match="is empty"):
        read_suite_file("empty.yaml", b"  \n")
    with pytest.raises(SuiteFileError, match=r"not UTF-8 text \(line 2"):
        read_suite_file("latin.csv", "q\ncaf\xe9\n".encode("latin-1"))
    assert len(read_suite_file("tests.csv", "\ufeffq,__expected\nhi,contains:h\n".encode()).cases) == 1


def test_assertion_cells():
    assert assertion_from_text("contains: Paris") == Assertion("contains", "Paris")
    assert assertion_from_text("contains:Paris") == Assertion("contains", "Paris")
    assert assertion_from_text("is-json") == Assertion("is-json")
    assert assertion_from_text("Contains: Paris") == Assertion("equals", "Contains: Paris")
    assert assertion_from_text("cost(2)") == Assertion("cost", None, 2.0)


def test_yaml_and_csv_round_trip_what_each_can_hold():
    cases = [
        Case("capital", {"q": "France?"}, [], [Assertion("contains", "Paris"), Assertion("similar", "Paris", 0.8)]),
        Case("", {"q": "Sum"}, [], [Assertion("contains-all", ["1", "2"]), Assertion("cost", None, 5.0)]),
        Case("chat", {}, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], [
            Assertion("contains", "lo", turn=1)], replay=True),
    ]  # fmt: skip
    back = parse_yaml(to_yaml(cases, prompt="Q: {{q}}", description="demo"))
    assert back.prompt == "Q: {{q}}" and not back.skipped
    assert [(c.description, c.vars, c.messages, c.assertions, c.replay) for c in back.cases] == [
        (c.description, c.vars, c.messages, c.assertions, c.replay) for c in cases
    ]
    text, left_out = to_csv(cases)
    assert left_out == ["chat (a conversation: export YAML to keep it)"]
    again = parse_csv(text)
    assert [(c.vars, c.assertions) for c in again.cases] == [(c.vars, c.assertions) for c in cases[:2]]


def test_ten_thousand_cases_report_progress():
    rows = "\n".join(f"question {i},contains:{i}" for i in range(10_000))
    seen = []
    found = read_suite_file(
        "big.csv", f"question,__expected\n{rows}\n", lambda done, total: seen.append(done)
    )
    assert len(found.cases) == 10_000 and len(seen) >= 40 and seen[-1] == 10_001  # lines read, of 10,001
    yaml_text = to_yaml(found.cases)
    steps = []
    assert len(parse_yaml(yaml_text, lambda done, total: steps.append((done, total))).cases) == 10_000
    assert steps[-1] == (10_000, 10_000) and len(steps) == 41


def test_aliases_that_would_expand_into_gigabytes_are_refused_naming_the_line():
    """A kilobyte of anchors, each naming the one before ten times ("billion laughs"), must not fill the
    memory when a variable is written out as text; a few ordinary aliases still work."""
    lines = ["l0: &l0 {" + ", ".join(f'k{i}: "lollollollol"' for i in range(10)) + "}"]
    for n in range(1, 9):
        lines.append(f"l{n}: &l{n} {{" + ", ".join(f"k{i}: *l{n - 1}" for i in range(10)) + "}")
    laughs = (
        "defs:\n" + "\n".join("  " + line for line in lines) + "\ntests:\n  - description: boom\n"
        "    vars:\n      x: *l8\n    assert:\n      - type: contains\n        value: a\n"
    )
    assert len(laughs) < 2_000
    with pytest.raises(
        SuiteFileError, match=r"^Line 14: this value repeats YAML aliases into more than 20 MB"
    ):
        read_suite_file("laughs.yaml", laughs)

    reused = (
        "defs:\n  checks: &checks\n    - type: icontains\n      value: paris\n"
        "tests:\n  - vars: {city: Paris}\n    assert: *checks\n  - vars: {city: PARIS}\n    assert: *checks\n"
    )
    found = read_suite_file("reused.yaml", reused)
    assert [case.vars["city"] for case in found.cases] == ["Paris", "PARIS"]
    assert all(case.assertions[0].value == "paris" for case in found.cases)
