"""kill -9 of a studio in the middle of saves loses no version whose save was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from studio.store import StoreHandle

REPO = Path(__file__).resolve().parents[2]
ACKNOWLEDGED = 40

# A studio saving versions as fast as it can; a line on stdout is its acknowledgement of one save.
SAVER = textwrap.dedent(
    """
    import sys
    from studio.store import StoreHandle

    history = StoreHandle(sys.argv[1]).get().history
    number = 0
    while True:
        number += 1
        saved = history.record("srv", {"id": "asst_1", "name": "A", "model": "m",
                                       "instructions": f"text {number}", "description": ""}, "save")
        print(saved.number, flush=True)
    """
)


def test_versions_acknowledged_before_a_kill_are_all_there(store_url):
    saver = subprocess.Popen(
        [sys.executable, "-c", SAVER, store_url], stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    acknowledged: list[int] = []
    try:
        assert saver.stdout is not None
        while len(acknowledged) < ACKNOWLEDGED:
            line = saver.stdout.readline()
            assert line, "the saving process ended before it was killed"
            acknowledged.append(int(line))
    finally:
        os.kill(saver.pid, signal.SIGKILL)
        saver.wait()
    handle = StoreHandle(store_url)
    try:
        history = handle.get().history
        kept = {v.number for v in history.page("srv", "asst_1", 1, size=10_000).versions}
        assert set(acknowledged) <= kept
        for number in acknowledged:
            assert history.get("srv", "asst_1", number).instructions == f"text {number}"
    finally:
        handle.close()
