"""A bounded soak on loopback with an Ory outage midway: zero wrong decisions, zero cross-org
data, and the gateway's memory and sockets come back.

``SOAK_REQUESTS`` requests (default 20000; ``SOAK_REQUESTS=50000`` for the full run) at
concurrency 64 across the three tenants, a fixed mix of allowed, denied and cross-org
attempts whose answers are known. When half are done, every Ory project answers 500 for
``FAULT_SECONDS``; a 503 is accepted only for a request that overlapped that window.
The decision cache TTL is 1 s so the outage is felt (cached decisions would hide it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.robustness.conftest import Backends
from tests.robustness.support import SOAK_REQUESTS, robust_env, robust_gateway, rss_kib, socket_count
from tests.support.polling import eventually
from tests.support.processes import Proc

#: in the "serial" group under pytest-xdist (tests/conftest.py): loads the machine; bounds on memory and sockets
pytestmark = pytest.mark.xdist_group("serial")

CONCURRENCY = 64
FAULT_SECONDS = 3.0
SLACK = 2.5  # a request may straddle the window edges (the tenant's Ory timeout is 2 s)
USERS = {
    "alice": "11111111-1111-4111-8111-111111111111",
    "bob": "22222222-2222-4222-8222-222222222222",
    "eve": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
}


@dataclass(frozen=True)
class Case:
    name: str
    who: str | None  # a user, "partner" (machine token), "bogus", or None (anonymous)
    method: str
    target: str
    status: int
    org: str | None = None  # the organization the upstream must have seen (200 only)
    subject: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


SPOOF = (("X-Org-Id", "org-globex"), ("X_Org_Id", "org-globex"), ("X-User-Id", USERS["bob"]))
CASES = [
    Case(
        "alice-read",
        "alice",
        "GET",
        "/customer/h/alice?label.organizationId=org-globex",
        200,
        "org-acme",
        USERS["alice"],
        SPOOF,
    ),
    Case("alice-write", "alice", "POST", "/customer/w/alice", 200, "org-acme", USERS["alice"]),
    Case(
        "bob-read",
        "bob",
        "GET",
        "/customer/h/bob",
        200,
        "org-globex",
        USERS["bob"],
        (("X-Org-Id", "org-acme"), ("X.Org.Id", "org-acme")),
    ),
    Case("carol-write", "carol", "POST", "/customer/w/carol", 403),  # a viewer
    Case("dave-on-customer", "dave", "GET", "/customer/h/dave", 401),  # the dealer tenant's session
    Case("alice-on-dealer", "alice", "GET", "/dealer/h/alice", 401),
    Case("partner-read", "partner", "GET", "/dealer/h/partner", 200, "org-partner", "partner-inventory"),
    Case("partner-write", "partner", "POST", "/dealer/w/partner", 403),  # no jobs:write scope
    Case("partner-on-customer", "partner", "GET", "/customer/h/partner", 401),
    Case("sam-on-admin", "sam", "GET", "/admin/h/sam", 403),  # staff role, not viewer/member
    Case("eve-on-admin", "eve", "GET", "/admin/h/eve", 200, "org-platform", USERS["eve"]),
    Case("anonymous", None, "GET", "/customer/h/anon", 401),
    Case("bogus-token", "bogus", "GET", "/customer/h/bogus", 401),
    Case("public", None, "GET", "/customer/p/public", 200),
]


@dataclass
class Result:
    case: Case
    started: float
    ended: float
    status: int
    body: bytes


@pytest.fixture(scope="module")
def soak_gateway(backends: Backends) -> Iterator[Proc]:
    env = robust_env(
        backends.emulator.base_url,
        "http://127.0.0.1:9",
        backends.rec.url,
        backends.faulty.url,
        GATEWAY_CACHE_MAX_TTL="1",
        GATEWAY_CACHE_NEGATIVE_TTL="1",
        GATEWAY_LOG_LEVEL="WARNING",
    )
    with robust_gateway(env) as proc:
        yield proc


async def _run(url: str, tokens: dict[str, str], total: int, fault: list[float], backends: Backends) -> list[Result]:
    """`total` requests from CONCURRENCY workers (aiohttp: httpx's pool tops out near 200 rps here)."""
    results: list[Result] = []
    counter = iter(range(total))

    async def inject(http: aiohttp.ClientSession) -> None:
        if not fault:
            return
        while len(results) < total // 2:
            await asyncio.sleep(0.05)
        base = backends.emulator.base_url + "/_emulator/faults"
        fault[0] = time.monotonic()
        async with http.post(base, json={"mode": "status", "status": 500}) as resp:
            assert resp.status == 201
        await asyncio.sleep(FAULT_SECONDS)
        async with http.delete(base) as resp:
            assert resp.status == 204
        fault[1] = time.monotonic()

    async def worker(http: aiohttp.ClientSession) -> None:
        for i in counter:
            case = CASES[i % len(CASES)]
            headers = dict(case.headers) | ({"Authorization": f"Bearer {tokens[case.who]}"} if case.who else {})
            started = time.monotonic()
            async with http.request(
                case.method, url + case.target, headers=headers, data=b"{}" if case.method == "POST" else None
            ) as resp:
                body = await resp.read()
            results.append(Result(case, started, time.monotonic(), resp.status, body))

    connector = aiohttp.TCPConnector(limit=CONCURRENCY + 1)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(inject(http), *(worker(http) for _ in range(CONCURRENCY)))
    return results


def _wrong(result: Result, window: tuple[float, float]) -> str | None:
    case = result.case
    if result.status == 503:
        overlaps = result.ended >= window[0] and result.started <= window[1] + SLACK
        return None if overlaps else "503 outside the outage"
    if result.status != case.status:
        return f"{result.status} instead of {case.status}"
    if case.status == 200 and case.org is not None:
        echo = json.loads(result.body)
        seen = (echo["org"], echo["user"] or echo["client"])
        if seen != (case.org, case.subject):
            return f"upstream saw {seen}"
    return None


def test_soak_with_an_ory_outage(soak_gateway: Proc, backends: Backends) -> None:
    tokens = {who: backends.token(who) for who in ("alice", "bob", "carol", "dave", "sam", "eve")}
    tokens["partner"] = backends.token("partner-inventory:inventory:read")
    tokens["bogus"] = "ory_st_" + "x" * 32
    pid = soak_gateway.process.pid
    asyncio.run(_run(soak_gateway.url, tokens, 2000, [], backends))  # warm-up: pools, caches, allocator
    backends.faults("DELETE")
    backends.faulty.clear()
    backends.clear()
    rss_before, sockets_before = rss_kib(pid), socket_count(pid)

    fault = [0.0, 0.0]
    started = time.monotonic()
    results = asyncio.run(_run(soak_gateway.url, tokens, SOAK_REQUESTS, fault, backends))
    elapsed = time.monotonic() - started
    window = (fault[0], fault[1])

    wrong = [(r.case.name, why) for r in results if (why := _wrong(r, window)) is not None]
    by_status = Counter(r.status for r in results)
    assert len(results) == SOAK_REQUESTS
    assert wrong == [], Counter(wrong).most_common(10)
    assert by_status[503] > 0  # the outage was felt ...
    assert all(r.status != 503 for r in results if r.started > window[1] + SLACK)  # ... and recovered from

    # what the upstream received: only allowed requests, each with its caller's organization
    allowed = Counter(r.case.target.split("?")[0].split("/", 2)[2] for r in results if r.status == 200)
    forwarded = backends.faulty.requests()
    got = Counter(str(r["target"]).split("?")[0] for r in forwarded)
    expected_targets = {f"/{t}": n for t, n in allowed.items() if not t.startswith("p/")}
    assert got == Counter(expected_targets)
    owners = {
        "/h/alice": "org-acme",
        "/w/alice": "org-acme",
        "/h/bob": "org-globex",
        "/h/partner": "org-partner",
        "/h/eve": "org-platform",
    }
    for request in forwarded:
        headers = [(str(k).lower().replace("_", "-").replace(".", "-"), v) for k, v in request["headers"]]
        orgs = [v for k, v in headers if k == "x-org-id"]
        assert orgs == [owners[str(request["target"]).split("?")[0]]], request
    assert len(backends.recorded()) == allowed["p/public"]
    assert all("x-org-id" not in {k.lower() for k, _ in r["headers"]} for r in backends.recorded())

    # memory and sockets come back
    eventually(
        lambda: socket_count(pid) <= sockets_before + 8, timeout=15, what=lambda: (sockets_before, socket_count(pid))
    )
    time.sleep(1)
    rss_after = rss_kib(pid)
    report = {
        "requests": len(results),
        "seconds": round(elapsed, 1),
        "rps": round(len(results) / elapsed),
        "statuses": dict(sorted(by_status.items())),
        "outage_s": round(window[1] - window[0], 1),
        "rss_kib_before": rss_before,
        "rss_kib_after": rss_after,
        "sockets": (sockets_before, socket_count(pid)),
        "forwarded": len(forwarded),
    }
    print("\nSOAK", json.dumps(report))
    assert rss_after <= rss_before + 32 * 1024, report  # within 32 MiB of the warmed-up baseline
