"""What a revocation may name (the channel message and `POST /_gateway/revoke`), checked
before anything is evicted."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import BadRequest
from gateway.replicas.channel import Revocation, message, parse

HASH = "a" * 64


@pytest.mark.parametrize(
    ("doc", "parsed"),
    [
        ({"tenant": "customer", "session_id": "s1"}, Revocation("customer", "session_id", "s1")),
        ({"tenant": "customer", "credential_hash": HASH}, Revocation("customer", "credential_hash", HASH)),
        ({"tenant": "customer", "subject": "5555"}, Revocation("customer", "subject", "5555")),
        ({"tenant": "customer", "organization": "org-a"}, Revocation("customer", "organization", "org-a")),
        (
            {"tenant": "customer", "organization": "org-a", "session_id": None},
            Revocation("customer", "organization", "org-a"),
        ),
    ],
)
def test_one_form_each(doc: dict[str, object], parsed: Revocation) -> None:
    assert parse(doc) == parsed
    assert parse(orjson.loads(message(parsed.tenant, parsed.form, parsed.value))) == parsed


@pytest.mark.parametrize(
    "doc",
    [
        {"tenant": "customer"},
        {"tenant": "customer", "subject": "a", "organization": "b"},
        {"tenant": "customer", "subject": ""},
        {"tenant": "customer", "organization": 7},
        {"tenant": "customer", "subject": "x" * 257},
        {"tenant": "customer", "credential_hash": "not-hex"},
        {"subject": "a"},
    ],
)
def test_anything_else_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        parse(doc)
