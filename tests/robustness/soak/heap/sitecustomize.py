"""Loaded by the soak's gateway (this folder is put first on its PYTHONPATH): once a minute,
write a census of the gateway's collector to SOAK_HEAP_DIR (collections per generation, the
objects it tracks and its longest full collection), and with SOAK_TRACEMALLOC set, a heap snapshot too, for
`tests.robustness.soak.heap` to compare. Tracing starts after start-up: imports traced with
their tracebacks take minutes on a busy machine.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
import tracemalloc

FOLDER = os.environ.get("SOAK_HEAP_DIR")
FRAMES = 10
#: the longest full collection this minute (ms), and when the one under way began
_full = {"longest_ms": 0.0, "began": 0.0}


def _time_full(phase: str, info: dict[str, int]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _full["began"] = time.perf_counter()
    else:
        _full["longest_ms"] = max(_full["longest_ms"], (time.perf_counter() - _full["began"]) * 1000)


def _watch(folder: str, trace: bool) -> None:
    time.sleep(float(os.environ.get("SOAK_TRACEMALLOC_AFTER", "30")))
    if trace:
        tracemalloc.start(FRAMES)
    with open(os.path.join(folder, "census.jsonl"), "a") as census:
        for n in range(1, 10_000):
            time.sleep(60)
            row = {
                "minute": n,
                "collections": [s["collections"] for s in gc.get_stats()],
                "tracked": len(gc.get_objects()),
                "longest_full_ms": round(_full["longest_ms"], 2),
            }
            _full["longest_ms"] = 0.0
            census.write(json.dumps(row) + "\n")
            census.flush()
            if trace:
                tracemalloc.take_snapshot().dump(os.path.join(folder, f"{n:04d}.snapshot"))


if FOLDER and sys.argv[-1:] == ["serve"]:  # the gateway itself, not its policy-loading child
    args = (FOLDER, bool(os.environ.get("SOAK_TRACEMALLOC")))
    gc.callbacks.append(_time_full)
    threading.Thread(target=_watch, args=args, daemon=True, name="soak-heap").start()
