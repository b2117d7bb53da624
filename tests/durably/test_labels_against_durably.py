"""gateway.labels checked against the real thing: Node's URLSearchParams and Durably itself."""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from typing import Any

import httpx

from gateway.labels import namespace_key, rewrite_query, rewrite_trigger_body, run_id_from_query
from tests.support.durably import HERE, DurablyServer, wait_for_status

KEY = "organizationId"
POLLUTED = [
    b"label.organizationId=org_b",
    b"label%2EorganizationId=org_b",
    b"%6c%61%62%65%6c.%6frganizationId=org_b",
    b"label%252EorganizationId=org_b",
    b"label.OrganizationId=org_b",
    b"label[organizationId]=org_b",
    b"label.organizationId",
    b"label.organizationId+=org_b",
    b"status=completed",
    b"label.env=prod",
    b"jobName=send-report",
]

# Durably's own parsing (parseLabelsFromParams / getRequiredQueryParam) on Node's URLSearchParams
NODE_PARSE = """
const lines = require('fs').readFileSync(0, 'utf8').split('\\n').filter(Boolean)
for (const line of lines) {
  const p = new URLSearchParams(JSON.parse(line))
  const labels = {}
  for (const [k, v] of p.entries()) if (k.startsWith('label.')) labels[k.slice(6)] = v
  console.log(JSON.stringify({ labels, runId: p.get('runId') }))
}
"""


def corpus(seed: int = 7, size: int = 400) -> list[bytes]:
    rnd = random.Random(seed)
    alphabet = [
        b"label",
        b".",
        b"%2E",
        b"%2e",
        b"organizationId",
        b"OrganizationId",
        b"=",
        b"&",
        b"+",
        b"%",
        b"%6C",
        b"org_b",
        b"runId",
        b"%FF",
        b"\xc3\xa9",
        b"[",
        b"]",
        b"x",
        b"%20",
    ]
    out = [b"&".join(rnd.sample(POLLUTED, rnd.randint(0, 4))) for _ in range(size // 2)]
    out += [b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))) for _ in range(size // 2)]
    return out


def node_parse(queries: list[str]) -> list[dict[str, Any]]:
    stdin = "\n".join(json.dumps(q) for q in queries) + "\n"
    proc = subprocess.run(
        ["node", "-e", NODE_PARSE], input=stdin, capture_output=True, text=True, cwd=HERE, check=True, timeout=60
    )
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_rewritten_queries_parse_to_exactly_the_callers_org_in_node() -> None:
    orgs = ["org_a", "a b", "a&b=c", "x%41", "é:ü", "+"]
    rewritten = [rewrite_query(q, KEY, orgs[i % len(orgs)]) for i, q in enumerate(corpus())]
    parsed = node_parse([q.decode("utf-8", "surrogateescape") for q in rewritten])
    for i, (query, seen) in enumerate(zip(rewritten, parsed, strict=True)):
        assert seen["labels"][KEY] == orgs[i % len(orgs)], query


def test_run_id_matches_url_search_params_get() -> None:
    queries = [q for q in corpus(seed=11) if b"runId" in q] + [b"runId=a+b%2F", b"run%49d=x", b"runId=%FF"]
    parsed = node_parse([q.decode("utf-8", "surrogateescape") for q in queries])
    for query, seen in zip(queries, parsed, strict=True):
        try:
            ours: str | None = run_id_from_query(query)
        except Exception:
            ours = None
        if ours is not None:  # when we accept, Durably acts on the very same run id
            assert seen["runId"] == ours, query


def trigger(d: DurablyServer, org: str, key: str | None = None) -> str:
    body = json.dumps({"jobName": "send-report", "input": {}, "idempotencyKey": key}).encode()
    forwarded = rewrite_trigger_body(body, "application/json", org)
    r = httpx.post(f"{d.api_url}/trigger", content=forwarded, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    run_id: str = r.json()["runId"]
    return run_id


def test_polluted_listings_only_ever_return_the_callers_runs(durably: DurablyServer) -> None:
    a, b = f"org_a_{uuid.uuid4().hex[:6]}", f"org_b_{uuid.uuid4().hex[:6]}"
    mine, theirs = trigger(durably, a), trigger(durably, b)
    wait_for_status(durably.api_url, mine, {"completed"})
    for q in POLLUTED:
        polluted = q.replace(b"org_b", b.encode())
        query = rewrite_query(polluted + b"&label.organizationId=" + b.encode(), KEY, a)
        runs = httpx.get(f"{durably.api_url}/runs?{query.decode()}").json()
        assert all(r["labels"][KEY] == a for r in runs), q
        assert theirs not in {r["id"] for r in runs}


def test_namespaced_idempotency_keys_never_meet(durably: DurablyServer) -> None:
    a, b = f"a:{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    shared = uuid.uuid4().hex
    first = trigger(durably, a, shared)
    assert trigger(durably, a, shared) == first  # same org: idempotent as before
    forged = trigger(durably, a.split(":")[0], f"{a.split(':')[1]}:{shared}")  # org "a" forging "a:x"
    assert forged != first
    assert trigger(durably, b, shared) != first
    seen = [json.loads(r.body) for r in durably.recorder.requests() if r.path.endswith("/trigger")]
    assert namespace_key(a, shared) in {s.get("idempotencyKey") for s in seen}
