"""The soak's invariants, judged on the answers and on what the upstreams received.

* Every answer is the case's answer, or - only for a call in flight while a fault was on or
  within `RECOVERY` s after it ended - the fault's answer: 503 with `Retry-After` and a JSON
  body when Ory (any authenticated call) or Keto (reports) is down, 502/503/504 when the
  upstream is down (only for calls that are forwarded). Redis going down changes nothing.
* Every request an upstream received carries the identity of a principal entitled to that
  route in that organization (and tenant), that principal is the one that sent it (`who=`),
  exactly one `X-Org-Id`; Durably's triggers are labelled with that organization and its
  lists filtered by it; no request answered with a denial (400, 401, 403, 408, 503) reached
  any upstream; no trickled body reached the upstream complete.
* No answer, SSE event or WebSocket frame carries another organization's runs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.robustness.soak.cases import (
    FAULTY_GRANTS,
    LIVE_GRANTS,
    MARKER,
    READERS,
    REPORTS,
    SUBJECTS,
    WRITERS,
    Case,
    Grant,
)
from tests.robustness.soak.faults import Fault
from tests.robustness.soak.traffic import Call

#: seconds after a fault ends within which its answers are still accepted: the recovery bound
RECOVERY = 10.0
#: the tenants' Ory (and Keto) timeout (GATEWAY_TENANT_<T>_TIMEOUT, default 2 s)
ORY_TIMEOUT = 2.0
#: Ory or Keto not answering within ORY_TIMEOUT outside a planned fault (a starved process
#: on a loaded machine) is a correct 503, counted apart; more than this share of the calls
#: is a violation
UNPLANNED_TIMEOUTS_SHARE = 0.001
DENIALS = frozenset({400, 401, 403, 408, 503})


def tolerated(case: Case, kind: str) -> set[int]:
    """What else `case` may be answered while `kind` is down."""
    if kind == "ory" and case.needs_ory:
        return {503}
    if kind == "keto" and case.upstream == "keto":
        return {503}
    if kind == "upstream" and case.status in (200, 404, 408):
        return {502, 503, 504}
    return set()


def judge(call: Call, faults: list[Fault]) -> str | None:
    active = {f.kind for f in faults if f.overlaps(call.started, call.ended, RECOVERY)}
    if call.problem:
        return call.problem
    allowed = {call.case.status}.union(*(tolerated(call.case, kind) for kind in active))
    if call.status not in allowed:
        return f"{call.status}, not {sorted(allowed)} (faults: {sorted(active) or 'none'})"
    if call.early_end and not active & {"ory", "upstream"}:
        return "the stream ended outside a fault"
    return None


def unplanned_timeout(call: Call, faults: list[Fault]) -> bool:
    """A 503 outside every fault window that took the whole Ory timeout: Ory or Keto was too
    slow to answer (the gateway timed out on it, as it must), not a fault the soak made."""
    quiet = not any(f.overlaps(call.started, call.ended, RECOVERY) for f in faults)
    slow = call.ended - call.started >= ORY_TIMEOUT - 0.05
    return quiet and slow and call.status == 503 and call.case.needs_ory and call.problem is None


def _affected(case: Case, kind: str) -> bool:
    return bool(tolerated(case, kind)) or (kind == "redis" and case.needs_ory)


def recovery(calls: list[Call], fault: Fault, until: float) -> dict[str, Any]:
    """How long after `fault` ended its answers were still seen, and the first success of a
    call it could affect (calls ended before the next fault, `until`)."""
    mine = [c for c in calls if fault.start <= c.ended < until and _affected(c.case, fault.kind)]
    faulted = [c for c in mine if c.status != c.case.status and c.status in tolerated(c.case, fault.kind)]
    affected = [c for c in mine if c.started >= fault.restored]
    first_ok = min((c.ended for c in affected if c.status == c.case.status), default=None)
    last_bad = max((c.ended for c in faulted), default=fault.restored)
    return {
        "kind": fault.kind,
        "down_s": round(fault.restored - fault.start, 1),
        "fault_answers": len(faulted),
        "last_fault_answer_after_s": round(max(0.0, last_bad - fault.restored), 2),
        "first_success_after_s": None if first_ok is None else round(first_ok - fault.restored, 2),
    }


# --- what the upstreams received ---------------------------------------------------------


def _identity(headers: Iterable[Any]) -> tuple[str | None, str | None, list[str], str]:
    """(tenant, subject, organizations, kind) from received headers, matched in every spelling."""
    seen: dict[str, list[str]] = {}
    for name, value in headers:
        seen.setdefault(str(name).lower().replace("_", "-").replace(".", "-"), []).append(str(value))
    first = {name: values[0] for name, values in seen.items()}
    ids = seen.get("x-user-id", []) + seen.get("x-client-id", [])  # exactly one, or no subject matches
    subject = (ids[0] if len(ids) == 1 else f"several: {ids}") if ids else None
    return (
        first.get("x-tenant"),
        subject,
        seen.get("x-org-id", []),
        (seen.get("x-principal-kind") or [""])[0],
    )


def _sender(target: str) -> tuple[str, int, str]:
    parts = urlsplit(target)
    query = parse_qs(parts.query)
    return query.get("who", ["?"])[0], int(query.get("seq", ["0"])[0]), parts.path


def echo_problem(record: dict[str, Any]) -> tuple[int, str | None]:
    """A request the echo upstream received (reads, writes, reports, the public route)."""
    who, seq, path = _sender(str(record["target"]))
    tenant, subject, orgs, _ = _identity(record["headers"])
    family = path.split("/")[1]
    if path.startswith("/w/trickle"):
        return seq, "a trickled body reached the upstream complete"
    if family == "p":
        return seq, None if subject is None and not orgs else f"identity on the public route: {subject} {orgs}"
    if len(orgs) != 1 or tenant is None or subject != SUBJECTS.get(who):
        return seq, f"{path}: sent by {who}, received as {tenant} {subject} {orgs}"
    if family == "orgs":
        ok = (tenant, subject, orgs[0], path) in REPORTS
    else:
        ok = (tenant, subject, orgs[0]) in FAULTY_GRANTS.get(family, frozenset())
    return seq, None if ok else f"{path}: {tenant} {subject} {orgs[0]} is not entitled"


def live_problem(record: dict[str, Any]) -> tuple[int, str | None]:
    """A WebSocket handshake the WebSocket upstream received."""
    who, seq, path = _sender(str(record["path"]))
    tenant, subject, orgs, _ = _identity(record["headers"])
    if len(orgs) != 1 or subject != SUBJECTS.get(who) or (str(tenant), subject, orgs[0]) not in LIVE_GRANTS:
        return seq, f"WebSocket {path}: sent by {who}, received as {tenant} {subject} {orgs}"
    return seq, None


def durably_problem(record: dict[str, Any]) -> tuple[int, str | None]:
    """A request the real Durably received: entitled, labelled and filtered by its organization."""
    who, seq, path = _sender(str(record["path"]))
    tenant, subject, orgs, _ = _identity(record["headers"])
    if path.endswith("/run") and (tenant, subject, orgs) == (None, None, []):
        return 0, None  # the gateway's own look-up of a run's labels, before it forwards a run-level call
    body = json.loads(record["body"]) if path.endswith("/trigger") else {}
    if body:  # the gateway forwards a trigger without its query: the sender is in the input
        who, seq = body["input"]["who"], body["input"]["seq"]
    elif path.endswith("/run"):  # forwarded with the canonical query only (runId)
        who = next((w for w, s in SUBJECTS.items() if s == subject), "?")
    if len(orgs) != 1 or tenant is None or subject is None or subject != SUBJECTS.get(who):
        return seq, f"Durably {path}: sent by {who}, received as {tenant} {subject} {orgs}"
    grant: Grant = (tenant, subject, orgs[0])
    if body:
        labels = (body["labels"].get("tenant"), body["labels"].get("organizationId"))
        markers = {(t.decode(), o.decode()) for t, o in MARKER.findall(record["body"].encode())}
        if grant not in WRITERS or labels != (tenant, orgs[0]) or markers != {labels}:
            return seq, f"Durably trigger by {grant} labelled {labels} with markers {markers}"
        return seq, None
    if path.endswith("/run"):  # one run by id: the gateway checks the answer's organization
        return seq, None if grant in READERS else f"Durably {path} by {grant}"
    query = parse_qs(urlsplit(str(record["path"])).query)
    filters = (query.get("label.tenant"), query.get("label.organizationId"))
    if grant not in READERS or filters != ([tenant], [orgs[0]]):
        return seq, f"Durably {path} by {grant} filtered by {filters}"
    return seq, None


def summary(
    calls: list[Call], faults: list[Fault], received: dict[str, list[tuple[int, str | None]]], t0: float = 0.0
) -> dict[str, Any]:
    slow = [c for c in calls if unplanned_timeout(c, faults)]
    wrong = [
        (c.case.name, f"{why} [at {c.started - t0:.1f} s, took {c.ended - c.started:.2f} s]")
        for c in calls
        if (why := judge(c, faults)) and not unplanned_timeout(c, faults)
    ]
    if len(slow) > UNPLANNED_TIMEOUTS_SHARE * len(calls):
        wrong.append(("*", f"{len(slow)} Ory/Keto timeouts outside the faults"))
    denied = {c.seq for c in calls if c.status in DENIALS}
    upstream_wrong = [why for items in received.values() for _, why in items if why]
    forwarded_denials = [seq for items in received.values() for seq, _ in items if seq in denied]
    return {
        "calls": len(calls),
        "by_case": dict(sorted(Counter(c.case.name for c in calls).items())),
        "statuses": {str(k): v for k, v in sorted(Counter(c.status for c in calls).items())},
        "by_kind": _by_kind(calls),
        "received": {name: len(items) for name, items in received.items()},
        "ory_timeouts_outside_faults": [
            f"{c.case.name} at {c.started - t0:.1f} s: {c.ended - c.started:.2f} s" for c in slow
        ],
        "faults": [
            recovery(calls, f, n.start if n else float("inf")) for f, n in zip(faults, [*faults[1:], None], strict=True)
        ],
        "violations": {
            "answers": Counter(f"{name}: {why}" for name, why in wrong).most_common(20),
            "upstream": Counter(upstream_wrong).most_common(20),
            "denied_but_forwarded": forwarded_denials[:20],
        },
        "violation_count": len(wrong) + len(upstream_wrong) + len(forwarded_denials),
    }


def _by_kind(calls: list[Call]) -> dict[str, Any]:
    kinds: dict[str, Counter[str]] = {}
    for c in calls:
        name = c.case.name
        kind = (
            "sse"
            if name.startswith("sse-")
            else "websocket"
            if name.startswith("ws-")
            else (
                "trickle"
                if name.startswith("trickle-")
                else "keto"
                if c.case.upstream == "keto"
                else (
                    "durably"
                    if c.case.upstream == "durably"
                    else "machine"
                    if c.case.who in ("partner", "cgw")
                    else "http"
                )
            )
        )
        kinds.setdefault(kind, Counter())[str(c.status)] += 1
    out: dict[str, Any] = {k: dict(sorted(v.items())) for k, v in sorted(kinds.items())}
    streams = [c for c in calls if c.case.name.startswith(("sse-", "ws-")) and c.status == 200]
    out["stream_events"] = sum(c.events for c in streams)
    out["streams_ended_in_faults"] = sum(c.early_end for c in streams)
    return out
