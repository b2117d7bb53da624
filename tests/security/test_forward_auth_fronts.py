"""SECURITY.md class "Forward-auth integration", through the real front proxies.

The shipped recipes (deploy/forward-auth/nginx.conf for nginx `auth_request`,
deploy/forward-auth/Caddyfile for Caddy 2.6 forward auth) run by the real nginx and Caddy in
front of a gateway that trusts them, forwarding to the recording upstream, and so does the
configuration `gateway edge nginx` renders from that gateway's environment (edge mode: nginx
forwards the plain routes itself, everything else and every denial goes to the gateway). Every
case runs in four modes - the gateway alone (the security gateway, which forwards itself),
behind nginx, behind Caddy, in edge mode - and asserts what the upstream received: nothing, or
one request that carries the decision's identity and nothing of the client's, whose method and
path are the ones the gateway decided (read from the gateway's access-log line, found by the
caller's trace id). A refreshed session cookie (docs/sessions.md) reaches the client on
every answer, once, and never the upstream. The edge's decision cache is off here, so that
every request has its decision's line; tests/edge/test_cache.py runs it with the cache.

The advisories behind the cases: Traefik GHSA-3q9r-p662-5j8m (a forwarded header rebuilt from
an untrusted one), GHSA-6384-m2mw-rf54 (a spoofed X-Forwarded-Prefix reaching the auth
service), GHSA-5m6w-wvh7-57vm (underscore aliases of trusted headers); heimdall
GHSA-r8x2-fhmf-6mxp (the path rebuilt differently for the decision); APISIX CVE-2026-39998 and
CVE-2026-31908 (identity headers the decision does not set, or injects, surviving at the
proxy), CVE-2024-32638 (a body on the auth subrequest); Envoy CVE-2021-32777 (multi-value
headers merged on the way to the decision).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from gateway.edge.nginx_http import PLAIN
from tests.security.support import (
    ALICE,
    ANONYMOUS,
    IDENTITY,
    PARTNER,
    Sec,
    browser_cookie,
    security_env,
    security_policies,
)
from tests.support.fronts import caddy_front, edge_front, nginx_front
from tests.support.ops import access_lines
from tests.support.polling import eventually
from tests.support.processes import Proc, free_port, gateway_process, header_values
from tests.support.rawhttp import Header, RawResponse, build, exchange
from tests.support.seed import API_KEYS, PASSWORDS
from tests.support.sessions import attributes, cookie_value, extended_session

MODES = ("gateway", "nginx", "caddy", "edge")
#: modes whose refusals are the gateway's own answers (the edge hands every denial to the gateway)
ANSWERED_BY_GATEWAY = {"gateway", "edge"}
MACHINE = "partner-inventory:inventory:read"
PARTNER_API = "/dealer/partner-api/inventory"
EVIL = "evil-by-client"
#: never from a front proxy: a status the gateway gave that it did not understand becomes 500
NEVER_IN_FRONT = {405, 500}


@dataclass(frozen=True)
class Mode:
    name: str
    url: str
    #: the gateway that decides (and logs the decision)
    decider: Proc


@dataclass
class Sent:
    response: RawResponse
    #: what the upstream received
    seen: list[dict[str, Any]]
    trace_id: str


@dataclass(frozen=True)
class Fronted:
    gateway: Proc
    env: dict[str, str]


@pytest.fixture(scope="module")
def fronted(sec: Sec) -> Iterator[Fronted]:
    """The security gateway's configuration, trusting the proxies on loopback and reading
    Caddy's X-Forwarded-Uri / -Method for a bare /decisions (nginx uses /decisions/<path>);
    no decision reused by the edge (each request's decision is in the access log)."""
    extra = {
        "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",
        "GATEWAY_DECISIONS_HEADERS": "forwarded",
        "GATEWAY_UPSTREAM_REDIRECTOR_URL": sec.redirector.url,
        "GATEWAY_EDGE_CACHE_TTL": "0",
        "GATEWAY_LISTEN": f"127.0.0.1:{free_port()}",
    }
    with security_policies() as policies:
        env = security_env(sec.world.env, policies, **extra)
        with gateway_process(env) as gateway:
            yield Fronted(gateway, env)


@pytest.fixture(scope="module")
def modes(sec: Sec, fronted: Fronted) -> Iterator[dict[str, Mode]]:
    """Each front proxy started once for the module: the shipped recipes, the rendered edge."""
    decider = fronted.gateway
    with (
        nginx_front(decider.url, sec.recorder.url) as nginx,
        caddy_front(decider.url, sec.recorder.url) as caddy,
        edge_front(fronted.env) as edge,
    ):
        yield {
            "gateway": Mode("gateway", sec.url, sec.gateway),
            "nginx": Mode("nginx", nginx.url, decider),
            "caddy": Mode("caddy", caddy.url, decider),
            "edge": Mode("edge", edge.url, decider),
        }


def send(
    sec: Sec, mode: Mode, method: str, target: str, headers: Sequence[Header] = (), *, who: str | None = None
) -> Sent:
    """The exact bytes through `mode`; then what the upstream got."""
    return send_raw(sec, mode, build(method, target, [*_head(sec, who), *headers]), head=method == "HEAD")


def send_raw(sec: Sec, mode: Mode, data: bytes, *, head: bool = False, trace_id: str | None = None) -> Sent:
    sec.clear()
    response = exchange(mode.url, data, head=head)
    never = {500} if mode.name in ANSWERED_BY_GATEWAY else NEVER_IN_FRONT
    assert response.status not in never, f"{mode.name}: {response.status}"
    time.sleep(0.02)  # a forwarded request is recorded before the answer; guard against extras
    return Sent(response, sec.recorded(), trace_id or "")


def _head(sec: Sec, who: str | None, trace_id: str | None = None) -> list[Header]:
    trace = [("traceparent", f"00-{trace_id}-{'ab' * 8}-01")] if trace_id else []
    return [("Host", "gw.test"), *sec.auth(who), *trace]


def decision_lines(mode: Mode, last: str) -> dict[str, dict[str, object]]:
    """The decider's access-log lines by trace id, once the line of trace `last` is written (lines
    are written in batches, in order: every earlier request's line is there too)."""

    def written() -> dict[str, dict[str, object]] | None:
        lines = {str(line["trace_id"]): line for line in access_lines(mode.decider.output())}
        return lines if last in lines else None

    return eventually(written, timeout=10, what=f"{mode.name}: the decision of trace {last} in the access log")


def identity(got: dict[str, Any]) -> dict[str, str]:
    """The identity headers the upstream received, "" for one absent or empty (a proxy may send
    an empty value where it does not apply): each at most once, in its own spelling only."""
    names = [name.lower() for name, _ in got["headers"]]
    found = {}
    for name in IDENTITY:
        values = header_values(got, name)
        spellings = {n for n in names if n.replace("_", "-").replace(".", "-") == name}
        assert len(values) <= 1 and spellings <= {name}, f"{name}: {values} spelt {spellings}"
        found[name] = values[0] if values else ""
    return found


def nothing_of_the_client(got: dict[str, Any]) -> None:
    leaked = [(name, value) for name, value in got["headers"] if EVIL in value]
    assert leaked == [], f"the client's values reached the upstream: {leaked}"
    for name in ("authorization", "x-organization-id", "x-original-uri", "x-forwarded-uri", "x-forwarded-method"):
        assert header_values(got, name) == [], f"{name} reached the upstream: {header_values(got, name)}"


# --- the request decided is the request forwarded ------------------------------------------

#: the issue: alice's bearer to the dealer's machine-only partner API, described as /customer/
DESCRIBED_ELSEWHERE = {
    "forwarded-uri": [("X-Forwarded-Uri", "/customer/")],
    "forwarded-uri-and-method": [("X-Forwarded-Uri", "/customer/"), ("X-Forwarded-Method", "GET")],
    "original-uri-and-method": [("X-Original-URI", "/customer/"), ("X-Original-Method", "GET")],
    "every-family": [
        ("X-Forwarded-Uri", "/customer/"),
        ("X-Original-URI", "/customer/"),
        ("X-Original-URL", "/customer/"),
        ("X-Rewrite-URL", "/customer/"),
        ("X-Forwarded-Prefix", "/customer"),
    ],
    "aliases": [("X_Forwarded_Uri", "/customer/"), ("x.original.uri", "/customer/")],
}


@pytest.mark.parametrize("spoof", DESCRIBED_ELSEWHERE, ids=list(DESCRIBED_ELSEWHERE))
@pytest.mark.parametrize("mode", MODES)
def test_a_client_cannot_describe_another_request(sec: Sec, modes: dict[str, Mode], mode: str, spoof: str) -> None:
    sent = send(sec, modes[mode], "GET", PARTNER_API, DESCRIBED_ELSEWHERE[spoof], who="alice")
    assert sent.response.status == 401, sent.response.body[:300]  # a person's session at a machines-only route
    assert sent.seen == []


@pytest.mark.parametrize("mode", MODES)
def test_a_client_cannot_describe_another_method(sec: Sec, modes: dict[str, Mode], mode: str) -> None:
    """A read-only machine POSTs to a GET-only route, saying it is a GET."""
    spoof = [("X-Forwarded-Method", "GET"), ("X-Original-Method", "GET"), ("X-HTTP-Method-Override", "GET")]
    for headers in ([], spoof):
        sent = send(sec, modes[mode], "POST", PARTNER_API, headers, who=MACHINE)
        # the gateway alone (and through the edge) answers 405; behind a forward-auth proxy a
        # method the route does not take is a 403 denial (nginx would turn a 405 into 500)
        assert sent.response.status == (405 if mode in ANSWERED_BY_GATEWAY else 403), sent.response.body[:300]
        assert sent.seen == []


# --- identity headers: the decision's only -------------------------------------------------


def spellings(name: str) -> list[str]:
    """`x-org-id` as X-Org-Id, X-ORG-ID, X_Org_Id, x.org.id and x_org-id."""
    title = "-".join(part.capitalize() for part in name.split("-"))
    mixed = name.replace("-", "_", 1)
    return [title, name.upper(), title.replace("-", "_"), name.replace("-", "."), mixed]


SPOOFED_IDENTITY = [(spelt, EVIL) for name in IDENTITY for spelt in spellings(name)]
HUMAN = {**{n: "" for n in IDENTITY}, **ALICE}
MACHINE_IDENTITY = {**{n: "" for n in IDENTITY}, **PARTNER, "x-scopes": "inventory:read"}
NOBODY = {**{n: "" for n in IDENTITY}, **ANONYMOUS}


@pytest.mark.parametrize(
    ("who", "target", "forwarded", "expected", "fresh"),
    [
        ("alice", "/customer/echo/i", "/echo/i", HUMAN, ("x-session-id", "x-identity-assertion")),
        (MACHINE, PARTNER_API, "/partner-api/inventory", MACHINE_IDENTITY, ("x-identity-assertion",)),
        (None, "/customer/public/i", "/public/i", NOBODY, ()),
    ],
    ids=["human", "machine", "anonymous"],
)
@pytest.mark.parametrize("mode", MODES)
def test_identity_headers_are_the_decisions_in_every_spelling(
    sec: Sec,
    modes: dict[str, Mode],
    mode: str,
    who: str | None,
    target: str,
    forwarded: str,
    expected: dict[str, str],
    fresh: tuple[str, ...],
) -> None:
    trace_id = uuid.uuid4().hex
    data = build("GET", target, [*_head(sec, who, trace_id), *SPOOFED_IDENTITY])
    sent = send_raw(sec, modes[mode], data, trace_id=trace_id)
    assert sent.response.status == 200, sent.response.body[:300]
    [got] = sent.seen
    assert got["target"] == forwarded
    found = identity(got)
    for name in (*fresh, "x-request-id"):  # values of the moment: only there or not
        assert found.pop(name), f"{name} missing"
    assert found == {k: v for k, v in expected.items() if k in found}
    nothing_of_the_client(got)
    # the upstream's trace continues the caller's, under the gateway's decision (the edge passes
    # the caller's on: a decision it reuses has no span of this request)
    [traceparent] = header_values(got, "traceparent")
    assert traceparent.split("-")[1] == trace_id
    assert (traceparent.split("-")[2] == "ab" * 8) == (mode == "edge")
    assert header_values(got, "x-forwarded-for") == ["127.0.0.1"]


# --- two values of one header (Envoy CVE-2021-32777) ---------------------------------------


@pytest.fixture(scope="module")
def alice_cookie(sec: Sec) -> Header:
    name, value = browser_cookie(sec.world.emulator.base_url, "customer", "alice@acme.example", "alice-password")
    return name, value


@pytest.mark.parametrize("mode", MODES)
def test_two_credentials_are_refused_and_nothing_forwarded(
    sec: Sec, modes: dict[str, Mode], mode: str, alice_cookie: Header
) -> None:
    name, value = alice_cookie
    bearer = ("Authorization", f"Bearer {sec.token('alice')}")
    for headers in (
        [bearer, ("Authorization", "Bearer ory_st_somebody_else")],
        [("Cookie", f"{name}={value}"), ("Cookie", f"{name}=ory_st_somebody_else")],
        [("Cookie", f"{name}={value}; {name}=ory_st_somebody_else")],
    ):
        sent = send(sec, modes[mode], "GET", "/customer/echo/d", headers)
        # 401 ambiguous credentials (nginx refuses two Authorization lines itself: 400)
        assert sent.response.status in (400, 401), (headers[0][0], sent.response.body[:300])
        assert sent.seen == []


@pytest.mark.parametrize("mode", MODES)
def test_two_organization_choices(sec: Sec, modes: dict[str, Mode], mode: str) -> None:
    choose = "X-Organization-Id"
    refused = send(
        sec, modes[mode], "GET", "/customer/echo/o", [(choose, "org-acme"), (choose, "org-globex")], who="alice"
    )
    assert refused.response.status == 400 and refused.seen == []
    alike = send(sec, modes[mode], "GET", "/customer/echo/o", [(choose, "org-acme"), (choose, "org-acme")], who="alice")
    assert alike.response.status == 200
    [got] = alike.seen
    assert identity(got)["x-org-id"] == "org-acme"
    nothing_of_the_client(got)
    # an alias: the proxies drop it (headers spelt with '_'), the gateway alone refuses it
    alias = send(
        sec,
        modes[mode],
        "GET",
        "/customer/echo/o",
        [(choose, "org-acme"), ("X_Organization_Id", "org-globex")],
        who="alice",
    )
    assert alias.response.status == (400 if mode == "gateway" else 200)
    assert [identity(got)["x-org-id"] for got in alias.seen] == ([] if mode == "gateway" else ["org-acme"])


# --- bodies never reach the decision (APISIX CVE-2024-32638) -------------------------------


@pytest.mark.parametrize(
    ("framing", "body", "received"),
    [
        ([], b'{"a":1}', b'{"a":1}'),
        ([("Transfer-Encoding", "chunked")], b'7\r\n{"a":1}\r\n0\r\n\r\n', b'{"a":1}'),
    ],
    ids=["content-length", "chunked"],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_body_goes_to_the_upstream_never_to_the_decision(
    sec: Sec, modes: dict[str, Mode], mode: str, framing: list[Header], body: bytes, received: bytes
) -> None:
    trace_id = uuid.uuid4().hex
    head = [*_head(sec, "alice", trace_id), ("Content-Type", "application/json"), *framing]
    sent = send_raw(sec, modes[mode], build("POST", "/customer/echo/b", head, body), trace_id=trace_id)
    # the decision request carried no body: the gateway refuses one (400 decision_with_body)
    assert sent.response.status == 200, sent.response.body[:300]
    [got] = sent.seen
    assert (got["method"], got["target"], got["body"]) == ("POST", "/echo/b", received)
    line = decision_lines(modes[mode], trace_id)[trace_id]
    assert (line["method"], line["status"], line["decision"]) == ("POST", 200, "allow")


# --- what a client sees ----------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    id: str
    method: str
    target: str
    who: str | None
    #: the status in each mode: the gateway alone, then behind a proxy
    alone: int
    fronted: int
    headers: tuple[Header, ...] = ()


REFUSALS = [
    Refusal("no-credential", "GET", "/customer/echo/s", None, 401, 401),
    Refusal("role-missing", "POST", "/customer/write/s", "carol", 403, 403),
    Refusal("method-not-taken", "PUT", PARTNER_API, MACHINE, 405, 403),
    Refusal("no-route", "GET", "/customer/nowhere/s", "alice", 404, 403),
    Refusal(
        "ambiguous",
        "GET",
        "/customer/echo/s",
        "alice",
        400,
        400,
        (("X-Organization-Id", "a"), ("X-Organization-Id", "b")),
    ),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.id for r in REFUSALS])
@pytest.mark.parametrize("mode", MODES)
def test_refusals_keep_a_status_and_json_body_the_client_understands(
    sec: Sec, modes: dict[str, Mode], mode: str, refusal: Refusal
) -> None:
    sent = send(sec, modes[mode], refusal.method, refusal.target, refusal.headers, who=refusal.who)
    response = sent.response
    assert response.status == (refusal.alone if mode in ANSWERED_BY_GATEWAY else refusal.fronted), response.body[:300]
    assert response.header("content-type") == "application/json"
    body = response.json()
    assert isinstance(body, dict) and body["error"] and body["request_id"]
    if response.status == 401:
        assert response.header("www-authenticate") == 'Bearer realm="customer"'
    assert sent.seen == []


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ({"project": "dealer", "operation": "introspect", "mode": "status", "status": 429}, 429),
        ({"project": "dealer", "operation": "introspect", "mode": "status", "status": 500}, 503),
    ],
    ids=["ory-rate-limited", "ory-down"],
)
@pytest.mark.parametrize("mode", MODES)
def test_ory_trouble_keeps_its_status_and_retry_after(
    sec: Sec, modes: dict[str, Mode], mode: str, fault: dict[str, object], status: int
) -> None:
    token = sec.world.machine_token("partner-inventory", "inventory:read")  # fresh: nothing cached
    emulator = sec.world.emulator
    emulator.control("POST", "faults", fault).raise_for_status()
    try:
        sent = send(sec, modes[mode], "GET", PARTNER_API, [("Authorization", f"Bearer {token}")])
    finally:
        emulator.control("DELETE", "faults").raise_for_status()
    assert sent.response.status == status, sent.response.body[:300]
    assert int(sent.response.header("retry-after") or "0") >= 1
    assert sent.response.header("content-type") == "application/json"
    assert sent.seen == []


# --- a refreshed session cookie (docs/sessions.md) ----------------------------------------


def extended(sec: Sec, who: str) -> Header:
    """`who`'s browser cookie (name, value) of a session extended since the cookie was issued:
    whoami answers it with a refreshed cookie."""
    tenant, identifier, password = PASSWORDS[who]
    return extended_session(sec.world.emulator, tenant, identifier, password, API_KEYS[tenant])


@pytest.mark.parametrize("mode", MODES)
def test_a_refreshed_session_cookie_reaches_the_client_once(sec: Sec, modes: dict[str, Mode], mode: str) -> None:
    name, old = extended(sec, "alice")
    cookie = [("Cookie", f"theme=dark; {name}={old}")]
    sent = send(sec, modes[mode], "GET", "/customer/echo/refreshed", cookie)
    assert sent.response.status == 200, sent.response.body[:300]
    [set_cookie] = sent.response.header_values("set-cookie")  # the tenant's session cookie, nothing else
    new = cookie_value(set_cookie)
    assert set_cookie.startswith(f"{name}=") and new not in ("", old)
    # with Kratos' attributes as they are: those of whoami's own answer to the old cookie
    whoami = f"{sec.world.emulator.project_url('customer')}/sessions/whoami"
    direct = httpx.get(whoami, headers={"Cookie": f"{name}={old}"}).headers["set-cookie"]
    assert (
        attributes(set_cookie) == attributes(direct) and {"path", "httponly", "samesite"} <= attributes(direct).keys()
    )
    # the upstream is sent nothing of it
    [got] = sent.seen
    assert identity(got)["x-user-id"] == ALICE["x-user-id"]
    assert [name for name, value in got["headers"] if name.lower() == "set-cookie" or new in value] == []
    # the old cookie again: the gateway's cached decision, which never carries the cookie
    again = send(sec, modes[mode], "GET", "/customer/echo/refreshed", cookie)
    assert again.response.status == 200 and again.response.header_values("set-cookie") == []
    assert [identity(got)["x-user-id"] for got in again.seen] == [ALICE["x-user-id"]]


def carries_refreshed(response: RawResponse, name: str, old: str, own: Sequence[str] = ()) -> None:
    """The answer sets the session cookie `name` once, to a new value, beside the upstream's `own`."""
    cookies = response.header_values("set-cookie")
    [refreshed] = [c for c in cookies if c.startswith(f"{name}=")]
    assert cookie_value(refreshed) not in ("", old)
    assert [c for c in cookies if c != refreshed] == list(own)


@pytest.mark.parametrize("mode", MODES)
def test_a_refreshed_session_cookie_rides_on_the_upstreams_error(sec: Sec, modes: dict[str, Mode], mode: str) -> None:
    name, old = extended(sec, "alice")
    sent = send(sec, modes[mode], "GET", "/customer/echo/status/404/r", [("Cookie", f"{name}={old}")])
    assert sent.response.status == 404 and len(sent.seen) == 1
    carries_refreshed(sent.response, name, old, own=["app_cookie=upstream; Path=/"])


@pytest.mark.parametrize("mode", MODES)
def test_a_refreshed_session_cookie_rides_on_a_denial(sec: Sec, modes: dict[str, Mode], mode: str) -> None:
    name, old = extended(sec, "carol")  # a viewer: writing takes a member
    headers = [("Cookie", f"{name}={old}"), ("Sec-Fetch-Site", "same-origin")]
    sent = send(sec, modes[mode], "POST", "/customer/write/r", headers)
    assert sent.response.status == 403 and sent.seen == []
    carries_refreshed(sent.response, name, old)


@pytest.mark.parametrize("mode", MODES)
def test_a_refreshed_session_cookie_rides_on_a_step_up(sec: Sec, modes: dict[str, Mode], mode: str) -> None:
    """alice has no second factor: her page load is sent to give one (303), or, behind nginx or
    Caddy, refused with the gateway's 403. The gateway sends a page back only to its tenant's
    hosts: there the page is asked for on the customer's host."""
    name, old = extended(sec, "alice")
    fronted = mode not in ANSWERED_BY_GATEWAY
    host, target = ("gw.test", "/customer/step-up/r") if fronted else ("customer.example", "/step-up/r")
    head = [("Host", host), ("Cookie", f"{name}={old}"), ("Accept", "text/html")]
    sent = send_raw(sec, modes[mode], build("GET", target, head))
    assert sent.response.status == (403 if fronted else 303) and sent.seen == []
    if not fronted:
        assert "aal=aal2&return_to=http%3A%2F%2Fcustomer.example%2Fstep-up%2Fr" in str(sent.response.header("location"))
    carries_refreshed(sent.response, name, old)


# --- differential: the path decided is the path forwarded ------------------------------------

#: paths two parsers may read two ways (heimdall GHSA-r8x2-fhmf-6mxp, Traefik's StripPrefix
#: desyncs): each is decided and forwarded as one path, or refused with nothing forwarded
PATHS = [
    "/customer/echo/plain",
    "/customer/echo/q?a=1&b=2",
    "/customer/echo/a%3Fb",
    "/customer/echo/a%3fb?c=%3F",
    "/customer/echo/a?b?c",
    "/customer/echo/a#b",
    "/customer/echo/a%23b",
    "/customer/echo/x?a=%23b",
    "/customer/echo/../echo/x",
    "/customer/x/../echo/y",
    "/dealer/../customer/echo/x",
    "/customer/echo/%2e%2e/x",
    "/customer/echo/.%2E/x",
    "/customer/echo/%2E/x",
    "/customer/echo/a%2Fb",
    "/customer/echo/a%2fb",
    "/customer/echo%2F..%2Fwrite/x",
    "/customer/echo/a;b",
    "/customer/echo;a=b/x",
    "/customer/echo/a%3Bb",
    "/customer/echo/a%252e%252e/x",
    "/customer/echo/a%255Cb",
    "/customer//echo/x",
    "/customer/echo/a%5Cb",
    "/customer/echo/a\\b",
    "/customer/%65cho/x",
    "/%63ustomer/echo/x",
    "/customer/echo/caf%C3%A9",
    "/customer/echo/%EF%BC%8E%EF%BC%8E/x",
    "/customer/echo/a%20b",
    "/customer/echo/a+b",
    "/customer/echo/[x]",
    "/customer/echo/x/",
    "/customer/echo/%00",
    "/customer/echo/a%",
    "/customer/echo/%zz",
    "http://gw.test/customer/echo/x",
]

#: plainly fine targets, forwarded in every mode: the table cannot pass by refusing everything
FINE = {"/customer/echo/plain", "/customer/echo/q?a=1&b=2", "/customer/echo/a%3Fb", "/customer/echo/a%23b"}
LAST = "/customer/echo/last"


@dataclass(frozen=True)
class Outcome:
    sent: Sent
    #: the decider's access-log line for the request, when it was asked
    line: dict[str, object] | None


@pytest.fixture(scope="module")
def differential(sec: Sec, modes: dict[str, Mode]) -> dict[tuple[str, str], Outcome]:
    """Every path through every mode once (alice's GET), then each decider's log read once."""
    sent: dict[tuple[str, str], Sent] = {}
    lines = {}
    for mode in modes.values():
        for path in [*PATHS, LAST]:  # the last one is forwarded: once its line is written, all are
            trace_id = uuid.uuid4().hex
            data = build("GET", path, _head(sec, "alice", trace_id))
            sent[mode.name, path] = send_raw(sec, mode, data, trace_id=trace_id)
        lines[mode.name] = decision_lines(mode, sent[mode.name, LAST].trace_id)
    return {key: Outcome(s, lines[key[0]].get(s.trace_id)) for key, s in sent.items()}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", MODES)
def test_the_path_decided_is_the_path_forwarded(
    differential: dict[tuple[str, str], Outcome], mode: str, path: str
) -> None:
    outcome = differential[mode, path]
    line, seen, status = outcome.line, outcome.sent.seen, outcome.sent.response.status
    assert seen or path not in FINE, f"{path} was not forwarded: {status}"
    if not seen:  # refused: by the proxy itself, or by the gateway, never allowed
        assert 400 <= status < 500, f"nothing forwarded, yet {status}"
        assert line is None or line.get("decision") != "allow", f"allowed, yet nothing forwarded: {line}"
        return
    [got] = seen
    assert line is not None and line["decision"] == "allow", f"forwarded without a decision: {line}"
    decided, tenant = str(line["path"]), str(line["tenant"])
    target, _, query = str(got["target"]).partition("?")
    assert unquote(target) == decided.removeprefix(f"/{tenant}"), f"decided {decided}, forwarded {got['target']}"
    assert query == path.partition("?")[2], f"sent query {path.partition('?')[2]!r}, forwarded {query!r}"
    assert got["method"] == line["method"] == "GET"
    if mode == "edge":  # nginx forwards a plain target itself (after a decision), hands the rest to the gateway
        origin_form = re.sub(r"^http://[^/]+", "", path)
        assert (line.get("described_by") == "path") == bool(re.match(PLAIN, origin_form)), line
