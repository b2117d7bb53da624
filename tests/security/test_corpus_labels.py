"""Attack classes "Label pollution", "Shared keys across tenants" and "Existence
oracles", through the shipped gateway to the REAL Durably service.

What Durably received is read from its own recorder: for listings it must see exactly
one organization filter (the caller's) and the tenant label; a trigger body it
receives is the one the gateway validated, re-serialised; a run of another
organization (or of the same organization id in another tenant) answers exactly like
a run that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.labels import encode_org
from tests.security.support import Sec
from tests.support.durably import RecordedRequest
from tests.support.labels import org_filters

RUNS = "/customer/api/durably/runs"
TRIGGER = "/customer/api/durably/trigger"


@pytest.fixture(scope="module")
def http(sec: Sec) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sec.world.url, timeout=15) as client:
        yield client


def _durably(sec: Sec, prefix: str) -> list[RecordedRequest]:
    return [r for r in sec.world.durably.recorder.requests() if r.path.startswith(prefix)]


POLLUTED_QUERIES = [
    ("plain", "label.organizationId=org-globex"),
    ("twice", "label.organizationId=org-globex&label.organizationId=org-initech"),
    ("own-then-other", "label.organizationId=org-acme&label.organizationId=org-globex"),
    ("other-then-own", "label.organizationId=org-globex&label.organizationId=org-acme"),
    ("encoded-dot", "label%2EorganizationId=org-globex"),
    ("encoded-dot-lower", "label%2eorganizationId=org-globex"),
    ("double-encoded-dot", "label%252EorganizationId=org-globex"),
    ("encoded-name", "%6c%61%62%65%6c.%6f%72%67%61%6e%69%7a%61%74%69%6f%6e%49%64=org-globex"),
    ("case-key", "label.OrganizationId=org-globex"),
    ("case-lower", "label.organizationid=org-globex"),
    ("case-prefix", "LABEL.organizationId=org-globex"),
    ("brackets", "label[organizationId]=org-globex"),
    ("plus-space-prefix", "+label.organizationId=org-globex"),
    ("space-suffix", "label.organizationId%20=org-globex"),
    ("value-encoded", "label.organizationId=%6f%72%67-globex"),
    ("semicolon-separator", "jobName=send-report;label.organizationId=org-globex"),
    ("tenant-label", "label.tenant=admin"),
    ("tenant-label-encoded", "label%2Etenant=admin&label.organizationId=org-globex"),
    ("many-params", "&".join(["label.organizationId=org-globex"] * 50)),
    ("other-params-kept", "jobName=send-report&label.team=a&limit=5&label.organizationId=org-globex"),
]


@pytest.mark.parametrize("case", POLLUTED_QUERIES, ids=[c[0] for c in POLLUTED_QUERIES])
def test_list_sees_only_the_callers_organization(sec: Sec, http: httpx.Client, case: tuple[str, str]) -> None:
    case_id, query = case
    sec.world.durably.recorder.clear()
    resp = http.get(f"{RUNS}?{query}", headers=sec.auth_headers("alice"))
    seen = _durably(sec, "/api/durably/runs")
    if resp.status_code == 400:  # refused as ambiguous: fail closed, nothing reaches Durably
        assert resp.json()["error"] == "invalid_label_filter" and seen == [], (resp.text, seen)
        return
    assert resp.status_code == 200, resp.text
    assert len(seen) == 1, [r.path for r in seen]
    got = seen[0].query.encode()
    assert org_filters(got, "organizationId") == ["org-acme"], got
    assert org_filters(got, "tenant") == ["customer"], got
    assert seen[0].header("x-org-id") == ["org-acme"]
    doc = resp.json()
    for run in doc if isinstance(doc, list) else doc.get("runs") or doc.get("items") or []:
        assert run["labels"]["organizationId"] == "org-acme" and run["labels"]["tenant"] == "customer"
    if case_id == "other-params-kept":
        assert got.startswith(b"jobName=send-report&label.team=a&limit=5&")


def _trigger_body(labels: Any = None, **extra: Any) -> bytes:
    doc: dict[str, Any] = {"jobName": "echo", "input": {"x": 1}}
    if labels is not None:
        doc["labels"] = labels
    doc.update(extra)
    return json.dumps(doc).encode()


BAD_TRIGGERS = [
    ("other-org", _trigger_body({"organizationId": "org-globex"}), "application/json", 403),
    ("other-tenant", _trigger_body({"tenant": "admin"}), "application/json", 403),
    ("case-variant-key", _trigger_body({"OrganizationId": "org-globex"}), "application/json", 400),
    ("lower-key", _trigger_body({"organizationid": "org-globex"}), "application/json", 400),
    ("escaped-key", b'{"jobName":"echo","labels":{"organization\\u0049d":"org-globex"}}', "application/json", 403),
    (
        "escaped-key-twice",
        b'{"jobName":"echo","labels":{"organizationId":"org-acme","organization\\u0049d":"org-globex"}}',
        "application/json",
        400,
    ),
    (
        "duplicate-org-key",
        b'{"jobName":"echo","labels":{"organizationId":"org-acme","organizationId":"org-globex"}}',
        "application/json",
        400,
    ),
    (
        "duplicate-labels",
        b'{"jobName":"echo","labels":{"organizationId":"org-acme"},"labels":{"organizationId":"org-globex"}}',
        "application/json",
        400,
    ),
    (
        "duplicate-escaped-labels",
        b'{"jobName":"echo","labels":{},"l\\u0061bels":{"organizationId":"org-globex"}}',
        "application/json",
        400,
    ),
    ("labels-array", _trigger_body([["organizationId", "org-globex"]]), "application/json", 400),
    ("labels-string", _trigger_body("organizationId=org-globex"), "application/json", 400),
    ("label-value-number", _trigger_body({"organizationId": 1}), "application/json", 400),
    ("label-value-object", _trigger_body({"team": {"organizationId": "org-globex"}}), "application/json", 400),
    ("label-key-bad-chars", _trigger_body({"team name": "x"}), "application/json", 400),
    ("body-array", b'[{"jobName":"echo","labels":{"organizationId":"org-globex"}}]', "application/json", 400),
    ("nan", b'{"jobName":"echo","input":NaN}', "application/json", 400),
    ("trailing-garbage", _trigger_body() + b"{}", "application/json", 400),
    ("not-utf8", b'{"jobName":"echo","labels":{"team":"\xff"}}', "application/json", 400),
    ("text-plain", _trigger_body({"organizationId": "org-globex"}), "text/plain", 415),
    ("form", b"jobName=echo&labels.organizationId=org-globex", "application/x-www-form-urlencoded", 415),
    ("latin1-charset", _trigger_body(), "application/json; charset=latin-1", 415),
    ("no-content-type", _trigger_body(), None, 415),
]


@pytest.mark.parametrize("case", BAD_TRIGGERS, ids=[c[0] for c in BAD_TRIGGERS])
def test_polluted_trigger_is_refused(sec: Sec, http: httpx.Client, case: tuple[str, bytes, str | None, int]) -> None:
    case_id, body, content_type, status = case
    headers = sec.auth_headers("alice") | ({"Content-Type": content_type} if content_type else {})
    sec.world.durably.recorder.clear()
    resp = http.post(TRIGGER, content=body, headers=headers)
    assert resp.status_code == status, (case_id, resp.text)
    assert _durably(sec, "/api/durably/trigger") == []


GOOD_TRIGGERS = [
    ("no-labels", _trigger_body(), {}),
    ("own-org", _trigger_body({"organizationId": "org-acme"}), {}),
    ("extra-label", _trigger_body({"team": "a", "env": "prod"}), {"team": "a", "env": "prod"}),
    ("bom", b"\xef\xbb\xbf" + _trigger_body({"team": "b"}), {"team": "b"}),
    ("json-suffix-type", _trigger_body({"team": "c"}), {"team": "c"}),
]


@pytest.mark.parametrize("case", GOOD_TRIGGERS, ids=[c[0] for c in GOOD_TRIGGERS])
def test_trigger_is_forwarded_reserialised_with_one_org(
    sec: Sec, http: httpx.Client, case: tuple[str, bytes, dict[str, str]]
) -> None:
    case_id, body, labels = case
    content_type = "application/vnd.api+json" if case_id == "json-suffix-type" else "application/json"
    sec.world.durably.recorder.clear()
    resp = http.post(TRIGGER, content=body, headers=sec.auth_headers("alice") | {"Content-Type": content_type})
    assert resp.status_code == 200, resp.text
    (got,) = _durably(sec, "/api/durably/trigger")
    assert got.body != body.decode("utf-8", "replace"), "the client's bytes must not be forwarded as-is"
    doc = json.loads(got.body)
    assert doc["labels"] == {**labels, "organizationId": "org-acme", "tenant": "customer"}
    assert got.body.count("organizationId") == 1
    assert got.header("content-type") == ["application/json"]


def _trigger(sec: Sec, http: httpx.Client, who: str, tenant: str = "customer", **extra: Any) -> tuple[str, Any]:
    resp = http.post(
        f"/{tenant}/api/durably/trigger", json={"jobName": "echo", "input": {}, **extra}, headers=sec.auth_headers(who)
    )
    assert resp.status_code == 200, resp.text
    (got,) = [r for r in _durably(sec, "/api/durably/trigger")][-1:]
    return str(resp.json()["runId"]), json.loads(got.body)


@pytest.mark.parametrize("field", ["idempotencyKey", "concurrencyKey"])
def test_shared_keys_are_namespaced_per_organization(sec: Sec, http: httpx.Client, field: str) -> None:
    key = f"shared-{field}-{id(http)}"
    sec.world.durably.recorder.clear()
    alice_run, alice_sent = _trigger(sec, http, "alice", **{field: key})
    bob_run, bob_sent = _trigger(sec, http, "bob", **{field: key})
    dave_run, dave_sent = _trigger(sec, http, "dave", "dealer", **{field: key})  # org-acme again, other tenant
    assert alice_sent[field] == f"{encode_org('customer:org-acme')}:{key}"
    assert bob_sent[field] == f"{encode_org('customer:org-globex')}:{key}"
    assert dave_sent[field] == f"{encode_org('dealer:org-acme')}:{key}"
    assert len({alice_run, bob_run, dave_run}) == 3, "a run of another organization was returned"


def test_namespace_cannot_be_forged_by_the_client(sec: Sec, http: httpx.Client) -> None:
    sec.world.durably.recorder.clear()
    forged = f"{encode_org('customer:org-acme')}:k-forged"
    _, bob_sent = _trigger(sec, http, "bob", idempotencyKey=forged)
    assert bob_sent["idempotencyKey"] == f"{encode_org('customer:org-globex')}:{forged}"


@pytest.fixture(scope="module")
def alice_run(sec: Sec, http: httpx.Client) -> str:
    return _trigger(sec, http, "alice")[0]


MISSING = "00000000-0000-4000-8000-000000000000"
ORACLES = [
    ("get-run", "GET", "/{t}/api/durably/run?runId={r}"),
    ("get-steps", "GET", "/{t}/api/durably/steps?runId={r}"),
    ("cancel", "POST", "/{t}/api/durably/cancel?runId={r}"),
    ("retrigger", "POST", "/{t}/api/durably/retrigger?runId={r}"),
    ("delete", "DELETE", "/{t}/api/durably/run?runId={r}"),
]
CALLERS = [("bob-other-org", "bob", "customer"), ("dave-same-org-other-tenant", "dave", "dealer")]


@pytest.mark.parametrize("caller", CALLERS, ids=[c[0] for c in CALLERS])
@pytest.mark.parametrize("op", ORACLES, ids=[o[0] for o in ORACLES])
def test_other_orgs_run_answers_like_a_missing_one(
    sec: Sec, http: httpx.Client, alice_run: str, op: tuple[str, str, str], caller: tuple[str, str, str]
) -> None:
    _, method, template = op
    _, who, tenant = caller
    headers = sec.auth_headers(who)
    sec.world.durably.recorder.clear()
    theirs = http.request(method, template.format(t=tenant, r=alice_run), headers=headers)
    missing = http.request(method, template.format(t=tenant, r=MISSING), headers=headers)
    assert (theirs.status_code, theirs.content) == (missing.status_code, missing.content)
    assert theirs.headers.get("content-type") == missing.headers.get("content-type")
    assert alice_run not in theirs.text
    acted = [
        (r.method, r.path)
        for r in sec.world.durably.recorder.requests()
        if alice_run in r.path and not (r.method == "GET" and r.path.startswith("/api/durably/run?"))
    ]
    assert acted == [], "the request for another organization's run reached Durably"


RUN_ID_QUERIES = [
    ("run-id-twice", "runId={m}&runId={r}", 400),
    ("run-id-encoded-twice", "runId={m}&%72unId={r}", 400),
    ("run-id-empty", "runId=&runId={r}", 400),
    ("run-id-missing", "runid={r}", 400),
    # " runId" is another name for Durably too: the request is about {m}, which is missing
    ("run-id-plus-space-is-another-name", "runId={m}&+runId={r}", 404),
]


@pytest.mark.parametrize("case", RUN_ID_QUERIES, ids=[c[0] for c in RUN_ID_QUERIES])
def test_ambiguous_run_id_is_refused(sec: Sec, http: httpx.Client, alice_run: str, case: tuple[str, str, int]) -> None:
    """What the gateway checks (the owner of one run id) is what Durably acts on: a query
    Durably could read as another run is 400 before any lookup."""
    _, template, status = case
    sec.world.durably.recorder.clear()
    query = template.format(m=MISSING, r=alice_run)
    resp = http.request("POST", f"/customer/api/durably/cancel?{query}", headers=sec.auth_headers("bob"))
    assert resp.status_code == status, resp.text
    reached = [r.path for r in sec.world.durably.recorder.requests()]
    assert all(alice_run not in path for path in reached), reached
    if status == 400:
        assert reached == []
