"""`Attempts`: how many unknown credentials one client address may have looked up at one
tenant's Ory a minute (GATEWAY_AUTH_FAILURES_PER_MINUTE).

Asked by authentication on a cache miss only (`gateway.authn`): a credential already known -
cached valid, or cached rejected - costs nothing and is never refused here, so a person
behind the same NAT with a cached session is served while a flood of junk from that address
is refused. Nor is a credential this process has seen Ory accept, until it expires (`known`:
its cache entry may have lapsed, the person has not changed): Ory is asked again as always,
it only does not wait for room. Any other miss needs room in the address's window (else 429
`too_many_attempts`, no Ory call); a lookup Ory answers "not valid" takes one place in it.
The address is the client address as believed through GATEWAY_TRUSTED_PROXIES; an IPv6
address counts as its /64 (one host's usual allotment). Lookups from the address still in
flight take their place in advance (any may yet fail), so a burst sent while Ory is slow
cannot overshoot the budget either; each gives its place back when Ory has answered.
"""

from __future__ import annotations

import ipaddress
import time

from cachetools import LRUCache

from gateway.cache import Clock
from gateway.errors import TooManyAttempts
from gateway.quotas.windows import Windows, quota, window_key


class Attempts:
    def __init__(self, windows: Windows, per_minute: int, known: int = 100_000, clock: Clock = time.time) -> None:
        self.windows = windows
        self.item = quota(per_minute, 60)
        #: lookups refused (`gateway_too_many_attempts_total`), by tenant
        self.refused: dict[str, int] = {}
        #: credential key -> until when Ory's "valid" vouches for it (bounded, least recently used out)
        self._known: LRUCache[str, float] = LRUCache(maxsize=max(1, known))
        #: window key -> the unknown credentials (cache keys) from that address being looked up
        self._pending: dict[str, set[str]] = {}
        self._clock = clock

    def known(self, key: str) -> bool:
        """Whether Ory accepted this credential (its cache key) before, and it has not expired."""
        until = self._known.get(key)
        return until is not None and until > self._clock()

    def vouch(self, key: str, until: float | None) -> None:
        """Ory accepted this credential, valid until `until` (epoch seconds; None: a day)."""
        self._known[key] = until if until is not None else self._clock() + 86_400

    async def begin(self, tenant: str, address: str, credential: str) -> tuple[str, str] | None:
        """Room for one more unknown credential (its cache key) from `address` to be looked up,
        counting the address's lookups still in flight (each may yet fail); else 429. Returns
        what `end` takes, or None when that credential's lookup is in flight already (the
        caller joins it: no second call, nothing more to count)."""
        key = window_key("attempts", tenant, client_key(address))
        waiting = self._pending.get(key)
        if waiting is not None and credential in waiting:
            return None
        if await self.windows.test(self.item, key, cost=len(waiting or ()) + 1):
            self._pending.setdefault(key, set()).add(credential)
            return key, credential
        self.refused[tenant] = self.refused.get(tenant, 0) + 1
        raise TooManyAttempts(
            "too many unknown credentials from this address; retry later",
            retry_after=await self.windows.retry_after(self.item, key),
        )

    def end(self, begun: tuple[str, str]) -> None:
        """The lookup `begin` made room for is over (its failure, if it failed, is counted)."""
        key, credential = begun
        waiting = self._pending.get(key)
        if waiting is not None:
            waiting.discard(credential)
            if not waiting:
                del self._pending[key]

    async def failed(self, tenant: str, address: str) -> None:
        """One credential from `address` that Ory did not accept."""
        await self.windows.hit(self.item, window_key("attempts", tenant, client_key(address)))


def client_key(address: str) -> str:
    """The address a window counts: IPv4 as is, IPv6 by its /64."""
    if ":" not in address:
        return address
    try:
        network = ipaddress.IPv6Network(f"{address}/64", strict=False)
    except ValueError:
        return address
    return str(network)
