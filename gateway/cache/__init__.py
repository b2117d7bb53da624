"""The one cache of Ory's answers: sessions and tokens (`gateway.authn`), Keto checks and
organization listings (`gateway.permissions`), a client's organization (`gateway.authn.hydra`).

    store.Cache    per tenant and kind: bounded LRU, positive and negative TTLs, generation-safe
                   eviction by `Index`, an optional layer shared by replicas (`store.Shared`)
    flight         single flight: one load per key, run as its own task

Revocations (`gateway.replicas.revocations`) evict through `Cache.evict` / `evict_key` here
and `evict_shared` / `evict_shared_key` in Redis (`gateway.replicas.cache`).
"""

from gateway.cache.flight import SingleFlight
from gateway.cache.store import Cache, CacheStats, Clock, Entry, Index, Shared

__all__ = ["Cache", "CacheStats", "Clock", "Entry", "Index", "Shared", "SingleFlight"]
