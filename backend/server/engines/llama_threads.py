"""How many CPU threads llama.cpp gets when STUDIO_MODEL_THREADS is unset: measured while it answers.

llama.cpp's threads meet at a barrier after every operation of every token. When the machine has other
work (the server's own threads, the studio's, other programs), a thread that loses its core stalls the
others at the next barrier, so the fastest count depends on the moment: on 2 idle cores 2 threads decode
about twice as fast as 1, and on 2 busy cores 1 thread beats 2. So the count is measured, not ruled:
each kind of decode step (one token, or a batch of several answers' tokens) has a tuner that times the
steps and, now and then, tries a neighbouring count for a few steps interleaved with the current one,
and keeps whichever was faster per token. The counts found are kept in the data folder, so the next
start begins from them.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_FILE = "model_threads.json"
FIRST_PROBE = 8  # steps before the first try of another count: a fresh start converges in one answer
PROBE_EVERY = 128  # steps between tries while the current count keeps winning, doubled each time...
PROBE_EVERY_MAX = 4096  # ...up to this many
PROBE_STEPS = 6  # steps of each count in a try, interleaved so both see the same load
MARGIN = 0.05  # another count must be this much faster per token to take over


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


class ThreadTuner:
    """Picks the thread count for the next step of one kind, from the times of the steps before."""

    def __init__(self, counts: list[int], start: int) -> None:
        self.counts = sorted(counts)
        self.current = min(self.counts, key=lambda n: (abs(n - start), n))
        self.switches = 0  # how often another count took over, for tests and logs
        self._every = PROBE_EVERY
        self._until_probe = FIRST_PROBE
        self._upward = True
        self._schedule: list[int] = []  # the counts of the try's remaining steps
        self._times: dict[int, list[float]] = {}

    @property
    def probing(self) -> bool:
        return bool(self._schedule)

    def next_threads(self) -> int:
        """The thread count for the next step of this kind."""
        if not self._schedule and self._until_probe <= 0:
            self._start_probe()
        return self._schedule[0] if self._schedule else self.current

    def record(self, threads: int, seconds_per_token: float) -> None:
        """How long the step just run with `threads` took per token."""
        if not self._schedule:
            self._until_probe -= 1
            return
        if threads != self._schedule[0]:
            return  # not the step the try asked for (the count was changed elsewhere)
        self._times.setdefault(threads, []).append(seconds_per_token)
        self._schedule.pop(0)
        if not self._schedule:
            self._decide()

    def _start_probe(self) -> None:
        index = self.counts.index(self.current)
        up = self.counts[index + 1] if index + 1 < len(self.counts) else None
        down = self.counts[index - 1] if index > 0 else None
        other = (up if self._upward else down) or up or down
        self._upward = not self._upward
        if other is None:  # one core: nothing to try
            self._until_probe = PROBE_EVERY_MAX
            return
        self._times = {}
        self._schedule = [self.current, other] * PROBE_STEPS

    def _decide(self) -> None:
        mine = statistics.median(self._times[self.current])
        other = next(n for n in self._times if n != self.current)
        if statistics.median(self._times[other]) < (1 - MARGIN) * mine:
            log.info("llama.cpp threads: %d now decode faster than %d.", other, self.current)
            self.current = other
            self.switches += 1
            self._every = PROBE_EVERY
        else:
            self._every = min(self._every * 2, PROBE_EVERY_MAX)
        self._until_probe = self._every


def saved_threads(cache_dir: Path | None, key: dict[str, Any]) -> dict[str, int]:
    """The counts kept by the last run with this model, machine and build; empty if none."""
    if cache_dir is None:
        return {}
    try:
        saved = json.loads((cache_dir / CACHE_FILE).read_text(encoding="utf-8"))
        if saved.get("key") != key:
            return {}
        return {kind: int(n) for kind, n in saved["threads"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # absent or unreadable: start from all cores


def save_threads(cache_dir: Path | None, key: dict[str, Any], threads: dict[str, int]) -> None:
    """Keep the counts for the next start; a read-only data folder only costs a re-measure."""
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / CACHE_FILE
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps({"key": key, "threads": threads}, indent=2), encoding="utf-8")
        temporary.replace(target)
    except OSError as exc:
        log.warning("Could not keep the measured thread counts in %s: %s", cache_dir, exc)


def cache_key(model_path: Path) -> dict[str, Any]:
    """What the best counts depend on: the model file, the cores, and the llama.cpp build."""
    import llama_cpp

    try:
        size = model_path.stat().st_size
    except OSError:  # the file went away since it was loaded: nothing will match this key
        size = -1
    return {
        "model": model_path.name,
        "size": size,
        "cores": cores(),
        "llama_cpp": getattr(llama_cpp, "__version__", "?"),
    }
