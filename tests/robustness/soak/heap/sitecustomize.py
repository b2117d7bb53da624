"""Loaded by the soak's gateway when the soak runs with `--tracemalloc DIR` (this folder is put
first on its PYTHONPATH): once the gateway has started, trace allocations and write a heap
snapshot to DIR every minute, for `tests.robustness.soak.heap.growth` to compare. Tracing
starts after start-up: imports traced with their tracebacks take minutes on a busy machine.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc

FOLDER = os.environ.get("SOAK_TRACEMALLOC_DIR")
FRAMES = 10


def _snapshots(folder: str) -> None:
    time.sleep(float(os.environ.get("SOAK_TRACEMALLOC_AFTER", "30")))
    tracemalloc.start(FRAMES)
    for n in range(1, 10_000):
        time.sleep(60)
        tracemalloc.take_snapshot().dump(os.path.join(folder, f"{n:04d}.snapshot"))


if FOLDER and sys.argv[-1:] == ["serve"]:  # the gateway itself, not its policy-loading child
    threading.Thread(target=_snapshots, args=(FOLDER,), daemon=True, name="soak-tracemalloc").start()
