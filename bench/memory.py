"""Memory of the decision cache holding 100,000 human decisions, measured with tracemalloc.

Decisions are built the way the gateway builds them: a whoami JSON document parsed,
`KratosAuthenticator.session_decision`, the principal stamped with its credential hash,
stored as the cache's `Entry` (what `Cache.get_or_load` keeps, without the per-miss task
that would only slow the fill down).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import tracemalloc
import uuid
from typing import Any

import httpx
import orjson

from gateway.authn.cache import credential_key, decision_cache
from gateway.authn.kratos import KratosAuthenticator
from gateway.authn.verdict import Verdict
from gateway.cache import Cache, Entry
from gateway.config.settings import CacheSettings
from gateway.load import load_settings
from gateway.ory.pool import OryPool
from tests.support.seed import gateway_env


def _session(i: int) -> bytes:
    doc = {
        "id": str(uuid.UUID(int=i)),
        "active": True,
        "expires_at": "2099-01-01T00:00:00Z",
        "authenticator_assurance_level": "aal1",
        "identity": {
            "id": str(uuid.UUID(int=10**12 + i)),
            "state": "active",
            "traits": {"email": f"user{i}@example.com"},
            "metadata_public": {"organization_id": f"org-{i % 1000}", "roles": ["member", "viewer"]},
        },
    }
    return orjson.dumps(doc)


def _fill(cache: Cache[str, Verdict], kratos: KratosAuthenticator, start: int, count: int) -> None:
    expires = time.time() + 3600
    for i in range(start, start + count):
        key = credential_key("customer", "kratos-token", f"ory_st_{i:032d}")
        principal = kratos.session_decision(orjson.loads(_session(i))).principal
        assert principal is not None
        cache.put(key, Entry(Verdict(dataclasses.replace(principal, credential_hash=key)), expires, False))


async def _measure(count: int, overflow: int) -> dict[str, Any]:
    env = gateway_env(8080, "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")
    tenant = load_settings(env).tenants["customer"]
    async with httpx.AsyncClient() as http:
        kratos = KratosAuthenticator(tenant, OryPool.over(tenant.name, http), time.time)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        cache = decision_cache(CacheSettings(max_ttl=3600, size=count), time.time, "customer", None)
        _fill(cache, kratos, 0, count)
        full = tracemalloc.get_traced_memory()[0] - base
        _fill(cache, kratos, count, overflow)  # more credentials than the size: the bound holds
        after = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    entries = len(cache)
    return {
        "decisions": count,
        "bytes": full,
        "bytes_per_decision": round(full / count, 1),
        "inserted": count + overflow,
        "entries_after": entries,
        "bytes_after": after,
    }


def cache_memory(count: int = 100_000, overflow: int = 50_000) -> dict[str, Any]:
    return asyncio.run(_measure(count, overflow))
