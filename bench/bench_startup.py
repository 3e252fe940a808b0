"""Start-up of the real `python app.py` (echo engine) until its page answers, against a bare Gradio app;
and the resident memory of each, idle, and of the studio after one local-model answer.

The two launches alternate, in rotating order, each in a fresh process with a fresh data folder.
"""

from __future__ import annotations

import importlib.util
import time

import httpx

from bench.apps import app_py, bare_app
from bench.common import Row, endpoint_inputs, gradio_call, median, scratch_dir

GOAL = 1.5
SETTLE_S = 2.0  # idle time before reading the memory, so start-up garbage is gone
MODEL_TIMEOUT = 600.0


def launches(rounds: int, budget_s: float) -> dict[str, list[float]]:
    """Per round: each app's start-up time and its idle memory."""
    out: dict[str, list[float]] = {"studio": [], "bare": [], "studio_mb": [], "bare_mb": []}
    deadline = time.monotonic() + budget_s
    for index in range(rounds):
        for name in ("studio", "bare")[:: -1 if index % 2 else 1]:
            with scratch_dir() as data_dir, app_py(data_dir) if name == "studio" else bare_app() as running:
                out[name].append(running.ready_s)
                time.sleep(SETTLE_S)
                out[f"{name}_mb"].append(running.proc.rss_mb())
        if time.monotonic() > deadline:
            break
    return out


def model_memory() -> tuple[float, float] | str:
    """The studio's memory idle and after one answer of the local model; or why it was skipped."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "skipped: llama-cpp-python is not installed (pip install -e '.[local]')"
    with scratch_dir() as data_dir, app_py(data_dir, engine="llama") as running:
        time.sleep(SETTLE_S)
        idle = running.proc.rss_mb()
        with httpx.Client(timeout=MODEL_TIMEOUT) as http:
            inputs = endpoint_inputs(http, running.url, "chat")
            turn = gradio_call(
                http, running.url, "chat", inputs(message="Say hello in five words.", max_tokens=16)
            )
        if "Problem" in str(turn.data):
            return f"skipped: the local model did not answer ({str(turn.data)[:120]})"
        time.sleep(SETTLE_S)
        return idle, running.proc.rss_mb()


def run(quick: bool = False) -> list[Row]:
    """Start-up ratio, idle memory, and memory with the model loaded."""
    rounds, budget = (2, 120.0) if quick else (6, 400.0)
    out = launches(rounds, budget)
    studio, bare = median(out["studio"]), median(out["bare"])
    ratio = studio / bare
    rows = [
        Row(
            what="start-up: launch until the page answers",
            baseline=f"bare Gradio {bare:.2f} s",
            measured=f"{studio:.2f} s = {ratio:.2f}x",
            goal=f"<= {GOAL:g}x",
            met=ratio <= GOAL,
            note=f"median of {len(out['studio'])} launches each, alternating; app.py with the echo engine",
        ),
        Row(
            what="memory idle (RSS)",
            baseline=f"bare Gradio {median(out['bare_mb']):.0f} MiB",
            measured=f"{median(out['studio_mb']):.0f} MiB (+{median(out['studio_mb']) - median(out['bare_mb']):.0f})",
            goal="reported",
            met=None,
            note=f"{SETTLE_S:g} s after the page answered",
        ),
    ]
    loaded = model_memory() if not quick else "skipped in --quick"
    if isinstance(loaded, str):
        rows.append(Row("memory with the local model loaded (RSS)", "-", "-", "reported", None, loaded))
    else:
        idle, after = loaded
        rows.append(
            Row(
                what="memory with the local model loaded (RSS)",
                baseline=f"the same studio idle {idle:.0f} MiB",
                measured=f"{after:.0f} MiB (+{after - idle:.0f})",
                goal="reported",
                met=None,
                note="app.py with the llama engine, after one answer (SmolLM2-135M) through the chat endpoint",
            )
        )
    return rows
