"""The soak with faults, short form (the full one: `python -m tests.robustness.soak --minutes 30`).

Mixed traffic (people in two organizations, dana switching between hers, machines, Keto-
guarded reports, Durably triggers and lists, SSE subscriptions, WebSocket sessions,
trickling bodies) while Ory, Keto, Redis and the upstreams go down and come back in turn,
once each: every invariant of tests/robustness/soak/checks.py holds, on the answers and on
what the upstreams received, and the gateway's memory and sockets stay within bounds.
"""

from __future__ import annotations

import json

import pytest

from tests.robustness.soak.faults import KINDS
from tests.robustness.soak.runner import Plan, run

#: in the "serial" group under pytest-xdist (tests/conftest.py): loads the machine; bounds on memory and sockets
pytestmark = pytest.mark.xdist_group("serial")

#: 38 s of traffic: a 5 s warm-up, then each of the four faults 3 s down and 4 s up (28 s, with
#: room for restarts that take longer; a fifth fault no longer fits)
PLAN = Plan(seconds=38, warmup=5, down=3, gap=4, hold=6)


@pytest.mark.timeout(300)
def test_soak_with_faults_keeps_every_invariant() -> None:
    report = run(PLAN)
    shown = json.dumps({k: v for k, v in report.items() if k != "by_case"}, indent=1)
    assert report["violation_count"] == 0, shown
    faults = {f["kind"]: f for f in report["faults"]}
    assert set(faults) == set(KINDS), shown  # every fault happened
    for kind in ("ory", "keto", "upstream"):
        assert faults[kind]["fault_answers"] > 0, shown  # ... and was felt
        assert faults[kind]["first_success_after_s"] is not None, shown  # ... and recovered from
    assert faults["redis"]["fault_answers"] == 0 and faults["redis"]["first_success_after_s"] is not None, shown
    kinds = report["by_kind"]
    for kind in ("http", "machine", "keto", "durably", "sse", "websocket"):
        assert kinds[kind].get("200", 0) > 0, shown
    assert kinds["trickle"].get("408", 0) > 0 and kinds["stream_events"] > 0, shown
    assert all(report["received"][name] > 0 for name in ("echo", "websocket", "durably")), shown
    assert report["bounds_held"], shown


# --- the judges themselves catch what they are for -------------------------------------


def test_the_judges_catch_a_cross_organization_answer_and_a_forward_without_entitlement() -> None:
    from tests.robustness.soak.cases import ALICE, BOB, CASES
    from tests.robustness.soak.checks import durably_problem, echo_problem, judge, summary
    from tests.robustness.soak.faults import Fault
    from tests.robustness.soak.traffic import Call, body_problem

    read = next(c for c in CASES if c.name == "alice-read")
    listing = next(c for c in CASES if c.name == "alice-list-globex")
    json_head = {"content-type": "application/json"}
    assert (
        body_problem(listing, 200, json_head, b'[{"labels": {"tenant": "customer", "organizationId": "org-acme"}}]')
        is None
    )
    leaked = b'[{"labels": {"tenant": "customer", "organizationId": "org-acme"}, "input": "MK.customer.org-globex.7"}]'
    assert body_problem(listing, 200, json_head, leaked) is not None
    echo = b'{"tenant": "customer", "org": "org-globex", "user": "%s", "client": null}' % BOB.encode()
    assert body_problem(read, 200, json_head, echo) is not None
    assert body_problem(read, 503, json_head, b"{}") == "503 without Retry-After"

    def sent(who: str, subject: str, org: str) -> dict[str, object]:
        headers = [["X-Tenant", "customer"], ["X-User-Id", subject], ["X-Org-Id", org]]
        return {"target": f"/w/x?who={who}&seq=3", "headers": headers}

    assert echo_problem(sent("alice", ALICE, "org-acme")) == (3, None)
    assert echo_problem(sent("alice", ALICE, "org-globex"))[1] is not None  # not her organization
    assert echo_problem(sent("alice", BOB, "org-globex"))[1] is not None  # not the sender
    trigger = {"input": {"who": "alice", "seq": 4, "marker": "MK.customer.org-globex.4"}, "labels": {}}
    trigger["labels"] = {"tenant": "customer", "organizationId": "org-acme"}
    record = {"path": "/api/durably/trigger", "headers": sent("alice", ALICE, "org-acme")["headers"]}
    assert durably_problem(record | {"body": json.dumps(trigger)})[1] is not None  # a marker of globex

    outage = [Fault("ory", 10.0, 13.0)]
    assert judge(Call(read, 1, 11.0, 12.0, 503), outage) is None
    assert judge(Call(read, 1, 30.0, 31.0, 503), outage) is not None  # past the recovery bound
    assert judge(Call(next(c for c in CASES if c.name == "public"), 1, 11.0, 12.0, 503), outage) is not None
    # a 503 outside the faults that took the whole Ory timeout is counted apart, a quick one is wrong
    slow, quick = Call(read, 2, 40.0, 42.0, 503), Call(read, 3, 50.0, 50.1, 503)
    assert summary([slow], outage, {})["violation_count"] == 1  # 1 of 1 calls: over the 0.1 % allowed
    many = [slow] + [Call(read, 4 + i, 60.0, 60.1, 200) for i in range(2000)]
    assert summary(many, outage, {})["violation_count"] == 0
    assert summary([*many, quick], outage, {})["violation_count"] == 1
