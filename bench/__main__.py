"""`python -m bench [--quick] [--only NAME[,NAME]] [--markdown FILE]`: run the benchmarks, print one table.

Each benchmark is its own module with `run(quick) -> list[Row]`; a goal missed is reported, never an
error. The exit status is 1 only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from bench.common import Row
from bench.report import load_average, table, write_markdown

# Name on the command line -> module; in the order they run.
BENCHMARKS = {
    "client": "bench.bench_client",
    "app": "bench.bench_app",
    "sessions": "bench.bench_sessions",
    "processes": "bench.bench_processes",
    "marketplace": "bench.bench_marketplace",
    "startup": "bench.bench_startup",
    "history": "bench.bench_history",
    "compare": "bench.bench_compare",
    "suites": "bench.bench_suites",
    "usage": "bench.bench_usage",
    "model": "bench.local_model",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke test, not a measurement")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help=f"run only these: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the table and the machine here"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    if unknown := [n for n in names if n not in BENCHMARKS]:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.only = names or list(BENCHMARKS)
    return args


def run_one(name: str, quick: bool) -> tuple[list[Row], bool]:
    """The rows of one benchmark, or one row saying why it could not run; and whether it ran."""
    started = time.monotonic()
    print(f"running {name} ...", file=sys.stderr, flush=True)
    try:
        rows = importlib.import_module(BENCHMARKS[name]).run(quick=quick)
    except Exception as err:  # one broken benchmark must not hide the others' results
        traceback.print_exc()
        return [Row(f"{name}: could not run", "-", f"{type(err).__name__}: {err}"[:160], "-", None)], False
    print(f"  {name} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return rows, True


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks in order, print the table, write the Markdown if asked."""
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    start_load = load_average()
    rows: list[Row] = []
    failed = False
    for name in args.only:
        found, ran = run_one(name, args.quick)
        rows += found
        failed |= not ran
    print(table(rows))
    if args.markdown is not None:
        command = "python -m bench" + (" --quick" if args.quick else "")
        if args.only != list(BENCHMARKS):
            command += " --only " + ",".join(args.only)
        write_markdown(
            args.markdown, rows, quick=args.quick, loads=(start_load, load_average()), command=command
        )
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
