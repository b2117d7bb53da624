"""Garbage collection for a server whose long-lived objects are made at start-up.

Once the app has started (settings, policies, clients, every imported module), what is
alive is moved out of the collector's sight (`gc.freeze`) and young collections run less
often. A request allocates a few hundred short-lived objects that reference counting frees
at once; the cycle collector only has cycles to find, and a full collection no longer walks
every object of the process while requests wait behind it. What it changed, measured:
docs/performance.md.
"""

from __future__ import annotations

import gc

#: generation 0 every 10,000 net allocations (default 700), then 50 and 1,000 (default 10, 10)
THRESHOLDS = (10_000, 50, 1_000)


def settle() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
