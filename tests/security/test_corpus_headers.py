"""Attack classes "Identity header spoofing", "Host and forwarded headers" and
"Hop-by-hop abuse".

The client's copy of every header the gateway owns is deleted in every spelling, then
the gateway sets its own; forwarded headers from an untrusted peer (the test client is
not in GATEWAY_TRUSTED_PROXIES=10.0.0.0/8) are ignored and stripped; hop-by-hop headers
and everything `Connection` names are removed before the gateway injects identity, so
listing an identity header in `Connection` cannot make a later hop drop it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.security.support import ALICE, ANONYMOUS, PARTNER, Case, Expect, Sec, check_case, check_status, ids, run_case
from tests.support.rawhttp import Header

EVIL = "evil-org-42"


def spoof(case_id: str, headers: Sequence[Header], *, who: str | None = "alice", **kw: object) -> Case:
    """Spoofed headers on an allowed request: forwarded with the gateway's identity only."""
    if who == "alice":
        target, upstream, identity = "/customer/echo/s", "/echo/s", ALICE
    elif who is None:
        target, upstream, identity = "/customer/public/s", "/public/s", ANONYMOUS
    else:
        target, upstream, identity = "/dealer/echo/s", "/echo/s", PARTNER
    expect = Expect(upstream, identity=identity, never=(EVIL,), **kw)  # type: ignore[arg-type]
    return Case(case_id, "GET", target, headers=headers, who=who, expect=expect)


MACHINE = "partner-inventory:inventory:read"

IDENTITY_SPOOFING = [
    spoof("x-org-id", [("X-Org-Id", EVIL)]),
    spoof("x-org-id-lower", [("x-org-id", EVIL)]),
    spoof("x-org-id-upper", [("X-ORG-ID", EVIL)]),
    spoof("x-org-id-underscore", [("X_Org_Id", EVIL)]),
    spoof("x-org-id-dots", [("x.org.id", EVIL)]),
    spoof("x-org-id-mixed-sep", [("X-Org_Id", EVIL)]),
    spoof("x-org-id-mixed-sep-2", [("x_org.id", EVIL)]),
    spoof("x-org-id-twice", [("X-Org-Id", EVIL), ("X-Org-Id", EVIL)]),
    spoof("x-org-id-two-spellings", [("X-Org-Id", EVIL), ("X_Org_Id", EVIL), ("x.org.id", EVIL)]),
    spoof("x-org-id-empty", [("X-Org-Id", "")]),
    spoof("x-org-id-list", [("X-Org-Id", f"org-acme, {EVIL}")]),
    spoof("x-user-id", [("X-User-Id", EVIL)]),
    spoof("x-user-id-underscore", [("X_User_Id", EVIL)]),
    spoof("x-roles", [("X-Roles", f"platform:admin,{EVIL}")]),
    spoof("x-roles-dots", [("x.roles", EVIL)]),
    spoof("x-scopes", [("X-Scopes", f"jobs:write {EVIL}")]),
    spoof("x-tenant", [("X-Tenant", EVIL)]),
    spoof("x-tenant-underscore", [("X_TENANT", EVIL)]),
    spoof("x-principal-kind", [("X-Principal-Kind", f"machine{EVIL}")]),
    spoof("x-client-id", [("X-Client-Id", EVIL)]),
    spoof("x-session-id", [("X-Session-Id", EVIL)]),
    spoof("x-identity-assertion", [("X-Identity-Assertion", f"eyJ.{EVIL}.x")]),
    spoof("x-identity-assertion-underscore", [("X_Identity_Assertion", f"eyJ.{EVIL}.x")]),
    spoof("x-request-id-untrusted", [("X-Request-Id", EVIL)]),
    spoof("x-request-id-underscore", [("X_Request_Id", EVIL)]),
    spoof("all-at-once", [(n, EVIL) for n in ("X-Org-Id", "X-User-Id", "X-Roles", "X-Tenant", "X-Scopes")]),
    spoof("anonymous-x-org-id", [("X-Org-Id", EVIL)], who=None),
    spoof("anonymous-x-user-id", [("X_User_Id", EVIL)], who=None),
    spoof("anonymous-x-principal-kind", [("X-Principal-Kind", f"human{EVIL}")], who=None),
    spoof("anonymous-x-identity-assertion", [("x.identity.assertion", EVIL)], who=None),
    spoof("machine-x-org-id", [("X-Org-Id", EVIL)], who=MACHINE),
    spoof("machine-x-client-id", [("X_Client_Id", EVIL)], who=MACHINE),
    spoof("machine-x-principal-kind", [("X-Principal-Kind", f"human{EVIL}")], who=MACHINE),
    spoof("machine-x-user-id", [("X-User-Id", EVIL)], who=MACHINE, absent=("x-user-id",)),
]

FORWARDED = [
    spoof("xff", [("X-Forwarded-For", "203.0.113.9")], absent=()),
    spoof("xff-list", [("X-Forwarded-For", "203.0.113.9, 10.0.0.1")]),
    spoof("xff-underscore", [("X_Forwarded_For", "203.0.113.9")]),
    spoof("xfp", [("X-Forwarded-Proto", "https")], present=[("x-forwarded-proto", "http")]),
    spoof("xfh", [("X-Forwarded-Host", "admin.example")], present=[("x-forwarded-host", "gw.test")]),
    spoof("xfh-evil", [("X-Forwarded-Host", f"{EVIL}.example")]),
    spoof("x-forwarded-prefix", [("X-Forwarded-Prefix", f"/{EVIL}")], absent=("x-forwarded-prefix",)),
    spoof("x-forwarded-uri", [("X-Forwarded-Uri", f"/{EVIL}")], absent=("x-forwarded-uri",)),
    spoof("x-forwarded-port", [("X-Forwarded-Port", "4443")], absent=("x-forwarded-port",)),
    spoof("x-original-url", [("X-Original-URL", f"/admin/customers/{EVIL}")], absent=("x-original-url",)),
    spoof("x-original-uri", [("X-Original-URI", f"/admin/{EVIL}")], absent=("x-original-uri",)),
    spoof("x-rewrite-url", [("X-Rewrite-URL", f"/admin/{EVIL}")], absent=("x-rewrite-url",)),
    spoof("x-original-host", [("X-Original-Host", f"{EVIL}.example")], absent=("x-original-host",)),
    spoof("x-real-ip", [("X-Real-IP", "203.0.113.9")], absent=("x-real-ip",)),
    spoof("forwarded", [("Forwarded", f"for=203.0.113.9;host={EVIL}.example;proto=https")], absent=("forwarded",)),
    spoof("true-client-ip", [("True-Client-IP", "203.0.113.9")], absent=("true-client-ip",)),
    spoof("x-http-method-override", [("X-HTTP-Method-Override", "DELETE")], absent=("x-http-method-override",)),
    spoof("x-envoy-original-path", [("X-Envoy-Original-Path", f"/{EVIL}")], absent=("x-envoy-original-path",)),
    Case(
        "xfh-does-not-pick-tenant",
        "GET",
        "/echo/s",
        who="alice",
        host="customer.example",
        headers=[("X-Forwarded-Host", "admin.example")],
        expect=Expect("/echo/s", identity=ALICE, present=[("x-forwarded-host", "customer.example")]),
    ),
    Case(
        "xfh-admin-host-on-dealer",
        "GET",
        "/echo/s",
        who="alice",
        host="dealer.example",
        headers=[("X-Forwarded-Host", "customer.example")],
        status=401,
    ),
    Case(
        "x-original-url-admin",
        "GET",
        "/customer/public/s",
        headers=[("X-Original-URL", "/admin/customers/x")],
        expect=Expect("/public/s", identity=ANONYMOUS, absent=("x-original-url",)),
    ),
    # the host chooses the tenant: a spoofed Host selects that tenant, whose Ory rejects alice
    Case("host-admin", "GET", "/echo/s", who="alice", host="admin.example", status=401),
    Case("host-dealer", "GET", "/echo/s", who="alice", host="dealer.example", status=401),
    Case("host-admin-upper-dot", "GET", "/echo/s", who="alice", host="ADMIN.Example.", status=401),
    Case("host-admin-port", "GET", "/echo/s", who="alice", host="admin.example:8443", status=401),
    Case(
        "host-customer-canonical",
        "GET",
        "/echo/s",
        who="alice",
        host="Customer.EXAMPLE.:80",
        expect=Expect("/echo/s", identity=ALICE),
    ),
    Case(
        "host-unknown-falls-to-prefix",
        "GET",
        "/customer/echo/s",
        who="alice",
        host="unknown.example",
        expect=Expect("/echo/s", identity=ALICE),
    ),
    # ambiguous Host values are refused rather than guessed
    Case("host-userinfo", "GET", "/echo/s", who="alice", host="admin.example@customer.example", status=400),
    Case("host-path", "GET", "/echo/s", who="alice", host="customer.example/x", status=400),
    Case("host-two-ports", "GET", "/echo/s", who="alice", host="customer.example:80:81", status=400),
    Case("host-comma", "GET", "/echo/s", who="alice", host="customer.example,admin.example", status=400),
    Case("host-space", "GET", "/echo/s", who="alice", host="customer.example admin.example", status=400),
    Case(
        "host-twice-different",
        "GET",
        "/echo/s",
        who="alice",
        host=None,
        headers=[("Host", "customer.example"), ("Host", "admin.example")],
        status=400,
    ),
    Case(
        "host-twice-same",
        "GET",
        "/echo/s",
        who="alice",
        host=None,
        headers=[("Host", "customer.example"), ("Host", "customer.example")],
        status=400,
    ),
]

HOP_BY_HOP = [
    spoof("connection-x-org-id", [("Connection", "X-Org-Id")]),
    spoof("connection-x-identity-assertion", [("Connection", "X-Identity-Assertion")]),
    spoof("connection-x-tenant", [("Connection", "X-Tenant, X-User-Id")]),
    spoof("connection-all-identity", [("Connection", "X-Org-Id, X-Roles, X-Scopes, X-Request-Id, X-Principal-Kind")]),
    spoof("connection-underscore-spelling", [("Connection", "X_Org_Id")]),
    spoof("connection-twice", [("Connection", "keep-alive"), ("Connection", "X-Org-Id")]),
    spoof("connection-close", [("Connection", "close")], absent=("connection",)),
    spoof("connection-names-custom", [("Connection", "X-Custom"), ("X-Custom", "1")], absent=("x-custom",)),
    spoof("connection-names-authorization", [("Connection", "Authorization")], absent=("authorization",)),
    spoof("connection-names-x-forwarded-for", [("Connection", "X-Forwarded-For")]),
    spoof("keep-alive", [("Keep-Alive", "timeout=600")], absent=("keep-alive",)),
    spoof("te-trailers", [("TE", "trailers")], absent=("te",)),
    spoof("trailer-x-org-id", [("Trailer", "X-Org-Id")], absent=("trailer",)),
    spoof("proxy-connection", [("Proxy-Connection", "keep-alive")], absent=("proxy-connection",)),
    spoof("proxy-authorization", [("Proxy-Authorization", "Basic Zm9vOmJhcg==")], absent=("proxy-authorization",)),
    spoof("http2-settings", [("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")], absent=("http2-settings",)),
    spoof("transfer-encoding-underscore", [("Transfer_Encoding", "chunked")], absent=("transfer-encoding",)),
    spoof("content-length-underscore", [("Content_Length", "100")], absent=("content-length",)),
    spoof("unrelated-header-kept", [("X-Keep", "1")], present=[("x-keep", "1")]),
    Case(
        "upgrade-h2c",
        "GET",
        "/customer/echo/s",
        who="alice",
        status=400,
        headers=[("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABk")],
    ),
    Case(
        "upgrade-without-connection",
        "GET",
        "/customer/echo/s",
        who="alice",
        status=400,
        headers=[("Upgrade", "websocket")],
    ),
]


@pytest.mark.parametrize("case", IDENTITY_SPOOFING, ids=ids(IDENTITY_SPOOFING))
def test_identity_header_spoofing(sec: Sec, case: Case) -> None:
    check_case(sec, case)


@pytest.mark.parametrize("case", FORWARDED, ids=ids(FORWARDED))
def test_host_and_forwarded_headers(sec: Sec, case: Case) -> None:
    check_case(sec, case)


@pytest.mark.parametrize("case", HOP_BY_HOP, ids=ids(HOP_BY_HOP))
def test_hop_by_hop(sec: Sec, case: Case) -> None:
    check_case(sec, case)


# forward-auth (/decisions), "Forward-auth integration": the answer's identity headers are the
# gateway's; the request decided has one source, the path (the test client is no trusted proxy,
# so its describing headers can only agree with it or make the request ambiguous)
DECISIONS = [
    ("plain", "/decisions/customer/echo/d", "alice", [], 200, "org-acme"),
    (
        "spoofed-identity",
        "/decisions/customer/echo/d",
        "alice",
        [("X-Org-Id", EVIL), ("X_Org_Id", EVIL)],
        200,
        "org-acme",
    ),
    # heimdall GHSA-r8x2-fhmf-6mxp, the bypass: a header describing another request
    (
        "untrusted-forwarded-uri",
        "/decisions/customer/echo/d",
        "alice",
        [("X-Forwarded-Uri", "/admin/customers/x"), ("X-Forwarded-Method", "DELETE")],
        400,
        None,
    ),
    ("forwarded-method-disagrees", "/decisions/customer/echo/d", "alice", [("X-Forwarded-Method", "POST")], 400, None),
    # heimdall GHSA-r8x2-fhmf-6mxp: the query rebuilt differently (an encoded '?') is another request
    (
        "original-uri-encoded-query",
        "/decisions/customer/echo/d?x=1",
        "alice",
        [("X-Original-URI", "/customer/echo/d%3Fx=1")],
        400,
        None,
    ),
    (
        "original-uri-agrees",
        "/decisions/customer/echo/d?x=1",
        "alice",
        [("X-Original-URI", "/customer/echo/d?x=1"), ("X-Original-Method", "GET")],
        200,
        "org-acme",
    ),
    (
        "original-uri-twice",
        "/decisions/customer/echo/d",
        "alice",
        [("X-Original-URI", "/customer/echo/d"), ("X-Original-URI", "/customer/echo/d")],
        400,
        None,
    ),
    # Traefik GHSA-5m6w-wvh7-57vm: an alias of a describing header is one too
    ("alias-forwarded-uri", "/decisions/customer/echo/d", "alice", [("X_Forwarded_Uri", "/customer/")], 400, None),
    # Traefik GHSA-6384-m2mw-rf54 and GHSA-3q9r-p662-5j8m: X-Forwarded-Prefix is never read, and an
    # untrusted X-Forwarded-Proto / -Port changes nothing (the answer's X-Forwarded-Proto is http)
    (
        "forwarded-prefix-port-proto",
        "/decisions/customer/echo/d",
        "alice",
        [("X-Forwarded-Prefix", "/admin"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443")],
        200,
        "org-acme",
    ),
    # a bare /decisions from an untrusted peer describes nothing, whatever it sends
    (
        "untrusted-original-uri",
        "/decisions",
        "alice",
        [("X-Original-URI", "/customer/echo/d"), ("X-Original-Method", "GET")],
        400,
        None,
    ),
    (
        "untrusted-forwarded-host",
        "/decisions/echo/d",
        "alice",
        [("X-Forwarded-Host", "dealer.example")],
        200,
        "org-acme",
    ),
    ("ambiguous-path", "/decisions/customer/echo/%2e%2e/d", "alice", [], 400, None),
    ("encoded-prefix", "/decisions%2fcustomer/echo/d", "alice", [], 400, None),
    ("dotdot-after-prefix", "/decisions/../customer/echo/d", "alice", [], 400, None),
    ("label-route-needs-proxy", "/decisions/customer/api/durably/runs", "alice", [], 403, None),
    ("no-route", "/decisions/customer/nowhere", "alice", [], 403, None),
    ("unauthenticated", "/decisions/customer/echo/d", None, [], 401, None),
    ("other-tenant", "/decisions/dealer/echo/d", "alice", [], 401, None),
]


@pytest.mark.parametrize("case", DECISIONS, ids=[c[0] for c in DECISIONS])
def test_forward_auth_decisions(sec: Sec, case: tuple[str, str, str | None, list[Header], int, str | None]) -> None:
    case_id, target, who, headers, status, org = case
    response, seen = run_case(sec, Case(case_id, "GET", target, headers=headers, who=who, status=status))
    check_status(response, status, case_id)
    assert seen == [], "a decision request is never forwarded"
    assert response.header_values("x-org-id") == ([org] if org else [])
    assert EVIL not in str(response.headers)
    if org:
        assert response.header_values("x-tenant") == ["customer"]
        assert len(response.header_values("x-identity-assertion")) == 1
        assert response.header_values("x-forwarded-proto") == ["http"]
