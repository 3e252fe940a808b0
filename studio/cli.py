"""`assistant-studio test`: run a promptfoo test file against an assistant, for CI.

    assistant-studio test SUITE_FILE --assistant ID [--version N | --label NAME] [--model M]
        [--prompt TEMPLATE] [--concurrency N] [--repeat N] [--judge MODEL] [--min-pass-rate R] [--junit FILE]

It talks to the server the settings name (the embedded local one by default, as the studio does), prints a
summary table, writes JUnit XML, and exits 0 when the pass rate reaches the threshold, 1 when it does not,
2 for a usage error (options, the file, an unknown assistant or version), 3 when the settings are not
usable or the server cannot be reached. The run is stored, like the studio's, when the store can be opened.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError, describe_error
from studio.suites.files import SuiteFileError, read_suite_file
from studio.suites.junit import write_junit
from studio.suites.model import Suite
from studio.suites.results import CaseResult, TargetSummary, pass_rate, summarize

if TYPE_CHECKING:
    from backend.connection import Connection

EXIT_OK = 0
EXIT_BELOW = 1  # the pass rate is below the threshold
EXIT_USAGE = 2  # the options, the file, the assistant or the version are not usable
EXIT_SERVER = 3  # the settings are not usable, or the server cannot be reached
PROGRESS_SECONDS = 2.0


class UsageError(StudioError):
    """The command cannot run as asked; the message says what to change."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="assistant-studio test",
        description="Run a promptfoo test file (YAML or CSV) against one of your assistants.",
    )
    parser.add_argument("suite_file", type=Path, metavar="SUITE_FILE", help="promptfoo YAML (tests:) or CSV")
    parser.add_argument("--assistant", required=True, metavar="ID", help="the assistant to test")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", metavar="N", help="a version number from the studio's history")
    which.add_argument("--label", metavar="NAME", help="the version with this label, e.g. production")
    parser.add_argument("--model", default="", metavar="M", help="a model override")
    parser.add_argument("--prompt", metavar="TEMPLATE", help="the user message, with {{variables}}")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N", help="calls at once (default 4)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="answers per case (default 1)")
    parser.add_argument(
        "--judge", default="", metavar="MODEL", help="llm-rubric's judge: a model or assistant:ID"
    )
    parser.add_argument(
        "--min-pass-rate", type=float, default=1.0, metavar="R",
        help="the least share of passing answers, 0 to 1 (default 1: every one)",
    )  # fmt: skip
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    return parser.parse_args(argv)


def _fail(message: str, code: int) -> int:
    print(f"assistant-studio test: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    try:
        args = parse_args(list(sys.argv[2:] if argv is None else argv))
    except SystemExit as stop:  # argparse has printed what is wrong
        return EXIT_OK if stop.code == 0 else EXIT_USAGE
    if not 0 <= args.min_pass_rate <= 1:
        return _fail(f"--min-pass-rate is a share from 0 to 1, not {args.min_pass_rate:g}.", EXIT_USAGE)
    try:
        content = args.suite_file.read_bytes()
    except OSError as err:
        return _fail(f"cannot read {args.suite_file}: {err.strerror or err}.", EXIT_USAGE)
    try:
        found = read_suite_file(args.suite_file.name, content)
    except SuiteFileError as err:
        return _fail(f"{args.suite_file}: {err}", EXIT_USAGE)
    if found.skipped or found.notes:
        print(f"{args.suite_file}: {found.report()}", file=sys.stderr)

    connection = _connect()
    if isinstance(connection, int):
        return connection
    try:
        return asyncio.run(
            _run(connection, args, found.cases, args.prompt if args.prompt is not None else found.prompt)
        )
    except KeyboardInterrupt:
        return _fail("stopped; what finished is kept in the store.", 130)
    finally:
        connection.close()


def _connect() -> Connection | int:
    """The connection the settings name, or the exit code after saying why there is none."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from backend.connection import open_connection
    from backend.errors import redact
    from backend.settings import Settings

    try:
        settings = Settings()
    except (ValidationError, SettingsError) as err:
        return _fail(f"a setting is not valid: {redact(str(err).splitlines()[0])}", EXIT_SERVER)
    try:
        return open_connection(settings)
    except Exception as err:  # any failure to connect is one line, never a traceback
        return _fail(f"could not open the connection: {redact(str(err))}", EXIT_SERVER)


async def _run(connection: Connection, args: argparse.Namespace, cases: list, prompt: str) -> int:
    from backend.errors import APIConnectionError, AssistantsError, AuthenticationError, NotFoundError
    from backend.settings import Settings
    from studio.library import AssistantLibrary
    from studio.servers import server_key
    from studio.store import StoreHandle, store_url
    from studio.suites.runner import RunOptions, SuiteRun, TargetSpec, resolve_targets

    settings = connection.settings or Settings(_env_file=None)
    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    store = StoreHandle(store_url(database_url, settings.data_dir))
    key = server_key(connection.base_url, local_data_dir=settings.data_dir if connection.server else None)
    library = AssistantLibrary(connection.client, store, key)
    options = RunOptions(repeats=args.repeat, concurrency=args.concurrency)
    spec = TargetSpec(version=args.version or args.label or "", model=args.model)
    try:
        try:
            targets = await resolve_targets(library, args.assistant, [spec], options.checked())
        except (APIConnectionError, AuthenticationError) as err:
            return _fail(f"{connection.label} cannot be used: {err.user_message}", EXIT_SERVER)
        except NotFoundError:
            return _fail(
                f"there is no assistant {args.assistant} on {connection.label}: check --assistant.",
                EXIT_USAGE,
            )
        except AssistantsError as err:
            return _fail(err.user_message, EXIT_SERVER)
        except StudioError as err:
            return _fail(describe_error(err), EXIT_USAGE)
        suite = Suite(
            args.suite_file.name,
            args.assistant,
            prompt,
            args.judge,
            lineage=_lineage(store, key, args.assistant),
        )
        try:
            run = SuiteRun(library, suite, cases, targets, options, log=store.log, origin="cli")
        except StudioError as err:
            return _fail(describe_error(err), EXIT_USAGE)
        print(
            f"Testing {args.assistant} ({targets[0].label}) on {connection.label}: {len(cases):,} cases.",
            file=sys.stderr,
        )
        results = await _follow(run)
        if run.progress.problem:
            print(f"assistant-studio test: {run.progress.problem}", file=sys.stderr)
        labels = run.info().target_labels()
        print(summary_table(summarize(results, labels)))
        print(failure_lines(results))
        if args.junit is not None:
            try:
                write_junit(args.junit, suite.name, labels, results, args.repeat)
            except OSError as err:
                return _fail(
                    f"cannot write the JUnit report to {args.junit}: {err.strerror or err}. "
                    "Give --junit a path in a folder you can write to.",
                    EXIT_USAGE,
                )
        rate = pass_rate(results) or 0.0
        verdict = "meets" if rate >= args.min_pass_rate else "is below"
        print(f"Pass rate {rate:.1%} {verdict} the threshold of {args.min_pass_rate:.1%}.")
        return EXIT_OK if rate >= args.min_pass_rate else EXIT_BELOW
    finally:
        store.close()
        await connection.client.close()


def _lineage(store: Any, server: str, assistant_id: str) -> str:
    with contextlib.suppress(Exception):  # no store: the id is its own lineage
        return store.get().history.lineage_of(server, assistant_id) or assistant_id
    return assistant_id


async def _follow(run: Any) -> list[CaseResult]:
    """Run, telling stderr how far it got every few seconds."""
    task = asyncio.create_task(run.execute())
    last = time.monotonic()
    while not task.done():
        await asyncio.wait({task}, timeout=0.2)
        if time.monotonic() - last >= PROGRESS_SECONDS and not task.done():
            print(f"  {run.progress.describe()}", file=sys.stderr, flush=True)
            last = time.monotonic()
    return task.result()


def summary_table(summaries: list[TargetSummary]) -> str:
    """One line per target: passed, failed, errors, pass rate, tokens, latency."""
    header = ("target", "passed", "failed", "errors", "pass rate", "tokens", "median ms", "p95 ms")
    rows = [header] + [
        (
            s.label, str(s.passed), str(s.failed), str(s.errors),
            "-" if s.pass_rate is None else f"{s.pass_rate:.1%}", f"{s.tokens_used + s.judge_tokens:,}",
            "-" if s.latency_median_ms is None else f"{s.latency_median_ms:,.0f}",
            "-" if s.latency_p95_ms is None else f"{s.latency_p95_ms:,.0f}",
        )
        for s in summaries
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def failure_lines(results: list[CaseResult], limit: int = 20) -> str:
    """The cases that did not pass, with their reasons (the first `limit`)."""
    failed = [
        r for r in sorted(results, key=lambda r: (r.case_index, r.target, r.repeat)) if r.status != "pass"
    ]
    if not failed:
        return "Every case passed."
    lines = []
    for result in failed[:limit]:
        lines.append(f"{result.status.upper()} {result.description} (target {result.target + 1})")
        lines += [f"    {line}" for line in result.reasons().splitlines() if not line.startswith("[pass]")]
    if len(failed) > limit:
        lines.append(f"... and {len(failed) - limit:,} more (see the JUnit file or the studio).")
    return "\n".join(lines)
