"""Cached decisions (sessions and tokens) as Redis keeps them (`VERDICTS`): an entry per
credential hash, a set per session, subject and organization (`gateway.replicas.redis` lists
the keys). `dump` writes exactly what `load` accepts, and anything else (an older version, a
foreign writer) reads as a miss."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gateway.authn.verdict import Verdict
from gateway.principal import KINDS, Membership, Principal
from gateway.replicas.cache import Shape

ENTRY = "gateway:dc:"
SESSION = "gateway:ds:"
SUBJECT = "gateway:du:"
ORGANIZATION = "gateway:do:"


def entry_key(credential_hash: str) -> str:
    return ENTRY + credential_hash


def session_key(tenant: str, session_id: str) -> str:
    return f"{SESSION}{tenant}:{session_id}"


def subject_key(tenant: str, subject: str) -> str:
    return SUBJECT + hashlib.sha256(orjson.dumps([tenant, subject])).hexdigest()


def organization_key(tenant: str, organization: str) -> str:
    return ORGANIZATION + hashlib.sha256(orjson.dumps([tenant, organization])).hexdigest()


def dump(d: Verdict, expires: float) -> bytes:
    p = d.principal
    principal = None
    if p is not None:
        principal = {
            "kind": p.kind,
            "tenant": p.tenant,
            "subject": p.subject,
            "organization": p.organization,
            "roles": sorted(p.roles),
            "scopes": sorted(p.scopes),
            "session_id": p.session_id,
            "client_id": p.client_id,
            "aal": p.aal,
            "authenticated_at": p.authenticated_at,
            "expires_at": p.expires_at,
            "credential_hash": p.credential_hash,
            "memberships": None
            if p.memberships is None
            else [[m.organization, sorted(m.roles)] for m in p.memberships],
            "memberships_problem": p.memberships_problem,
        }
    return orjson.dumps(
        {"v": 3, "expires": expires, "reason": d.reason, "description": d.description, "principal": principal}
    )


def load(raw: bytes) -> tuple[Verdict, float] | None:
    """The decision and its expiry, or None for anything not exactly what `dump` writes (a miss)."""
    try:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or doc.get("v") != 3:
            return None
        p = doc["principal"]
        principal = None
        if p is not None:
            if p["kind"] not in KINDS or not all(isinstance(p[k], str) for k in ("tenant", "subject")):
                return None
            principal = Principal(
                kind=p["kind"],
                tenant=p["tenant"],
                subject=p["subject"],
                organization=_opt(p["organization"]),
                roles=_strings(p["roles"]),
                scopes=_strings(p["scopes"]),
                session_id=_opt(p["session_id"]),
                client_id=_opt(p["client_id"]),
                aal=_opt(p["aal"]),
                authenticated_at=_seconds(p["authenticated_at"]),
                expires_at=_seconds(p["expires_at"]),
                credential_hash=str(p["credential_hash"]),
                memberships=_memberships(p["memberships"]),
                memberships_problem=str(p["memberships_problem"]),
            )
        return Verdict(principal, str(doc["reason"]), str(doc["description"])), float(doc["expires"])
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return None


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _memberships(value: Any) -> tuple[Membership, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise TypeError("not a list")
    return tuple(Membership(_str(org), _strings(roles)) for org, roles in value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _strings(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("not a list of strings")
    return frozenset(value)


VERDICTS: Shape[str, Verdict] = Shape(
    label="",
    entries=ENTRY,
    member=lambda credential_hash: credential_hash,
    indexes={"session_id": session_key, "subject": subject_key, "organization": organization_key},
    dump=dump,
    load=load,
)
