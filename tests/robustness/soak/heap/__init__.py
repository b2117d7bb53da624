"""Heap growth of the soak's gateway (`--tracemalloc`): where the memory went between snapshots."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
IGNORED = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>"))


def environment(folder: Path) -> dict[str, str]:
    """What the gateway process needs to write snapshots to `folder` (this folder's sitecustomize)."""
    root = HERE.parents[3]
    return {"PYTHONPATH": f"{HERE}:{root}", "SOAK_TRACEMALLOC_DIR": str(folder)}


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
