"""Defence in depth, and streams that stay up, against the real Durably behind a gateway.

Durably runs its own auth hooks on the gateway's `X-Identity-Assertion`
(tests/durably/assertion.mjs): every call through the gateway works (run look-ups included),
while a request that went around the gateway - without an assertion, with one signed by
another key, expired, for another audience or issuer - is refused by Durably itself, and a
replayed assertion cannot reach past its organization or role.

This Durably also holds its SSE head until the first event (as behind Node adapters that do
not flush it), and the gateway's `jobs-subscribe` routes have a 1 s idle timeout: the
gateway answers the head itself, keeps the quiet stream up with heartbeats, and relays the
first event when it comes.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.principal import Principal
from tests.support.guarded import Guarded, guarded_jobs
from tests.support.world import World

ALICE = "11111111-1111-4111-8111-111111111111"
CAROL = "33333333-3333-4333-8333-333333333333"


@pytest.fixture(scope="module")
def guarded(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    policies = tmp_path_factory.mktemp("policies")
    for path in Path("policies").glob("*.yaml"):
        text = path.read_text()
        (policies / path.name).write_text(text.replace("idle_timeout: 300", "idle_timeout: 1"))
    env = {"GATEWAY_POLICIES_DIR": str(policies), "GATEWAY_SSE_HEARTBEAT_SECONDS": "0.3"}
    with guarded_jobs(world, tmp_path_factory.mktemp("guarded"), env, {"DURABLY_FLUSH_HEADERS": "0"}) as running:
        yield running


def person(subject: str, org: str, *roles: str) -> Principal:
    return Principal("human", "customer", subject, org, frozenset(roles), frozenset())


def direct(guarded: Guarded, method: str, op: str, assertion: str | None = None, **kw: Any) -> httpx.Response:
    headers = {"X-Identity-Assertion": assertion} if assertion else {}
    return httpx.request(method, f"{guarded.durably.api_url}{op}", headers=headers, timeout=10, **kw)


def test_everything_through_the_gateway_works(guarded: Guarded, world: World) -> None:
    alice = world.bearer("alice")
    with httpx.Client(base_url=guarded.url + "/customer/api/durably", headers=alice, timeout=15) as http:
        run = http.post("/trigger", json={"jobName": "send-report", "input": {"steps": 1}}).json()["runId"]
        deadline = time.monotonic() + 15
        while http.get("/run", params={"runId": run}).json().get("status") != "completed":
            assert time.monotonic() < deadline, "the run did not complete"
            time.sleep(0.1)
        assert run in [r["id"] for r in http.get("/runs").json()]
        assert http.get("/steps", params={"runId": run}).status_code == 200
        again = http.post("/retrigger", params={"runId": run})
        assert again.status_code == 200, again.text
        assert http.delete("/run", params={"runId": run}).json() == {"success": True}
    seen = guarded.durably.recorder.requests()
    assert seen and all(r.status is not None and r.status < 400 for r in seen)
    assert all(r.header("x-identity-assertion") for r in seen)  # the run look-ups too


def test_a_request_around_the_gateway_is_refused_by_durably(guarded: Guarded) -> None:
    refused = direct(guarded, "GET", "/runs")
    assert refused.status_code == 401 and "through the gateway" in refused.json()["error"]
    body = {"jobName": "echo", "input": {}, "labels": {"organizationId": "org-acme", "tenant": "customer"}}
    assert direct(guarded, "POST", "/trigger", json=body).status_code == 401


def test_a_forged_expired_or_misdirected_assertion_is_refused(guarded: Guarded, tmp_path: Path) -> None:
    alice = person(ALICE, "org-acme", "member")
    body = {"jobName": "echo", "input": {}, "labels": {"organizationId": "org-acme", "tenant": "customer"}}
    good = guarded.signer().assertion(alice, "jobs")
    assert direct(guarded, "POST", "/trigger", good, json=body).status_code == 200  # the control: the real key
    other_key = Guarded(guarded.durably, guarded.gateway, tmp_path / "none").signer()  # a key of its own
    cases = {
        "another key": other_key.assertion(alice, "jobs"),
        "expired": guarded.signer(clock=lambda: time.time() - 600).assertion(alice, "jobs"),
        "another audience": guarded.signer().assertion(alice, "inventory"),
        "another issuer": guarded.signer(issuer="https://gateway.elsewhere.example").assertion(alice, "jobs"),
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
    }
    for what, assertion in cases.items():
        resp = direct(guarded, "POST", "/trigger", assertion, json=body)
        assert resp.status_code == 401, (what, resp.text)


def test_a_replayed_assertion_cannot_reach_past_its_organization_or_role(guarded: Guarded, world: World) -> None:
    bob_run = httpx.post(
        f"{guarded.url}/customer/api/durably/trigger",
        json={"jobName": "echo", "input": {}},
        headers=world.bearer("bob"),
        timeout=10,
    ).json()["runId"]
    alice = guarded.signer().assertion(person(ALICE, "org-acme", "member"), "jobs")
    theirs = {"jobName": "echo", "input": {}, "labels": {"organizationId": "org-globex", "tenant": "customer"}}
    assert direct(guarded, "POST", "/trigger", alice, json=theirs).status_code == 403
    assert direct(guarded, "GET", "/run", alice, params={"runId": bob_run}).json() == {"error": "Run not found"}
    listed = direct(guarded, "GET", "/runs", alice, params={"label.organizationId": "org-globex", "limit": 200})
    assert bob_run not in [r["id"] for r in listed.json()]
    assert {r["labels"]["organizationId"] for r in listed.json()} <= {"org-acme"}
    carol = guarded.signer().assertion(person(CAROL, "org-acme", "viewer"), "jobs")
    mine = {"jobName": "echo", "input": {}, "labels": {"organizationId": "org-acme", "tenant": "customer"}}
    assert direct(guarded, "POST", "/trigger", carol, json=mine).status_code == 403  # a viewer cannot write


@dataclass
class RawStream:
    """Every line of an SSE response as it arrives (comments included)."""

    url: str
    headers: dict[str, str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    opened: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    status: int = 0

    def start(self) -> RawStream:
        threading.Thread(target=self._read, daemon=True).start()
        assert self.opened.wait(10), "no head within 10 s"
        return self

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(10, read=30)) as resp:
                self.status = resp.status_code
                self.opened.set()
                for line in resp.iter_lines():
                    self.lines.put(line)
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def next_line(self, predicate: Any, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if predicate(line):
                return line


def test_a_quiet_stream_gets_its_head_and_heartbeats_and_outlives_the_idle_timeout(
    guarded: Guarded, world: World
) -> None:
    alice = world.bearer("alice")
    guarded.durably.recorder.clear()
    stream = RawStream(f"{guarded.url}/customer/api/durably/runs/subscribe", alice).start()
    assert stream.status == 200  # Durably holds its head until an event: this one is the gateway's
    [subscribe] = [r for r in guarded.durably.recorder.requests() if "/runs/subscribe" in r.path]
    assert subscribe.status == 200 and "label.organizationId=org-acme" in subscribe.path
    beats = [stream.next_line(lambda line: line.startswith(":"), timeout=5) for _ in range(3)]
    assert beats == [": keep-alive"] * 3
    time.sleep(2.5)  # quiet for longer than the route's 1 s idle timeout
    assert not stream.ended.is_set()
    run = httpx.post(
        f"{guarded.url}/customer/api/durably/trigger",
        json={"jobName": "echo", "input": {}},
        headers=alice,
        timeout=10,
    ).json()["runId"]
    first = stream.next_line(lambda line: line.startswith("data:") and run in line)
    assert json.loads(first[5:])["labels"]["organizationId"] == "org-acme"
