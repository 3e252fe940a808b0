"""The results as a table for the terminal, and as BENCHMARKS.md with a description of the machine."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row

HEADERS = ("what", "baseline", "measured", "goal", "met?")
# Everything from this heading on is written by people, and kept when the results are written again.
FINDINGS = "## Findings"


def met_text(met: bool | None) -> str:
    """yes, NO, or - when there is nothing to judge."""
    return "-" if met is None else ("yes" if met else "NO")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.what, row.baseline, row.measured, row.goal, met_text(row.met))


def table(rows: list[Row]) -> str:
    """A plain-text table, then each row's note."""
    cells = [HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.what}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(rows: list[Row]) -> str:
    """The same table in Markdown, with a notes column."""
    lines = ["| " + " | ".join((*HEADERS, "notes")) + " |", "|" + "---|" * (len(HEADERS) + 1)]
    lines += ["| " + " | ".join(_md(c) for c in (*_cells(r), r.note)) + " |" for r in rows]
    return "\n".join(lines)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python, OS and date of this run."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    kib = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    os_name = next(
        (line.split("=", 1)[1].strip().strip('"') for line in _read("/etc/os-release").splitlines() if line.startswith("PRETTY_NAME=")),
        platform.system(),
    )  # fmt: skip
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{kib / 1024 / 1024:.1f} GiB",
        "Python": platform.python_version(),
        "OS": f"{os_name} (kernel {platform.release()})",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_average() -> str:
    """The 1-minute load average, to tell how busy the machine was."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def write_markdown(path: Path, rows: list[Row], *, quick: bool, loads: tuple[str, str], command: str) -> None:
    """Write the results and the machine to `path`, keeping the hand-written findings section if present."""
    kept = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if FINDINGS in old:
            kept = old[old.index(FINDINGS) :]
    info = machine()
    busy = float(loads[0]) >= 0.5 or float(loads[1]) >= 0.5 if "unknown" not in loads else True
    parts = [
        "# Benchmarks",
        "",
        "Every figure is against a baseline measured in the same run, interleaved (subject and baseline "
        "alternate, in rotating order), as medians or 95th percentiles. Reproduce with "
        f"`{command}`.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in info.items()),
        f"- load average (1 min) at start / end: {loads[0]} / {loads[1]}"
        + (" (other processes were running: expect noise)" if busy else ""),
        f"- mode: {'--quick (few rounds)' if quick else 'full'}",
        "",
        "## Results",
        "",
        markdown_table(rows),
        "",
    ]
    text = "\n".join(parts)
    path.write_text(text + ("\n" + kept if kept else ""), encoding="utf-8")
