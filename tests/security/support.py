"""Shared pieces of the security corpus: the second gateway, cases, runners, assertions.

The corpus runs every case through a live gateway (real uvicorn + httptools) to the
recording upstream `inventory` (tests.support.recorder) or to the real Durably
service, and asserts the status AND what the upstream received.

Two gateways share the session world's emulator, Durably and recorder:

* ``world.gateway`` - the shipped policies, no host routing, no trusted proxies;
* the security gateway - the shipped policies plus ``policies/security.yaml``
  (catch-all routes to the recorder for humans, machines, anonymous callers, a
  websocket route and an SSE route), host routing (``customer.example``,
  ``dealer.example``, ``admin.example``) and a trusted-proxy list that does not
  contain the test client (``10.0.0.0/8``).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.security.redirector import Redirector
from tests.support.processes import ROOT, Proc, Recorder, gateway_process, header_values
from tests.support.rawhttp import Header, RawResponse, build, exchange
from tests.support.world import World

HERE = Path(__file__).resolve().parent
HOSTS = {"customer": "customer.example", "dealer": "dealer.example", "admin": "admin.example"}
UNTRUSTED_PROXIES = "10.0.0.0/8"

#: every header name the gateway owns towards the upstream (README, "What the upstream receives")
IDENTITY = (
    "x-tenant",
    "x-principal-kind",
    "x-user-id",
    "x-client-id",
    "x-org-id",
    "x-roles",
    "x-scopes",
    "x-session-id",
    "x-request-id",
    "x-identity-assertion",
)
#: set by the gateway from the peer it actually saw (never from an untrusted client)
FORWARDING = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")
#: the identity each seeded caller must arrive with
ALICE = {
    "x-tenant": "customer",
    "x-principal-kind": "human",
    "x-org-id": "org-acme",
    "x-user-id": "11111111-1111-4111-8111-111111111111",
    "x-roles": "member",
}
CAROL = {
    "x-tenant": "customer",
    "x-principal-kind": "human",
    "x-org-id": "org-acme",
    "x-user-id": "33333333-3333-4333-8333-333333333333",
    "x-roles": "viewer",
}
PARTNER = {
    "x-tenant": "dealer",
    "x-principal-kind": "machine",
    "x-org-id": "org-partner",
    "x-client-id": "partner-inventory",
}
ANONYMOUS = {"x-tenant": "customer"}


def security_env(world_env: Mapping[str, str], policies_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(world_env)
    env.pop("GATEWAY_LISTEN", None)
    env["GATEWAY_POLICIES_DIR"] = str(policies_dir)
    for tenant, host in HOSTS.items():
        env[f"GATEWAY_TENANT_{tenant.upper()}_HOSTS"] = host
    env["GATEWAY_TRUSTED_PROXIES"] = UNTRUSTED_PROXIES
    env.update(extra)
    return env


@contextmanager
def security_gateway(world_env: Mapping[str, str], **extra: str) -> Iterator[Proc]:
    """A gateway with the shipped policies plus the security routes and host routing."""
    with security_policies() as policies, gateway_process(security_env(world_env, policies, **extra)) as proc:
        yield proc


@contextmanager
def security_policies() -> Iterator[Path]:
    """A folder with the shipped policies and the security routes, removed afterwards."""
    policies = Path(tempfile.mkdtemp(prefix="sec-policies-"))
    try:
        for source in [*(ROOT / "policies").glob("*.yaml"), HERE / "policies" / "security.yaml"]:
            shutil.copy(source, policies / source.name)
        yield policies
    finally:
        shutil.rmtree(policies, ignore_errors=True)


@dataclass
class Sec:
    """Everything a case needs: both gateways, the recorders and cached credentials."""

    world: World
    gateway: Proc
    redirector: Redirector
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def recorder(self) -> Recorder:
        return self.world.inventory

    def clear(self) -> None:
        """Forget the recorder's requests (one kept-alive client: httpx.get costs ~100 ms)."""
        self._http.delete(self.recorder.url + "/__recorder/requests").raise_for_status()

    def recorded(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._http.get(self.recorder.url + "/__recorder/requests").json()
        for item in items:
            item["body"] = base64.b64decode(item.pop("body_b64"))
        return items

    @cached_property
    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=10)

    def token(self, who: str) -> str:
        """A session token for a user, or ``client:scope`` for a machine token (cached)."""
        if who not in self._tokens:
            if ":" in who and who.split(":", 1)[0] in (
                "partner-inventory",
                "customer-gateway",
                "dealer-gateway",
                "partner-jwt",
                "admin-ops",
            ):
                client, scope = who.split(":", 1)
                self._tokens[who] = self.world.machine_token(client, scope)
            else:
                self._tokens[who] = self.world.session(who)
        return self._tokens[who]

    def auth_headers(self, who: str) -> dict[str, str]:
        return dict(self.auth(who))

    def auth(self, who: str | None) -> list[Header]:
        return [] if who is None else [("Authorization", f"Bearer {self.token(who)}")]


def browser_cookie(emulator_url: str, tenant: str, email: str, password: str) -> tuple[str, str]:
    """A Kratos browser login: the session cookie's (name, value)."""
    base = f"{emulator_url}/{tenant}"
    with httpx.Client(headers={"accept": "application/json"}) as browser:
        flow = browser.get(f"{base}/self-service/login/browser").json()
        csrf = next(
            n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "csrf_token"
        )
        body = {"method": "password", "identifier": email, "password": password, "csrf_token": csrf}
        browser.post(f"{base}/self-service/login", params={"flow": flow["id"]}, json=body).raise_for_status()
        return next((c.name, c.value or "") for c in browser.cookies.jar if c.name.startswith("ory_"))


# --- cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What the upstream must have received: nothing, or exactly one request."""

    #: None: nothing reaches the upstream; else the exact target (path + query) it must get
    target: str | None = None
    method: str = "GET"
    #: identity headers that must arrive with exactly these values (one copy each);
    #: without ``x-principal-kind`` the request is anonymous: no principal header at all
    identity: Mapping[str, str] = field(default_factory=dict)
    #: header names (any spelling) that must not reach the upstream at all
    absent: Sequence[str] = ()
    #: header (name, value) pairs that must arrive unchanged, exactly once
    present: Sequence[Header] = ()
    #: values the client chose that must appear in no upstream header at all
    never: Sequence[str] = ()
    #: the exact body the upstream must get (None: not checked)
    body: bytes | None = None


NOTHING = Expect()


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    target: str
    headers: Sequence[Header] = ()
    #: the caller (Sec.token key) whose bearer token is added; None: anonymous
    who: str | None = None
    host: str | None = "gw.test"
    body: bytes = b""
    status: int | tuple[int, ...] = 200
    expect: Expect = NOTHING
    #: which gateway: "sec" (security gateway) or "world" (shipped config)
    gateway: str = "sec"

    def request_bytes(self, sec: Sec) -> bytes:
        host: list[Header] = [] if self.host is None else [("Host", self.host)]
        return build(self.method, self.target, [*host, *sec.auth(self.who), *self.headers], self.body)


def ids(cases: Sequence[Case]) -> list[str]:
    found = [c.id for c in cases]
    assert len(set(found)) == len(found), "case ids must be unique"
    return found


def gateway_url(sec: Sec, which: str) -> str:
    return sec.url if which == "sec" else sec.world.url


def run_case(sec: Sec, case: Case) -> tuple[RawResponse, list[dict[str, Any]]]:
    """Send the case's exact bytes, then read what the recorder got."""
    data = case.request_bytes(sec)  # tokens first: logging in must not race the recorder
    sec.clear()
    response = exchange(gateway_url(sec, case.gateway), data, head=case.method == "HEAD")
    time.sleep(0.02)  # a forwarded request is recorded before the gateway answers; guard against extras
    return response, sec.recorded()


def check_status(response: RawResponse, status: int | tuple[int, ...], label: str) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status in statuses, f"{label}: status {response.status}, body {response.body[:300]!r}"


def check_case(sec: Sec, case: Case) -> None:
    response, seen = run_case(sec, case)
    check_status(response, case.status, case.id)
    check_upstream(case.expect, seen, upstream_host(sec), case.id)


def upstream_host(sec: Sec) -> str:
    return urlsplit(sec.recorder.url).netloc


def check_upstream(expect: Expect, seen: list[dict[str, Any]], host: str, label: str = "") -> None:
    if expect.target is None:
        assert seen == [], f"{label}: the upstream must receive nothing, got {_summary(seen)}"
        return
    assert len(seen) == 1, f"{label}: the upstream must receive exactly one request, got {_summary(seen)}"
    got = seen[0]
    assert got["method"] == expect.method, f"{label}: upstream method {got['method']}"
    assert got["target"] == expect.target, f"{label}: upstream target {got['target']!r}"
    assert header_values(got, "host") == [host], f"{label}: upstream Host {header_values(got, 'host')}"
    assert_gateway_identity(got, expect.identity, label)
    for name in expect.absent:
        assert header_values(got, name) == [], f"{label}: {name} reached the upstream: {got['headers']}"
    for name, value in expect.present:
        assert header_values(got, name) == [value], f"{label}: {name} is {header_values(got, name)}"
    for value in expect.never:
        leaked = [(k, v) for k, v in got["headers"] if value in v]
        assert leaked == [], f"{label}: the client's {value!r} reached the upstream in {leaked}"
    if expect.body is not None:
        assert got["body"] == expect.body, f"{label}: upstream body {got['body'][:200]!r}"


PRINCIPAL = (
    "x-principal-kind",
    "x-user-id",
    "x-client-id",
    "x-org-id",
    "x-roles",
    "x-scopes",
    "x-session-id",
    "x-identity-assertion",
)


def assert_gateway_identity(got: dict[str, Any], identity: Mapping[str, str], label: str = "") -> None:
    """Each identity header arrives at most once, in the gateway's own spelling, with the
    gateway's value; an anonymous request carries no principal header at all."""
    names = [k.lower() for k, _ in got["headers"]]
    for name in IDENTITY:
        values = header_values(got, name)
        spellings = {n for n in names if n.replace("_", "-").replace(".", "-") == name}
        assert len(values) <= 1, f"{label}: {name} arrived {len(values)} times: {values}"
        assert spellings <= {name}, f"{label}: {name} arrived spelt {spellings}"
        if name in identity:
            assert values == [identity[name]], f"{label}: {name} is {values}, want {identity[name]!r}"
    if "x-principal-kind" not in identity:
        for name in PRINCIPAL:
            assert header_values(got, name) == [], f"{label}: anonymous request carried {name}"
    else:
        assert len(header_values(got, "x-identity-assertion")) == 1, f"{label}: no identity assertion"
    assert len(header_values(got, "x-request-id")) == 1, f"{label}: X-Request-Id"
    assert header_values(got, "x-forwarded-for") == ["127.0.0.1"], f"{label}: X-Forwarded-For"


def _summary(seen: list[dict[str, Any]]) -> str:
    return json.dumps([(r["method"], r["target"]) for r in seen])
