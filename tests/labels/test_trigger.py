"""Trigger bodies: strict parsing, organization stamping, shared-key namespacing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.labels import (
    LabelError,
    durably_profile,
    encode_org,
    namespace_key,
    rewrite_trigger,
    rewrite_trigger_body,
    unnamespace_key,
    unnamespace_text,
)

CT = "application/json"
ORG = "org_a"


def rewrite(body: bytes | str, ct: str | None = CT, org: str = ORG, **kw: Any) -> dict[str, Any]:
    raw = body.encode() if isinstance(body, str) else body
    out: dict[str, Any] = json.loads(rewrite_trigger_body(raw, ct, org, "organizationId", **kw))
    return out


def refused(body: bytes | str, ct: str | None = CT, org: str = ORG) -> tuple[int, str]:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(LabelError) as err:
        rewrite_trigger_body(raw, ct, org, "organizationId")
    return err.value.status, err.value.code


def test_stamps_org_and_keeps_everything_else() -> None:
    out = rewrite('{"jobName":"send-report","input":{"a":[1,2.5,null,true]},"labels":{"env":"prod"},"coalesce":"skip"}')
    assert out == {
        "jobName": "send-report",
        "input": {"a": [1, 2.5, None, True]},
        "labels": {"env": "prod", "organizationId": ORG},
        "coalesce": "skip",
    }


@pytest.mark.parametrize(
    "body",
    [
        '{"jobName":"j"}',
        '{"jobName":"j","labels":null}',
        '{"jobName":"j","labels":{}}',
        '{"jobName":"j","labels":{"organizationId":"org_a"}}',
        '{"jobName":"j","labels":{"organ\\u0069zationId":"org_a"}}',
        '\ufeff{"jobName":"j"}',
    ],
)
def test_accepted_bodies_carry_the_callers_org(body: str) -> None:
    assert rewrite(body)["labels"]["organizationId"] == ORG


@pytest.mark.parametrize(
    ("body", "ct", "expected"),
    [
        ('{"jobName":"j"}', None, (415, "unsupported_media_type")),
        ('{"jobName":"j"}', "text/plain", (415, "unsupported_media_type")),
        ('{"jobName":"j"}', "application/x-www-form-urlencoded", (415, "unsupported_media_type")),
        ('{"jobName":"j"}', "multipart/form-data; boundary=x", (415, "unsupported_media_type")),
        ('{"jobName":"j"}', "application/json; charset=utf-16", (415, "unsupported_media_type")),
        ("jobName=j", CT, (400, "invalid_json")),
        ("", CT, (400, "invalid_json")),
        (b"\xff\xfe{}", CT, (400, "invalid_json")),
        ('{"jobName":"j",}', CT, (400, "invalid_json")),
        ('{"jobName":NaN}', CT, (400, "invalid_json")),
        ('{"input":Infinity}', CT, (400, "invalid_json")),
        ('{"input":1e999}', CT, (400, "invalid_json")),
        ('{"input":' + "[" * 100000 + "]" * 100000 + "}", CT, (400, "invalid_json")),
        ("[]", CT, (400, "not_an_object")),
        ('"x"', CT, (400, "not_an_object")),
        ("null", CT, (400, "not_an_object")),
        ('{"jobName":"j","jobName":"k"}', CT, (400, "duplicate_key")),
        ('{"labels":{"organizationId":"org_a","organizationId":"org_b"}}', CT, (400, "duplicate_key")),
        ('{"labels":{"organizationId":"org_a","organ\\u0069zationId":"org_b"}}', CT, (400, "duplicate_key")),
        ('{"labels":{},"label\\u0073":{"organizationId":"org_b"}}', CT, (400, "duplicate_key")),
        ('{"input":{"deep":{"x":1,"x":2}}}', CT, (400, "duplicate_key")),
        ('{"labels":[]}', CT, (400, "invalid_labels")),
        ('{"labels":"organizationId=org_b"}', CT, (400, "invalid_labels")),
        ('{"labels":{"organizationId":1}}', CT, (400, "invalid_labels")),
        ('{"labels":{"organizationId":null}}', CT, (400, "invalid_labels")),
        ('{"labels":{"env":["prod"]}}', CT, (400, "invalid_labels")),
        ('{"labels":{"bad key":"x"}}', CT, (400, "invalid_labels")),
        ('{"labels":{"OrganizationId":"org_b"}}', CT, (400, "invalid_labels")),
        ('{"labels":{"organizationid":"org_a"}}', CT, (400, "invalid_labels")),
        ('{"labels":{"organizationId":"org_b"}}', CT, (403, "organization_mismatch")),
        ('{"labels":{"organizationId":""}}', CT, (403, "organization_mismatch")),
        ('{"labels":{"organizationId":"ORG_A"}}', CT, (403, "organization_mismatch")),
        ('{"idempotencyKey":5}', CT, (400, "invalid_key")),
        ('{"concurrencyKey":{"a":1}}', CT, (400, "invalid_key")),
    ],
)
def test_refusals(body: str | bytes, ct: str | None, expected: tuple[int, str]) -> None:
    assert refused(body, ct) == expected


@pytest.mark.parametrize(
    "ct",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=UTF-8",
        'application/json;charset="utf-8"',
        "application/vnd.api+json",
    ],
)
def test_json_content_types(ct: str) -> None:
    assert rewrite('{"jobName":"j"}', ct)["jobName"] == "j"


def test_output_is_canonical_json_not_client_bytes() -> None:
    raw = rewrite_trigger_body(b' { "jobName" : "j\\u00e9" , "input" : "\\ud800" } ', CT, ORG)
    assert raw == b'{"jobName":"j\\u00e9","input":"\\ud800","labels":{"organizationId":"org_a"}}'


def test_keys_are_namespaced() -> None:
    out = rewrite('{"jobName":"j","idempotencyKey":"k1","concurrencyKey":"c:1"}')
    assert out["idempotencyKey"] == "org_a:k1"
    assert out["concurrencyKey"] == "org_a:c:1"
    assert unnamespace_key(ORG, out["concurrencyKey"]) == "c:1"


@pytest.mark.parametrize("empty", ['""', "null"])
def test_empty_keys_mean_no_key(empty: str) -> None:
    out = rewrite('{"jobName":"j","idempotencyKey":' + empty + ',"concurrencyKey":' + empty + "}")
    assert "idempotencyKey" not in out and "concurrencyKey" not in out


def test_org_with_colon_cannot_forge_another_namespace() -> None:
    # org "a" with key "b:k" vs org "a:b" with key "k": would collide with a naive "org:key"
    assert namespace_key("a", "b:k") == "a:b:k"
    assert namespace_key("a:b", "k") == "a%3Ab:k"
    assert unnamespace_key("a", namespace_key("a:b", "k")) is None
    assert encode_org("ü %:") == "%C3%BC%20%25%3A"


def test_profile_wrapper_and_no_namespace_mode() -> None:
    body = b'{"jobName":"j","idempotencyKey":"k"}'
    assert json.loads(rewrite_trigger(durably_profile(), body, CT, ORG))["idempotencyKey"] == "org_a:k"
    assert rewrite(body, namespace_keys=False)["idempotencyKey"] == "k"


def test_unnamespace_conflict_message() -> None:
    upstream = b'{"error":"A pending run already exists for concurrency key \\"org_a:c1\\" in job \\"j\\"."}'
    restored = json.loads(unnamespace_text(ORG, upstream.decode()))
    assert restored["error"] == 'A pending run already exists for concurrency key "c1" in job "j".'


# --- properties -------------------------------------------------------------------

orgs = st.text(min_size=1, max_size=16)
label_keys = st.from_regex(r"[a-zA-Z0-9\-_./]{1,12}", fullmatch=True).filter(lambda k: k.casefold() != "organizationid")
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False)
)
bodies = st.fixed_dictionaries(
    {"jobName": st.text(max_size=10)},
    optional={
        "input": st.recursive(
            json_scalars,
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=8,
        ),
        "labels": st.dictionaries(label_keys, st.text(max_size=8), max_size=4),
        "idempotencyKey": st.text(max_size=12),
        "concurrencyKey": st.text(max_size=12),
    },
)


@given(bodies, orgs)
def test_property_always_callers_org_and_idempotent(body: dict[str, Any], org: str) -> None:
    once = rewrite_trigger_body(json.dumps(body).encode(), CT, org, namespace_keys=False)
    assert json.loads(once)["labels"]["organizationId"] == org
    assert rewrite_trigger_body(once, CT, org, namespace_keys=False) == once
    full = json.loads(rewrite_trigger_body(json.dumps(body).encode(), CT, org))
    again = json.loads(rewrite_trigger_body(json.dumps(full).encode(), CT, org))
    assert again["labels"] == full["labels"] == json.loads(once)["labels"]
    for field in ("idempotencyKey", "concurrencyKey"):
        if body.get(field):
            assert unnamespace_key(org, full[field]) == body[field]


@given(orgs, st.text(max_size=12), orgs, st.text(max_size=12))
def test_property_namespacing_is_injective(org1: str, key1: str, org2: str, key2: str) -> None:
    if (org1, key1) != (org2, key2):
        assert namespace_key(org1, key1) != namespace_key(org2, key2)
    assert unnamespace_key(org1, namespace_key(org1, key1)) == key1
    if org1 != org2:
        assert unnamespace_key(org2, namespace_key(org1, key1)) is None
