"""Ory Permissions answers shared by replicas on Redis (`SharedPermissions` of
`gateway.permissions.cache`). Like the decision cache (`gateway.replicas.redis`): never
raises, backs off after a failure, and a replica carries on with its own cache and Keto.

Keys (nothing in them is an id in clear; hashes of the JSON array of the key's parts):

    gateway:pc:<sha256(key)>               {"v", "allowed", "expires", "organization"}, PX = TTL left
    gateway:ps:<sha256(tenant, subject)>   set of answer hashes about that subject
    gateway:po:<sha256(tenant, org)>       set of answer hashes about that organization
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis

from gateway.permissions.cache import ORGANIZATION_NAMESPACE, Answer, Key
from gateway.replicas.redis import Guard

ANSWER = "gateway:pc:"
BY_SUBJECT = "gateway:ps:"
BY_ORGANIZATION = "gateway:po:"


def _hash(parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


def answer_key(key: Key) -> str:
    return ANSWER + _hash(list(key))


def subject_index(tenant: str, subject: str) -> str:
    return BY_SUBJECT + _hash([tenant, subject])


def organization_index(tenant: str, organization: str) -> str:
    return BY_ORGANIZATION + _hash([tenant, organization])


def dump(answer: Answer) -> bytes:
    return orjson.dumps(
        {"v": 1, "allowed": answer.allowed, "expires": answer.expires, "organization": answer.organization}
    )


def load(raw: bytes) -> Answer | None:
    """The answer, or None for anything not exactly what `dump` writes (a miss)."""
    try:
        doc = orjson.loads(raw)
        allowed, expires, org = doc["allowed"], doc["expires"], doc["organization"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if doc.get("v") != 1 or not isinstance(allowed, bool) or not isinstance(expires, int | float):
        return None
    if org is not None and not isinstance(org, str):
        return None
    return Answer(allowed, float(expires), org)


def organizations_of(key: Key, answer: Answer) -> set[str]:
    found = {answer.organization} if answer.organization else set()
    if key[2] == ORGANIZATION_NAMESPACE:
        found.add(key[3])
    return found


async def evict_index(client: aioredis.Redis, index: str) -> int:
    members = await client.smembers(index)
    keys = [ANSWER + (m.decode() if isinstance(m, bytes) else str(m)) for m in members]
    return int(await client.delete(*keys, index))


class RedisPermissions:
    def __init__(self, client: aioredis.Redis, max_ttl: float, guard: Guard, clock: Callable[[], float] = time.time):
        self.client = client
        self.max_ttl = max_ttl
        self.guard = guard
        self.clock = clock

    async def get(self, key: Key) -> Answer | None:
        if not self.guard.open:
            return None
        try:
            raw = await self.client.get(answer_key(key))
        except Exception as exc:  # Redis must never fail a request
            self.guard.failed("permission get", exc)
            return None
        self.guard.ok()
        return load(raw) if isinstance(raw, bytes) else None

    async def set(self, key: Key, answer: Answer) -> None:
        ttl_ms = int((answer.expires - self.clock()) * 1000)
        if ttl_ms <= 0 or not self.guard.open:
            return
        name = answer_key(key)
        keep = math.ceil(self.max_ttl) + 1
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(name, dump(answer), px=ttl_ms)
            for index in (
                subject_index(key[0], key[5]),
                *(organization_index(key[0], o) for o in organizations_of(key, answer)),
            ):
                pipe.sadd(index, name.removeprefix(ANSWER))
                pipe.expire(index, keep)
            await pipe.execute()
        except Exception as exc:
            self.guard.failed("permission set", exc)
            return
        self.guard.ok()

    async def evict_subject(self, tenant: str, subject: str) -> int:
        return await self._evict(subject_index(tenant, subject))

    async def evict_organization(self, tenant: str, organization: str) -> int:
        return await self._evict(organization_index(tenant, organization))

    async def _evict(self, index: str) -> int:
        try:
            deleted = await evict_index(self.client, index)
        except Exception as exc:
            self.guard.failed("permission evict", exc)
            return 0
        self.guard.ok()
        return deleted
