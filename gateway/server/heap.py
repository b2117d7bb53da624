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

#: generation 0 every 10,000 net allocations (default 700), generation 1 every 50 of those, and
#: a full collection every 10 of generation 1 (defaults: 700, 10, 10). A request leaves no cycle
#: (reference counting frees it as it ends), so collections come with what does make cycles:
#: connections and their parsers, Ory calls through httpx. A full collection frees the cycles
#: that were promoted before they died, and walks only what is not frozen. How often each came
#: in a 2-hour soak, and the longest full one: docs/robustness.md.
THRESHOLDS = (10_000, 50, 10)


def settle() -> None:
    gc.collect()
    gc.freeze()
    # A full collection also waits until the objects promoted since the last one outnumber a
    # quarter of those it kept. The first collect kept the whole start-up heap (80,000 objects and
    # more), now frozen: collect once more, over nothing, or no full collection comes until some
    # 20,000 objects have been promoted.
    gc.collect()
    gc.set_threshold(*THRESHOLDS)
