"""promptfoo's test files, in and out: the YAML `tests:` list and the CSV of variables and `__expected`.

Reading is all or nothing for the file's shape: a file that is not YAML or CSV, too large, or shaped
otherwise than promptfoo's (a `tests` that is not a list, a test that is not a mapping...) is refused with
a message naming the line and the problem, and nothing comes in. Within a well-shaped file, a case that uses
what the studio cannot evaluate (an assertion type it lacks, a list of values for a variable) is reported
with its line and left out; the rest come in.

What promptfoo has no place for travels in a test's `metadata` (which promptfoo keeps and ignores): the
messages of a conversation (`studio_messages`, `studio_replay`) and the assertions of a replayed turn
(`studio_turn_assertions`), so a suite exported and imported again comes back whole.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from studio.suites.model import (
    LIST_TYPES,
    PROMPTFOO_TYPES,
    SUPPORTED,
    Assertion,
    Case,
    SuiteError,
    split_list,
    unsupported,
)
from studio.text import counted

MAX_BYTES = 20 * 1024 * 1024
MAX_CASES = 50_000
PROGRESS_EVERY = 250
Progress = Callable[[int, int], None]  # (cases read, cases in the file)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10,000 cases in a second
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_CSV_ASSERTION = re.compile(r"^(not-)?([a-z][a-z0-9-]*)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$")
_LEGACY_CODE = ("javascript:", "fn:", "eval:", "python:", "file://")


class SuiteFileError(SuiteError):
    """The file cannot be imported at all; the message names the line and the problem."""


@dataclass(frozen=True)
class Skipped:
    """A case left out, where it is in the file, and why."""

    line: int
    reason: str

    def describe(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Imported:
    """What a file holds: the cases that come in, those left out, and the suite's prompt if the file has one."""

    cases: list[Case] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    prompt: str = ""
    notes: list[str] = field(default_factory=list)  # what was read but is not used, said once each

    def report(self, limit: int = 20, done: str = "read") -> str:
        """One paragraph for a person: how many came in (`done`: read, imported...), and which were left out
        and why."""
        parts = [f"{counted(len(self.cases), 'case')} {done}"]
        if self.skipped:
            shown = "; ".join(s.describe() for s in self.skipped[:limit])
            more = f"; and {len(self.skipped) - limit:,} more" if len(self.skipped) > limit else ""
            parts.append(f"{len(self.skipped):,} left out ({shown}{more})")
        text = ", ".join(parts) + "."
        return text + "".join(f" {note}" for note in self.notes)


class _Skip(Exception):
    """This case is left out; the message says why."""


# --- Reading ---------------------------------------------------------------------------------------------


def read_suite_file(name: str, content: bytes | str, progress: Progress | None = None) -> Imported:
    """Read a promptfoo test file: CSV by its `.csv` name, else YAML (JSON is YAML too)."""
    size = len(content)
    if size > MAX_BYTES:
        raise SuiteFileError(
            f"{name} is {size / 1_048_576:.1f} MB; the limit is {MAX_BYTES // 1_048_576} MB: split it into "
            "several suites."
        )
    text = _decode(name, content)
    if not text.strip():
        raise SuiteFileError(f"{name} is empty: it holds no test cases.")
    if name.lower().endswith((".csv", ".tsv")):
        return parse_csv(text, progress, delimiter="\t" if name.lower().endswith(".tsv") else ",")
    return parse_yaml(text, progress)


def _decode(name: str, content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = content[: err.start].count(b"\n") + 1
        raise SuiteFileError(
            f"{name} is not UTF-8 text (line {line}, byte {err.start + 1}): save it as UTF-8 and import it again."
        ) from err


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _value(node: yaml.Node) -> Any:
    _check_expanded_size(node)
    constructor = yaml.constructor.SafeConstructor()
    return constructor.construct_document(node)


def _check_expanded_size(node: yaml.Node) -> None:
    """Refuse a value whose aliases repeat it into more text than a whole file may hold: a few lines of
    anchors and aliases, each naming the one before ten times, would otherwise fill the memory when the
    value is written out as text ("billion laughs")."""
    budget = MAX_BYTES
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.ScalarNode):
            budget -= len(current.value) + 1
        elif isinstance(current, yaml.MappingNode):
            budget -= 1
            stack.extend(part for pair in current.value for part in pair)
        elif isinstance(current, yaml.SequenceNode):
            budget -= 1
            stack.extend(current.value)
        if budget < 0:
            raise SuiteFileError(
                f"Line {_line(node)}: this value repeats YAML aliases into more than {MAX_BYTES // 1_048_576} MB "
                "of text. Write the value out, or use fewer aliases."
            )


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _shape(node: yaml.Node, kind: type[yaml.Node], what: str) -> None:
    if not isinstance(node, kind):
        found = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}.get(type(node), "a single value")
        raise SuiteFileError(f"Line {_line(node)}: {what}, and this is {found}.")


def parse_yaml(text: str, progress: Progress | None = None) -> Imported:
    """promptfoo's YAML: a list of tests, or a config whose `tests:` is that list (with `prompts` and
    `defaultTest`, which are used when they fit)."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"Line {mark.line + 1}, column {mark.column + 1}" if mark else "The file"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SuiteFileError(f"{where} is not valid YAML: {problem}. Fix it and import again.") from err
    if root is None:
        raise SuiteFileError("The file is empty: it holds no test cases.")
    found = Imported()
    default_vars: dict[str, str] = {}
    default_asserts: list[Assertion] = []
    if isinstance(root, yaml.MappingNode):
        tests = _child(root, "tests")
        if tests is None:
            raise SuiteFileError(
                "The file has no `tests:` list: promptfoo's test cases are a list under `tests:` "
                "(or the whole file is that list)."
            )
        if isinstance(tests, yaml.ScalarNode):
            raise SuiteFileError(
                f"Line {_line(tests)}: `tests` points at another file ({tests.value}): import that file itself."
            )
        found.prompt = _prompt(_child(root, "prompts"), found)
        default_vars, default_asserts = _defaults(_child(root, "defaultTest"))
    else:
        tests = root
    _shape(tests, yaml.SequenceNode, "the tests must be a list, one item per case")
    items = tests.value
    if len(items) > MAX_CASES:
        raise SuiteFileError(f"The file has {len(items):,} cases; the limit is {MAX_CASES:,}: split it.")
    for index, item in enumerate(items):
        _shape(item, yaml.MappingNode, "each test must be a mapping (description, vars, assert)")
        try:
            found.cases.append(_yaml_case(item, default_vars, default_asserts))
        except _Skip as why:
            found.skipped.append(Skipped(_line(item), str(why)))
        if progress is not None and (index + 1) % PROGRESS_EVERY == 0:
            progress(index + 1, len(items))
    if progress is not None:
        progress(len(items), len(items))
    return found


def _prompt(node: yaml.Node | None, found: Imported) -> str:
    """The suite's prompt: the file's only prompt, when it is written out (not a file:// reference)."""
    if node is None:
        return ""
    value = _value(node)
    prompts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    texts = [p for p in prompts if isinstance(p, str) and not p.startswith("file://")]
    if len(prompts) == 1 and len(texts) == 1:
        return texts[0]
    found.notes.append(
        f"The file's prompts (line {_line(node)}) were not used: a suite has one prompt, typed out; set it "
        "in the suite."
    )
    return ""


def _defaults(node: yaml.Node | None) -> tuple[dict[str, str], list[Assertion]]:
    if node is None:
        return {}, []
    _shape(node, yaml.MappingNode, "defaultTest must be a mapping (vars, assert)")
    try:
        case = _yaml_case(node, {}, [])
    except _Skip as why:
        raise SuiteFileError(f"Line {_line(node)}: defaultTest cannot be used: {why}") from None
    return case.vars, case.assertions


def _yaml_case(
    node: yaml.MappingNode, default_vars: dict[str, str], default_asserts: list[Assertion]
) -> Case:
    description = _child(node, "description")
    vars_node = _child(node, "vars")
    assert_node = _child(node, "assert")
    metadata = _child(node, "metadata")
    values: dict[str, str] = dict(default_vars)
    if vars_node is not None and not _null(vars_node):
        if isinstance(vars_node, yaml.ScalarNode):
            raise _Skip(f"its vars come from another file ({vars_node.value}); write them in the test")
        _shape(vars_node, yaml.MappingNode, "a test's vars must be a mapping of names to values")
        for name, value in _value(vars_node).items():
            values[str(name)] = _var_text(str(name), value)
    assertions = list(default_asserts)
    if assert_node is not None and not _null(assert_node):
        _shape(assert_node, yaml.SequenceNode, "a test's assert must be a list of assertions")
        for item in assert_node.value:
            _shape(item, yaml.MappingNode, "each assertion must be a mapping (type, value, threshold)")
            assertions.append(_assertion(_value(item), _line(item)))
    case = Case(
        description=_text(_value(description)) if description is not None else "",
        vars=values,
        assertions=assertions,
    )
    if metadata is not None and isinstance(metadata, yaml.MappingNode):
        _studio_metadata(case, _value(metadata), _line(metadata))
    problem = case.problem()
    if problem:
        raise _Skip(problem)
    return case


def _null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _var_text(name: str, value: Any) -> str:
    if isinstance(value, list):
        raise _Skip(
            f"its variable “{name}” is a list, which promptfoo expands into one case per value: "
            "write one case per value"
        )
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith("file://"):
        raise _Skip(f"its variable “{name}” is read from another file ({value}): write the value out")
    return _text(value)


def _assertion(data: dict[str, Any], line: int) -> Assertion:
    kind = str(data.get("type") or "").strip()
    if kind in ("assert-set", "select-best") or kind not in SUPPORTED:
        raise _Skip(f"{unsupported(kind) if kind else 'an assertion has no type'} (assertion at line {line})")
    value = data.get("value")
    if kind.removeprefix("not-") in LIST_TYPES and isinstance(value, str):
        value = split_list(value)
    try:
        return Assertion.from_dict({"type": kind, "value": value, "threshold": data.get("threshold")})
    except SuiteError as err:
        raise _Skip(f"{err} (assertion at line {line})") from None


def _studio_metadata(case: Case, metadata: dict[str, Any], line: int) -> None:
    """The parts of a studio case that promptfoo has no place for, as the studio exports them."""
    messages = metadata.get("studio_messages")
    if messages is not None:
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
        ):
            raise SuiteFileError(f"Line {line}: studio_messages must be a list of role and content pairs.")
        case.messages = [{"role": str(m.get("role")), "content": m["content"]} for m in messages]
        case.replay = bool(metadata.get("studio_replay"))
    for item in metadata.get("studio_turn_assertions") or []:
        if not isinstance(item, dict):
            raise SuiteFileError(f"Line {line}: studio_turn_assertions must be a list of assertions.")
        assertion = _assertion(item, line)
        case.assertions.append(
            Assertion(assertion.type, assertion.value, assertion.threshold, item.get("turn"))
        )


def assertion_from_text(text: str) -> Assertion:
    """An `__expected` cell as promptfoo reads it: `type:value` (or `type: value`), `not-` forms,
    `similar(0.8):text`, `grade:` for llm-rubric; anything else is an expected answer (`equals`)."""
    if text.startswith(_LEGACY_CODE):
        kind = "python" if text.startswith("python:") else "javascript"
        raise _Skip(f"{unsupported(kind)} ({text.split(':', 1)[0]}:)")
    if text.startswith("grade:"):
        text = "llm-rubric:" + text[len("grade:") :]
    match = _CSV_ASSERTION.match(text)
    if match is None or match.group(2) not in PROMPTFOO_TYPES:
        return Assertion("equals", text)
    negated, kind, threshold, value = match.groups()
    kind = f"{'not-' if negated else ''}{kind}"
    if kind not in SUPPORTED:
        raise _Skip(unsupported(kind))
    if value is not None:
        value = value.lstrip(" \t")
    if kind.removeprefix("not-") in LIST_TYPES:
        value = split_list(value or "")
    try:
        return Assertion.from_dict({"type": kind, "value": value, "threshold": threshold})
    except SuiteError as err:
        raise _Skip(str(err)) from None


_CSV_SPECIAL = ("__description", "__expected")
_CSV_IGNORED = ("__prefix", "__suffix", "__metric", "__threshold", "__providerOutput", "__metadata")


def parse_csv(text: str, progress: Progress | None = None, delimiter: str = ",") -> Imported:
    """promptfoo's CSV: a header row; variables as columns, `__expected` (`__expected1`, ...) assertions,
    `__description`."""
    found = Imported()
    total = max(1, text.count("\n"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as err:
        raise SuiteFileError(f"Line 1 is not valid CSV: {err}. Fix it and import again.") from err
    header = [h.strip() for h in header]
    if not any(header):
        raise SuiteFileError("Line 1 must name the columns: the variables, __expected and __description.")
    seen: set[str] = set()
    for name in header:
        if not name:
            raise SuiteFileError("Line 1 has a column without a name: name every column, or remove it.")
        if name in seen:
            raise SuiteFileError(f"Line 1 names the column “{name}” twice: rename one of them.")
        seen.add(name)
    ignored = [h for h in header if h.startswith(_CSV_IGNORED)]
    unknown = [
        h for h in header if h.startswith("__") and not h.startswith(_CSV_SPECIAL) and h not in ignored
    ]
    if ignored or unknown:
        found.notes.append(f"The columns {', '.join(ignored + unknown)} are not used by the studio.")
    previous_end = reader.line_num
    count = 0
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise SuiteFileError(
                f"Line {reader.line_num} is not valid CSV: {err}. Fix it and import again."
            ) from err
        previous_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise SuiteFileError(
                f"Line {start} has {len(row)} values and the header names {len(header)} columns: quote values "
                "that hold a comma, or add the missing column names."
            )
        count += 1
        if count > MAX_CASES:
            raise SuiteFileError(f"The file has more than {MAX_CASES:,} cases: split it.")
        cells = dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))
        try:
            found.cases.append(_csv_case(cells))
        except _Skip as why:
            found.skipped.append(Skipped(start, str(why)))
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(min(previous_end, total), total)
    if progress is not None:
        progress(total, total)
    if not found.cases and not found.skipped:
        raise SuiteFileError("The file has a header and no rows: it holds no test cases.")
    return found


def _csv_case(cells: dict[str, str]) -> Case:
    case = Case()
    for name, value in cells.items():
        if name.startswith("__expected"):
            if value.strip():
                case.assertions.append(assertion_from_text(value))
        elif name == "__description":
            case.description = value
        elif not name.startswith("__"):
            case.vars[name] = value
    problem = case.problem()
    if problem:
        raise _Skip(problem)
    return case


# --- Writing ---------------------------------------------------------------------------------------------


def _assertion_entry(assertion: Assertion) -> dict[str, Any]:
    out: dict[str, Any] = {"type": assertion.type}
    if assertion.value is not None:
        out["value"] = assertion.value
    if assertion.threshold is not None:
        out["threshold"] = assertion.threshold
    return out


def to_yaml(cases: list[Case], prompt: str = "", description: str = "") -> str:
    """The cases as promptfoo's YAML config (`prompts` holds the suite's prompt when it has one)."""
    tests: list[dict[str, Any]] = []
    for case in cases:
        test: dict[str, Any] = {}
        if case.description:
            test["description"] = case.description
        if case.vars:
            test["vars"] = dict(case.vars)
        plain = [a for a in case.assertions if a.turn is None]
        if plain:
            test["assert"] = [_assertion_entry(a) for a in plain]
        metadata: dict[str, Any] = {}
        if case.messages:
            metadata["studio_messages"] = [dict(m) for m in case.messages]
            if case.replay:
                metadata["studio_replay"] = True
        per_turn = [a for a in case.assertions if a.turn is not None]
        if per_turn:
            metadata["studio_turn_assertions"] = [{**_assertion_entry(a), "turn": a.turn} for a in per_turn]
        if metadata:
            test["metadata"] = metadata
        tests.append(test)
    document: dict[str, Any] = {}
    if description:
        document["description"] = description
    if prompt:
        document["prompts"] = [prompt]
    document["tests"] = tests
    return yaml.dump(document, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=110)


def _assertion_text(assertion: Assertion) -> str:
    value = assertion.value
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    head = assertion.type
    if assertion.base in ("cost", "latency"):
        return f"{head}({assertion.limit():g})"
    if assertion.threshold is not None:
        head += f"({assertion.threshold:g})"
    return head if value is None else f"{head}:{value}"


def to_csv(cases: list[Case]) -> tuple[str, list[str]]:
    """The cases as promptfoo's CSV, and what could not be written (conversations have no CSV form)."""
    names: dict[str, None] = {}
    for case in cases:
        names.update(dict.fromkeys(case.vars))
    width = max((len(c.assertions) for c in cases), default=0)
    expected = ["__expected"] if width == 1 else [f"__expected{i + 1}" for i in range(width)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*names, "__description", *expected])
    left_out: list[str] = []
    for index, case in enumerate(cases):
        if case.messages or any(a.turn is not None for a in case.assertions):
            left_out.append(f"{case.label(index)} (a conversation: export YAML to keep it)")
            continue
        cells = [_assertion_text(a) for a in case.assertions]
        writer.writerow(
            [case.vars.get(n, "") for n in names] + [case.description] + cells + [""] * (width - len(cells))
        )
    return out.getvalue(), left_out
