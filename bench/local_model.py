"""The local model through the local server: one answer against bare llama-cpp-python at its best, and
several answers at once against one alone and the one-slot queue (bench.bench_model, bench.bench_model_batch)."""

from __future__ import annotations

import importlib.util

from bench.common import Row

SPEED_GOAL = 0.9
TTFT_GOAL_MS = 20.0
BATCH_GOAL = 2.0
CONCURRENCY = 4


def run(quick: bool = False) -> list[Row]:
    """Rows for one answer (speed, first token) and for CONCURRENCY answers at once."""
    names = [
        "local model: tokens per second",
        "local model: tokens per second, same threads",
        "local model: time to first token",
        f"local model: {CONCURRENCY} at once, total tokens per second",
        f"local model: {CONCURRENCY} at once, each first token",
        f"local model: {CONCURRENCY} at once, a Q4_0 copy of the model",
    ]
    if importlib.util.find_spec("llama_cpp") is None:
        note = "skipped: llama-cpp-python is not installed (pip install -e '.[local]')"
        return [Row(name, "-", "-", "-", None, note) for name in names]
    import tempfile
    from pathlib import Path

    from bench import bench_model, bench_model_batch

    one = bench_model.run(runs=2 if quick else 9, max_tokens=32 if quick else 64)
    many = bench_model_batch.run(
        rounds=1 if quick else 5, concurrency=CONCURRENCY, max_tokens=32 if quick else 64
    )
    # The bundled file's Q4_1 weights have no batched kernel on the CPU; the same weights as Q4_0 do.
    with tempfile.TemporaryDirectory() as folder:
        q4_0 = bench_model_batch.run(
            rounds=1 if quick else 3,
            concurrency=CONCURRENCY,
            max_tokens=32 if quick else 64,
            model_path=bench_model_batch.quantized_copy(Path(folder)),
        )
    bare = ", ".join(f"{n} threads {speed:.1f}" for n, speed in one["bare_tok_s_by_threads"].items())
    setup = (
        f"{one['model']}, {one['cores']} cores, server on {one['server_threads']} threads "
        f"({one['threads_source']}), {one['max_tokens']} tokens, median of {one['runs']}"
    )
    same = one["same_threads_bare_tok_s"]
    many_setup = (
        f"{many['slots']} slots, threads {many['n_threads']}/{many['n_threads_batch']}, "
        f"{many['max_tokens']} tokens each, medians of {many['rounds']} rounds"
    )
    late = [t <= q for t, q in zip(many["together_ttft_ms"], many["queue_ttft_ms"], strict=True)]
    return [
        Row(
            what=names[0],
            baseline=f"best bare llama-cpp ({one['best_bare_threads']} threads) {one['best_bare_tok_s']:.1f} tok/s",
            measured=f"{one['server_tok_s']:.1f} tok/s = {one['tok_s_ratio']:.2f}x",
            goal=f">= {SPEED_GOAL:g}x",
            met=one["tok_s_ratio"] >= SPEED_GOAL,
            note=f"{setup}; bare by threads: {bare}",
        ),
        Row(
            what=names[1],
            baseline=f"bare llama-cpp, {one['server_threads']} threads {same:.1f} tok/s" if same else "-",
            measured=f"{one['server_tok_s']:.1f} tok/s = {one['same_threads_ratio']:.2f}x" if same else "-",
            goal="(for comparison)",
            met=None,
            note=setup,
        ),
        Row(
            what=names[2],
            baseline=f"best bare llama-cpp {one['best_bare_ttft_ms']:.1f} ms",
            measured=f"{one['server_ttft_ms']:.1f} ms = {one['ttft_diff_ms']:+.1f} ms",
            goal=f"<= {TTFT_GOAL_MS:g} ms later",
            met=one["ttft_diff_ms"] <= TTFT_GOAL_MS,
            note=setup,
        ),
        Row(
            what=names[3],
            baseline=f"one alone {many['alone_tok_s']:.1f} tok/s",
            measured=f"{many['together_tok_s']:.1f} tok/s = {many['speedup']:.2f}x",
            goal=f">= {BATCH_GOAL:g}x",
            met=many["speedup"] >= BATCH_GOAL,
            note=f"{many_setup}; the one-slot queue: {many['queue_tok_s']:.1f} tok/s",
        ),
        Row(
            what=names[4],
            baseline="the queue: " + " / ".join(f"{q:.0f}" for q in many["queue_ttft_ms"]) + " ms",
            measured=" / ".join(f"{t:.0f}" for t in many["together_ttft_ms"]) + " ms",
            goal="each no later than in the queue",
            met=all(late),
            note=f"{many_setup}; first, second, ... request of the burst; one alone {many['alone_ttft_ms']:.0f} ms",
        ),
        Row(
            what=names[5],
            baseline=f"one alone {q4_0['alone_tok_s']:.1f} tok/s",
            measured=f"{q4_0['together_tok_s']:.1f} tok/s = {q4_0['speedup']:.2f}x",
            goal="(for comparison)",
            met=None,
            note=f"{q4_0['model']} made by llama.cpp from the bundled file; threads {q4_0['n_threads']}/"
            f"{q4_0['n_threads_batch']}, medians of {q4_0['rounds']} rounds",
        ),
    ]
