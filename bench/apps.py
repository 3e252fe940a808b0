"""Start what is measured, each in its own process: the studio, the bare Gradio app, the local server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import LOOPBACK, PYTHON, Child, child, child_env, free_port, scratch_dir, wait_until_ok


@dataclass
class Running:
    """A started process: its page (if a Gradio app), its local server and key (if it has one)."""

    proc: Child
    url: str = ""
    api: str = ""
    key: str = ""
    ready_s: float = 0.0  # from process start until it answered


def _key(data_dir: Path) -> str:
    return (data_dir / "data" / "api_key").read_text(encoding="utf-8").strip()


def _runner_args(mode: str, data_dir: Path, **options: object) -> list[str]:
    args = [PYTHON, "-m", "bench.runner", mode, "--data-dir", str(data_dir)]
    for name, value in options.items():
        if value is True:
            args.append("--" + name.replace("_", "-"))
        elif value not in (None, False):
            args += ["--" + name.replace("_", "-"), str(value)]
    return args


@contextmanager
def studio(**options: object) -> Iterator[Running]:
    """The studio as app.py runs it (bench.runner studio), on a free port; options go to the runner."""
    port = free_port()
    with (
        scratch_dir() as data_dir,
        child(_runner_args("studio", data_dir, port=port, **options), child_env()) as proc,
    ):
        api = str(proc.json_line()["api"])
        url = f"http://{LOOPBACK}:{port}"
        ready = wait_until_ok(url + "/", proc=proc)
        yield Running(proc, url, api, _key(data_dir), ready - proc.started)


@contextmanager
def local_server(**options: object) -> Iterator[Running]:
    """The embedded local server alone (bench.runner server), answering with Server-Timing."""
    with scratch_dir() as data_dir, child(_runner_args("server", data_dir, **options), child_env()) as proc:
        api = str(proc.json_line()["api"])  # printed once the server answers
        yield Running(proc, "", api, _key(data_dir), time.perf_counter() - proc.started)


@contextmanager
def bare_app() -> Iterator[Running]:
    """The bare Gradio echo app (bench/bare_app.py) on a free port."""
    port = free_port()
    with child([PYTHON, "bench/bare_app.py", "--port", str(port)], child_env()) as proc:
        url = f"http://{LOOPBACK}:{port}"
        ready = wait_until_ok(url + "/", proc=proc)
        yield Running(proc, url, ready_s=ready - proc.started)


@contextmanager
def app_py(data_dir: Path, engine: str = "echo") -> Iterator[Running]:
    """The real `python app.py --port P`, configured only through STUDIO_* variables."""
    port = free_port()
    env = child_env(STUDIO_DATA_DIR=str(data_dir / "data"), STUDIO_ENGINES=f'{{"*": "{engine}"}}')
    with child([PYTHON, "app.py", "--port", str(port)], env) as proc:
        url = f"http://{LOOPBACK}:{port}"
        ready = wait_until_ok(url + "/", proc=proc)
        yield Running(proc, url, "", _key(data_dir), ready - proc.started)
