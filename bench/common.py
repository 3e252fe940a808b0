"""What every benchmark shares: the result row, the statistics, child processes, and Gradio's HTTP API."""

from __future__ import annotations

import json
import math
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 120.0  # seconds a child process may take to answer
CALL_TIMEOUT = 60.0  # seconds one measured request may take before the benchmark gives up


@dataclass
class Row:
    """One line of the table: what was measured, against what, the goal, and whether it was met."""

    what: str
    baseline: str
    measured: str
    goal: str
    met: bool | None  # None: nothing to judge (reported only, or skipped)
    note: str = ""


# --- Statistics --------------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    """The median; NaN for no values."""
    data = list(values)
    return statistics.median(data) if data else float("nan")


def p95(values: Iterable[float]) -> float:
    """The 95th percentile by nearest rank; NaN for no values."""
    data = sorted(values)
    return data[max(0, math.ceil(0.95 * len(data)) - 1)] if data else float("nan")


def ms(seconds: float) -> float:
    """Seconds as milliseconds."""
    return seconds * 1000.0


def rounds_of(
    subjects: dict[str, Callable[[], float]], rounds: int, budget_s: float
) -> dict[str, list[float]]:
    """Run each subject once per round, rotating the order each round; stop early when over budget."""
    names = list(subjects)
    results: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.monotonic() + budget_s
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(subjects[name]())
        if time.monotonic() > deadline:
            break
    return results


# --- Child processes -----------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: no studio settings from outside, nothing sent off the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    env.update(PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


@dataclass
class Child:
    """A process this benchmark started, with its output lines collected by a reader thread."""

    process: subprocess.Popen[str]
    started: float
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def json_line(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """The first output line that is a JSON object."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(
            f"the child {self.process.args!r} printed no JSON line (exit {self.process.poll()})"
        )

    def rss_mb(self) -> float:
        """The resident memory of the process, in MiB, from /proc."""
        status = Path(f"/proc/{self.process.pid}/status").read_text(encoding="utf-8")
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return kib / 1024.0

    def stop(self) -> None:
        """End the process: politely, then by force."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


@contextmanager
def child(args: list[str], env: dict[str, str]) -> Iterator[Child]:
    """Start `args` from the repository folder; stopped on leaving."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    running = Child(process, started)
    threading.Thread(target=_pump, args=(process.stdout, running.lines), daemon=True).start()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A fresh data folder, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_until_ok(url: str, timeout: float = START_TIMEOUT, proc: Child | None = None) -> float:
    """Poll `url` until it answers 200; return the perf_counter time it did."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if proc is not None and proc.process.poll() is not None:
                raise RuntimeError(f"{proc.process.args!r} exited with {proc.process.returncode}")
            try:
                if http.get(url).status_code == 200:
                    return time.perf_counter()
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


@contextmanager
def store_urls() -> Iterator[dict[str, str]]:
    """The studio's store on {"SQLite": url, "PostgreSQL": url}; PostgreSQL (Debian's, started in a temporary
    folder as the tests start it) is left out, and the table says so, if it cannot start."""
    from tests.postgres import postgres_server

    with scratch_dir() as folder, ExitStack() as stack:
        urls = {"SQLite": f"sqlite:///{folder / 'workbench.db'}"}
        with suppress(RuntimeError, OSError, subprocess.CalledProcessError):
            urls["PostgreSQL"] = stack.enter_context(postgres_server()).create_database()
        yield urls


# --- Gradio's HTTP API: POST /gradio_api/call/<api>, then read the event's SSE stream ------------------


@dataclass
class Turn:
    """One call through Gradio's API: when it was sent, when the first matching update and the end came."""

    started: float
    first: float | None = None
    ended: float | None = None
    updates: int = 0
    data: Any = None

    @property
    def total_s(self) -> float:
        return (self.ended or float("nan")) - self.started

    @property
    def first_s(self) -> float:
        return (self.first or float("nan")) - self.started


class _Reader:
    """Reads the `event:`/`data:` lines of one call; notes the first update that `wanted` accepts."""

    def __init__(
        self,
        turn: Turn,
        wanted: Callable[[Any], bool] | None,
        watch: Callable[[Any, float], None] | None = None,
    ) -> None:
        self.turn, self.wanted, self.watch, self.event = turn, wanted, watch, ""

    def feed(self, line: str) -> bool:
        """Take one line; True once the call is over."""
        if line.startswith("event:"):
            self.event = line[6:].strip()
            return False
        if not line.startswith("data:") or self.event not in ("generating", "complete", "error"):
            return False
        now = time.perf_counter()
        data = json.loads(line[5:])
        if self.event == "error":
            raise RuntimeError(f"the app answered with an error: {data!r}")
        self.turn.updates += 1
        self.turn.data = data
        if self.watch is not None:
            self.watch(data, now)
        if self.turn.first is None and (self.wanted is None or self.wanted(data)):
            self.turn.first = now
        if self.event == "complete":
            self.turn.ended = now
            return True
        return False


def endpoint_inputs(http: httpx.Client, base: str, api: str) -> Callable[..., list[Any]]:
    """A builder of endpoint `api`'s inputs (from /gradio_api/info): given values by name, the rest default."""
    info = http.get(f"{base}/gradio_api/info").raise_for_status().json()
    parameters = info["named_endpoints"]["/" + api]["parameters"]
    names = [p.get("parameter_name") for p in parameters]
    defaults = [p.get("parameter_default") for p in parameters]

    def build(**values: Any) -> list[Any]:
        if missing := set(values) - set(names):
            raise RuntimeError(f"the {api} endpoint has no parameter {sorted(missing)}")
        return [values.get(name, default) for name, default in zip(names, defaults, strict=True)]

    return build


def _body(data: list[Any], session: str | None) -> dict[str, Any]:
    return {"data": data} if session is None else {"data": data, "session_hash": session}


def gradio_call(
    http: httpx.Client,
    base: str,
    api: str,
    data: list[Any],
    wanted: Callable[[Any], bool] | None = None,
    session: str | None = None,
    watch: Callable[[Any, float], None] | None = None,
) -> Turn:
    """Call endpoint `api` and read its events to the end; a `session` keeps gr.State across calls.
    `watch(data, time)` sees every update as it comes."""
    turn = Turn(time.perf_counter())
    response = http.post(f"{base}/gradio_api/call/{api}", json=_body(data, session))
    response.raise_for_status()
    reader = _Reader(turn, wanted, watch)
    with http.stream("GET", f"{base}/gradio_api/call/{api}/{response.json()['event_id']}") as stream:
        stream.raise_for_status()
        for line in stream.iter_lines():
            if reader.feed(line):
                break
    if turn.ended is None:
        raise RuntimeError(f"the call to {api} ended without its result")
    return turn


async def agradio_call(
    http: httpx.AsyncClient,
    base: str,
    api: str,
    data: list[Any],
    wanted: Callable[[Any], bool] | None = None,
    session: str | None = None,
) -> Turn:
    """`gradio_call` for an async client."""
    turn = Turn(time.perf_counter())
    response = await http.post(f"{base}/gradio_api/call/{api}", json=_body(data, session))
    response.raise_for_status()
    reader = _Reader(turn, wanted)
    async with http.stream("GET", f"{base}/gradio_api/call/{api}/{response.json()['event_id']}") as stream:
        stream.raise_for_status()
        async for line in stream.aiter_lines():
            if reader.feed(line):
                break
    if turn.ended is None:
        raise RuntimeError(f"the call to {api} ended without its result")
    return turn


def direct_stream(http: httpx.Client, api: str, key: str, message: str) -> tuple[float, float]:
    """One streamed /generate read straight from the local server: (first delta, end) in seconds."""
    body = {"model": "gpt-5-nano", "messages": [{"role": "user", "content": message}], "stream": True}
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    started, first = time.perf_counter(), None
    with http.stream("POST", f"{api}/generate", json=body, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data:") and '"content_delta"' in line:
                first = time.perf_counter()
            if line.startswith("data:") and '"generation_end"' in line:
                break
    end = time.perf_counter()
    return (first or end) - started, end - started


def fmt_ms(value: float) -> str:
    """A duration in ms for the table."""
    return f"{value:.1f} ms"
