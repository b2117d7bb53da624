"""Ory Permissions answers as Redis keeps them (`ANSWERS`, the `Shape` of
`gateway.replicas.cache` for `gateway.permissions.cache`).

Keys (nothing in them is an id in clear; hashes of the JSON array of the key's parts):

    gateway:pc:<sha256(key)>               {"v", "allowed", "expires", "organization"}, PX = TTL left
    gateway:ps:<sha256(tenant, subject)>   set of answer hashes about that subject
    gateway:po:<sha256(tenant, org)>       set of answer hashes about that organization
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gateway.permissions.cache import Answer, Key
from gateway.replicas.cache import Shape

ANSWER = "gateway:pc:"
BY_SUBJECT = "gateway:ps:"
BY_ORGANIZATION = "gateway:po:"


def _hash(parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


def subject_index(tenant: str, subject: str) -> str:
    return BY_SUBJECT + _hash([tenant, subject])


def organization_index(tenant: str, organization: str) -> str:
    return BY_ORGANIZATION + _hash([tenant, organization])


def dump(answer: Answer, expires: float) -> bytes:
    return orjson.dumps({"v": 1, "allowed": answer.allowed, "expires": expires, "organization": answer.organization})


def load(raw: bytes) -> tuple[Answer, float] | None:
    """The answer and its expiry, or None for anything not exactly what `dump` writes (a miss)."""
    try:
        doc = orjson.loads(raw)
        allowed, expires, org = doc["allowed"], doc["expires"], doc["organization"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if doc.get("v") != 1 or not isinstance(allowed, bool) or not isinstance(expires, int | float):
        return None
    if org is not None and not isinstance(org, str):
        return None
    return Answer(allowed, org), float(expires)


ANSWERS: Shape[Key, Answer] = Shape(
    label="permission ",
    entries=ANSWER,
    member=lambda key: _hash(list(key)),
    indexes={"subject": subject_index, "organization": organization_index},
    dump=dump,
    load=load,
)
