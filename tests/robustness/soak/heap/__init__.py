"""The soak's gateway heap: its collector's census, once a minute, and with `--tracemalloc`,
where the memory went between heap snapshots."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
IGNORED = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>"))


def environment(folder: Path, trace: bool) -> dict[str, str]:
    """What the gateway process needs to write its census, and snapshots if `trace`, to `folder`
    (this folder's sitecustomize)."""
    root = HERE.parents[3]
    return {"PYTHONPATH": f"{HERE}:{root}", "SOAK_HEAP_DIR": str(folder)} | ({"SOAK_TRACEMALLOC": "1"} if trace else {})


def census(folder: Path) -> dict[str, object]:
    """The collector's work over the run (collections of each generation; a full one frees the
    cycles that lived long enough to be promoted) and the objects it tracked, once a minute."""
    path = folder / "census.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    if not rows:
        return {"minutes": 0}
    return {
        "minutes": len(rows),
        "collections": rows[-1]["collections"],
        "longest_full_collection_ms": max(r["longest_full_ms"] for r in rows),
        "tracked_objects": {
            "first": rows[0]["tracked"],
            "max": max(r["tracked"] for r in rows),
            "last": rows[-1]["tracked"],
        },
    }


def growth(folder: Path, top: int = 12) -> dict[str, object]:
    """The traced heap at the second and the last snapshot, and the lines that grew most between them."""
    snapshots = sorted(folder.glob("*.snapshot"))
    if len(snapshots) < 3:
        return {"snapshots": len(snapshots)}
    first = tracemalloc.Snapshot.load(str(snapshots[1])).filter_traces(IGNORED)
    last = tracemalloc.Snapshot.load(str(snapshots[-1])).filter_traces(IGNORED)
    return {
        "snapshots": len(snapshots),
        "minutes_between": len(snapshots) - 2,
        "traced_mib": [round(_total(first) / 2**20, 2), round(_total(last) / 2**20, 2)],
        "grew_most": [_line(stat) for stat in last.compare_to(first, "lineno")[:top]],
    }


def _line(stat: tracemalloc.StatisticDiff) -> str:
    where = stat.traceback[0]
    return f"{where.filename}:{where.lineno} {stat.size_diff / 1024:+.0f} KiB ({stat.count_diff:+d} blocks)"


def _total(snapshot: tracemalloc.Snapshot) -> int:
    return sum(stat.size for stat in snapshot.statistics("filename"))
