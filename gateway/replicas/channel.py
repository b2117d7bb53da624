"""The revocation channel, `gateway:revocations`: what a message names and how it is written
and read. `gateway revoke` publishes on it; every replica listens (`gateway.replicas.revocations`),
and `POST /_gateway/revoke` takes the same document.

A message is a JSON object naming a tenant and exactly one of `FORMS`: a Kratos session id,
a credential hash (64 lower-case hex digits), a subject (identity id or client id) or an
organization.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from gateway.errors import BadRequest

CHANNEL = "gateway:revocations"
#: what a revocation names, as the message's key
FORMS = ("session_id", "credential_hash", "subject", "organization")
_HASH = re.compile(r"[0-9a-f]{64}")


def message(tenant: str, form: str, value: str) -> bytes:
    return orjson.dumps({"tenant": tenant, form: value})


class Revocation(NamedTuple):
    tenant: str
    #: one of `FORMS`
    form: str
    value: str


def parse(doc: Mapping[str, Any]) -> Revocation:
    tenant = doc.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise BadRequest("'tenant' is required", reason="bad_revocation")
    given = [form for form in FORMS if doc.get(form) is not None]
    if len(given) != 1:
        raise BadRequest(f"give exactly one of {', '.join(repr(f) for f in FORMS)}", reason="bad_revocation")
    form = given[0]
    value = doc[form]
    if form == "credential_hash":
        if not (isinstance(value, str) and _HASH.fullmatch(value)):
            raise BadRequest("'credential_hash' must be 64 lower-case hex digits", reason="bad_revocation")
    elif not isinstance(value, str) or not 0 < len(value) <= 256:
        raise BadRequest(f"{form!r} must be a string of 1-256 characters", reason="bad_revocation")
    return Revocation(tenant, form, value)
