"""JUnit XML for CI systems: one <testsuite> per target, one <testcase> per case (and repeat).

A failed assertion is a <failure>, a call or check that could not be made an <error>; their text lists
every assertion's result and reason, and the answer goes to <system-out>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from studio.suites.results import CaseResult


def _seconds(result: CaseResult) -> str:
    return f"{(result.latency_ms or 0.0) / 1000:.3f}"


def junit_xml(suite_name: str, labels: list[str], results: list[CaseResult], repeats: int = 1) -> bytes:
    """The results as a JUnit XML document."""
    root = ET.Element("testsuites", name=suite_name)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for index, label in enumerate(labels):
        mine = sorted((r for r in results if r.target == index), key=lambda r: (r.case_index, r.repeat))
        counts = {
            "tests": len(mine),
            "failures": sum(r.status == "fail" for r in mine),
            "errors": sum(r.status == "error" for r in mine),
        }
        for key, value in counts.items():
            totals[key] += value
        time = sum((r.latency_ms or 0.0) for r in mine) / 1000
        element = ET.SubElement(
            root,
            "testsuite",
            name=f"{suite_name} · {label}",
            time=f"{time:.3f}",
            **{k: str(v) for k, v in counts.items()},
        )
        for result in mine:
            name = result.description + (f" (repeat {result.repeat + 1})" if repeats > 1 else "")
            case = ET.SubElement(
                element, "testcase", classname=f"{suite_name}.{label}", name=name, time=_seconds(result)
            )
            if result.status != "pass":
                first = next((o.reason for o in result.outcomes if o.status == result.status), result.error)
                tag = "failure" if result.status == "fail" else "error"
                ET.SubElement(
                    case, tag, message=first or result.status, type=result.status
                ).text = result.reasons()
            if result.answer:
                ET.SubElement(case, "system-out").text = result.answer
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(
    path: Path, suite_name: str, labels: list[str], results: list[CaseResult], repeats: int = 1
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(suite_name, labels, results, repeats))
