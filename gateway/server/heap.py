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
#: a full collection every 10 of generation 1 (the defaults: 700, 10, 10). The full one is what
#: frees the cycles of objects that lived long enough to be promoted (a keep-alive connection
#: and its parser, a stream's task): at 1,000 it came every ~1.5 hours under the soak's load,
#: and the process grew until it did. At 10 it comes every minute or two at that load and walks
#: only what is not frozen (a few milliseconds: docs/robustness.md).
THRESHOLDS = (10_000, 50, 10)


def settle() -> None:
    gc.collect()
    gc.freeze()
    # A full collection waits until the objects promoted since the last one outnumber a quarter of
    # those it kept. The first collect counted the whole start-up heap, now frozen: collect once
    # more, over nothing, or no full collection comes until ~100,000 objects have been promoted.
    gc.collect()
    gc.set_threshold(*THRESHOLDS)
