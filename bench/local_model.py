"""The local model through the local server against bare llama-cpp-python: rows from bench.bench_model."""

from __future__ import annotations

import importlib.util

from bench.common import Row

SPEED_GOAL = 0.9
TTFT_GOAL_MS = 50.0


def run(quick: bool = False) -> list[Row]:
    """Decode speed and time to first token, as bench.bench_model measures them (alternating, medians)."""
    if importlib.util.find_spec("llama_cpp") is None:
        note = "skipped: llama-cpp-python is not installed (pip install -e '.[local]')"
        return [
            Row("local model: tokens per second", "-", "-", f">= {SPEED_GOAL:g}x", None, note),
            Row("local model: time to first token", "-", "-", f"<= {TTFT_GOAL_MS:g} ms later", None, note),
        ]
    from bench import bench_model

    result = bench_model.run(runs=2 if quick else 7, max_tokens=32 if quick else 64)
    setup = f"{result['model']}, {result['n_threads']} threads, {result['max_tokens']} tokens, median of {result['runs']}"
    return [
        Row(
            what="local model: tokens per second",
            baseline=f"bare llama-cpp {result['bare_tok_s']:.1f} tok/s",
            measured=f"{result['server_tok_s']:.1f} tok/s = {result['tok_s_ratio']:.2f}x",
            goal=f">= {SPEED_GOAL:g}x",
            met=result["tok_s_ratio"] >= SPEED_GOAL,
            note=setup,
        ),
        Row(
            what="local model: time to first token",
            baseline=f"bare llama-cpp {result['bare_ttft_ms']:.1f} ms",
            measured=f"{result['server_ttft_ms']:.1f} ms = {result['ttft_diff_ms']:+.1f} ms",
            goal=f"<= {TTFT_GOAL_MS:g} ms later",
            met=result["ttft_diff_ms"] <= TTFT_GOAL_MS,
            note=setup,
        ),
    ]
