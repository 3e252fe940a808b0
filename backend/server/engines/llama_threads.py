"""How many CPU threads llama.cpp gets when STUDIO_MODEL_THREADS is unset: measured on this machine.

At the model's first load each candidate count decodes a few short answers through the real decoder,
one alone (llama.cpp's ``n_threads``, used for one token at a time) and as many as there are slots at once
(``n_threads_batch``, used for several tokens: batched answers and prompts); the fastest of each wins.
The choice is kept in the data folder, keyed by the model file, the cores and the llama.cpp build, so a
machine measures once; delete the file to measure again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from backend.server.engines.batch_decoder import BatchDecoder, Sequence

log = logging.getLogger(__name__)

CACHE_FILE = "model_threads.json"
PROBE_TEXT = "The history of the bicycle begins"
PROBE_TOKENS = 16
PROBE_ROUNDS = 2  # each candidate measured this many times, alternating, the best kept


@dataclass
class ThreadChoice:
    """Threads for one token at a time and for batches, where they came from, and what was measured."""

    n_threads: int
    n_threads_batch: int
    source: Literal["setting", "measured", "saved"]
    # tokens per second by thread count: "alone" for one answer, "batch" for every slot at once
    speeds: dict[str, dict[int, float]] = field(default_factory=dict)


def cores() -> int:
    """The cores this process may run on (a container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def candidates(available: int) -> list[int]:
    """Thread counts worth trying: 1, the powers of two below the cores, all cores but one, all cores."""
    counts = {1, available, max(available - 1, 1)}
    n = 2
    while n < available:
        counts.add(n)
        n *= 2
    return sorted(counts)


def choose_threads(decoder: BatchDecoder, model_path: Path, cache_dir: Path | None) -> ThreadChoice:
    """The saved choice for this model and machine, else a fresh measurement (saved when it can be)."""
    key = _key(model_path, decoder.slots)
    saved = _read(cache_dir, key)
    if saved is not None:
        return saved
    started = time.perf_counter()
    choice = measure(decoder)
    log.info(
        "Measured llama.cpp threads in %.1f s: %d alone, %d for batches (%s).",
        time.perf_counter() - started,
        choice.n_threads,
        choice.n_threads_batch,
        choice.speeds,
    )
    _write(cache_dir, key, choice)
    return choice


def measure(decoder: BatchDecoder, counts: list[int] | None = None) -> ThreadChoice:
    """Decode PROBE_TOKENS alone and in every slot at each thread count; the fastest of each wins."""
    counts = counts or candidates(cores())
    prompt = decoder.model.tokenize(PROBE_TEXT.encode("utf-8"), add_bos=True, special=False)
    _speed(decoder, prompt, decoder.slots)  # warm up: caches, memory pages, llama.cpp's thread pool
    alone: dict[int, float] = {}
    batch: dict[int, float] = {}
    for _ in range(PROBE_ROUNDS):
        for n in counts:
            decoder.set_threads(n, n)
            alone[n] = max(alone.get(n, 0.0), _speed(decoder, prompt, 1))
            if decoder.slots > 1:
                batch[n] = max(batch.get(n, 0.0), _speed(decoder, prompt, decoder.slots))
    best_alone = max(alone, key=alone.__getitem__)
    best_batch = max(batch, key=batch.__getitem__) if batch else best_alone
    return ThreadChoice(best_alone, best_batch, "measured", {"alone": alone, "batch": batch})


def _speed(decoder: BatchDecoder, prompt: list[int], count: int) -> float:
    """Tokens per second of `count` greedy answers decoded together, from submission to the last token."""
    sequences = [Sequence(prompt, PROBE_TOKENS, 0.0) for _ in range(count)]
    started = time.perf_counter()
    for seq in sequences:
        decoder.submit(seq)
    for seq in sequences:
        while seq.read() is not None:
            pass
    elapsed = time.perf_counter() - started
    return sum(seq.generated for seq in sequences) / elapsed if elapsed > 0 else 0.0


def _key(model_path: Path, slots: int) -> dict[str, Any]:
    import llama_cpp

    stat = model_path.stat()
    return {
        "model": model_path.name,
        "size": stat.st_size,
        "modified": int(stat.st_mtime),
        "cores": cores(),
        "slots": slots,
        "llama_cpp": getattr(llama_cpp, "__version__", "?"),
    }


def _read(cache_dir: Path | None, key: dict[str, Any]) -> ThreadChoice | None:
    if cache_dir is None:
        return None
    try:
        saved = json.loads((cache_dir / CACHE_FILE).read_text(encoding="utf-8"))
        if saved.get("key") != key:
            return None
        return ThreadChoice(int(saved["n_threads"]), int(saved["n_threads_batch"]), "saved")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent or unreadable: measure again


def _write(cache_dir: Path | None, key: dict[str, Any], choice: ThreadChoice) -> None:
    if cache_dir is None:
        return
    record = {"key": key, **asdict(choice)}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / CACHE_FILE
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, indent=2), encoding="utf-8")
        temporary.replace(target)
    except OSError as exc:  # a read-only data folder only costs a measurement at the next start
        log.warning("Could not keep the measured thread counts in %s: %s", cache_dir, exc)
