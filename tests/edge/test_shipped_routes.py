"""The shipped policies' routes through the gateway alone and through the edge: the same answers.

Each case is sent to the gateway directly, then through nginx with what `gateway edge nginx`
renders (tests/edge/conftest.py), and both must agree on what the client got (status, error
code, login redirect, WWW-Authenticate, Retry-After) and on what the upstream received
(method, target, body, identity, what was consumed), whichever of nginx or the gateway forwarded.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from gateway.forward.headers import CONSUMED, CREDENTIALS, IDENTITY_HEADERS
from tests.edge.conftest import Edge
from tests.support.processes import header_values
from tests.support.seed import browser_login
from tests.support.world import Auth

#: what the upstream received that must be the same either way (values of the moment aside:
#: X-Request-Id, traceparent, the assertion's times)
COMPARED = (
    *sorted(IDENTITY_HEADERS - {"x-request-id", "x-identity-assertion"}),
    "x-forwarded-proto",
    "x-forwarded-host",
    *sorted(CREDENTIALS | CONSUMED),
    "cookie",
    "content-type",
)
TRIGGER = b'{"jobName":"send-report","input":{}}'


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    target: str
    who: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    host: str = "gw.test"


CASES = [
    Case("dashboard-bearer", "GET", "/customer/", "alice", {"Accept": "text/html"}),
    Case("dashboard-cookie", "GET", "/customer/", "alice-cookie", {"Accept": "text/html"}),
    Case("dashboard-login-redirect", "GET", "/customer/?tab=runs", None, {"Accept": "text/html"}),
    Case("dashboard-program-without-credential", "GET", "/customer/", None, {"Accept": "application/json"}),
    Case("dashboard-default-tenant-root", "GET", "/", "alice"),
    Case("dashboard-chosen-by-header", "GET", "/customer/", "dana", {"X-Organization-Id": "org-globex"}),
    Case("dashboard-of-several-unchosen", "GET", "/customer/", "dana"),
    Case("dashboard-org", "GET", "/customer/orgs/org-globex", "dana"),
    Case("dashboard-org-not-a-member", "GET", "/customer/orgs/org-globex", "alice"),
    Case("dashboard-org-encoded", "GET", "/customer/orgs/%6Frg-acme", "alice"),
    Case("dashboard-org-ambiguous", "GET", "/customer/orgs/a%2Fb", "alice"),
    Case("partner-api", "GET", "/dealer/partner-api/inventory?page=2", "partner"),
    Case("partner-api-head", "HEAD", "/dealer/partner-api/inventory", "partner"),
    Case("partner-api-by-host", "GET", "/partner-api/inventory", "partner", host="dealer.example"),
    Case("partner-api-a-person", "GET", "/dealer/partner-api/inventory", "alice"),
    Case("partner-api-scope-missing", "GET", "/dealer/partner-api/inventory", "jobs-reader"),
    Case("partner-api-method-not-taken", "POST", "/dealer/partner-api/inventory", "partner"),
    Case("partner-api-bad-token", "GET", "/dealer/partner-api/inventory", None, {"Authorization": "Bearer ory_at_x"}),
    Case("report-allowed", "GET", "/customer/orgs/org-acme/reports/q3", "alice"),
    Case("report-denied", "GET", "/customer/orgs/org-acme/reports/q3", "dana"),
    Case("durably-list", "GET", "/customer/api/durably/runs", "alice"),
    Case(
        "durably-trigger",
        "POST",
        "/customer/api/durably/trigger",
        "alice",
        {"Content-Type": "application/json"},
        TRIGGER,
    ),
    Case(
        "durably-trigger-viewer",
        "POST",
        "/customer/api/durably/trigger",
        "carol",
        {"Content-Type": "application/json"},
        TRIGGER,
    ),
    Case("no-route", "GET", "/customer/nowhere", "alice"),
    Case("login-built-in", "GET", "/customer/auth/login?return_to=/customer/", None),
    Case(
        "cors-preflight",
        "OPTIONS",
        "/customer/orgs/org-acme",
        None,
        {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    ),
    Case("health", "GET", "/healthz"),
]


@dataclass(frozen=True)
class Seen:
    status: int
    answer: dict[str, str | None]
    received: list[dict[str, Any]]


@pytest.fixture(scope="module")
def credentials(edge: Edge, auth: Auth) -> dict[str, dict[str, str]]:
    name, value = browser_login(edge.world.emulator.base_url, "customer", "alice@acme.example", "alice-password")
    return {
        "alice": auth("alice"),
        "carol": auth("carol"),
        "dana": auth("dana"),
        "alice-cookie": {"Cookie": f"lang=en; {name}={value}"},
        "partner": auth("machine:partner-inventory:inventory:read"),
        "jobs-reader": auth("machine:partner-inventory:jobs:read"),
    }


def through(edge: Edge, url: str, case: Case, credential: dict[str, str]) -> Seen:
    world = edge.world
    world.inventory.clear()
    world.durably.recorder.clear()
    headers = {"Host": case.host, **credential, **case.headers}
    resp = httpx.request(case.method, url + case.target, headers=headers, content=case.body, timeout=15)
    answer = {name: resp.headers.get(name) for name in ("content-type", "location", "www-authenticate", "retry-after")}
    if resp.headers.get("content-type") == "application/json" and resp.status_code >= 400:
        answer["error"] = resp.json()["error"]
    received = [upstream_view(r) for r in world.inventory.requests()]
    received += [
        durably_view(r.method, r.path, list(r.headers), r.body.encode()) for r in world.durably.recorder.requests()
    ]
    return Seen(resp.status_code, answer, received)


def upstream_view(got: dict[str, Any]) -> dict[str, Any]:
    return _view(got["method"], got["target"], [tuple(h) for h in got["headers"]], got["body"])


def durably_view(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    return _view(method, target, headers, body)


def _view(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    got = {"headers": headers}
    view: dict[str, Any] = {"method": method, "target": target, "body": body}
    view |= {name: header_values(got, name) for name in COMPARED}
    view["client"] = [v.split(",")[0] for v in header_values(got, "x-forwarded-for")]  # then any proxies
    view["assertion"] = [_claims(v) for v in header_values(got, "x-identity-assertion")]
    view["request-id"] = len(header_values(got, "x-request-id"))
    return view


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {k: v for k, v in claims.items() if k not in ("iat", "nbf", "exp")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_gateway_alone_and_the_edge_answer_alike(
    edge: Edge, credentials: dict[str, dict[str, str]], case: Case
) -> None:
    credential = credentials[case.who] if case.who else {}
    alone = through(edge, edge.gateway.url, case, credential)
    fronted = through(edge, edge.nginx.url, case, credential)
    assert fronted.status == alone.status, (alone, fronted)
    assert fronted.answer == alone.answer
    assert fronted.received == alone.received
