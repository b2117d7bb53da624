"""Cross-origin requests (CSRF, CSWSH) and CORS misconfiguration (docs/security.md), raw HTTP.

Every case goes through the security gateway (host routing: ``customer.example``; trusted
origins ``https://app.customer.example`` and ``http://localhost:3000``; the test client is
not a trusted proxy) to the recording upstream, and asserts the status AND what the
upstream received. The gateway's own origin here is ``http://customer.example`` (plain
HTTP, the Host it is reached at). Browsers never send most of these spellings; programs
can, and each must get one documented answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.security.support import (
    ALICE,
    Case,
    Expect,
    Sec,
    browser_cookie,
    check_case,
    check_upstream,
    run_case,
    upstream_host,
)
from tests.support.processes import Proc, websocket_gateway
from tests.support.rawhttp import build, exchange
from tests.support.world import World, emulator_calls

OWN = "http://customer.example"
TRUSTED = "https://app.customer.example"
EVIL = "https://evil.example"
COOKIE = "ory_session_customer"
FORWARDED = Expect(target="/write/x", method="POST", identity=ALICE)


@pytest.fixture(scope="module")
def cookie(sec: Sec) -> str:
    return browser_cookie(sec.world.emulator.base_url, "customer", "alice@acme.example", "alice-password")[1]


def post(case_id: str, headers: list[tuple[str, str]], status: int, cookie: str, *, target: str = "/write/x") -> Case:
    expect = FORWARDED if status == 200 else Expect()
    return Case(
        case_id,
        "POST",
        target,
        headers=[("Cookie", f"{COOKIE}={cookie}"), *headers],
        host="customer.example",
        status=status,
        expect=expect,
    )


#: (case id, extra headers, status) for a cookie-authenticated POST /write/x
COOKIE_POSTS: list[tuple[str, list[tuple[str, str]], int]] = [
    ("neither-header", [], 403),
    ("own-origin", [("Origin", OWN)], 200),
    ("own-origin-upper-case", [("Origin", "HTTP://CUSTOMER.EXAMPLE")], 200),
    ("own-origin-default-port", [("Origin", OWN + ":80")], 200),
    ("own-origin-trailing-slash", [("Origin", OWN + "/")], 403),
    ("own-origin-with-path", [("Origin", OWN + "/write/x")], 403),
    ("own-host-other-scheme", [("Origin", "https://customer.example")], 403),
    ("own-host-other-port", [("Origin", OWN + ":8080")], 403),
    ("origin-null", [("Origin", "null")], 403),
    ("origin-empty", [("Origin", "")], 403),
    ("origin-foreign", [("Origin", EVIL)], 403),
    ("trusted", [("Origin", TRUSTED)], 200),
    ("trusted-default-port", [("Origin", TRUSTED + ":443")], 200),
    ("trusted-upper-case", [("Origin", "https://APP.Customer.Example")], 200),
    ("trusted-other-scheme", [("Origin", "http://app.customer.example")], 403),
    ("trusted-other-port", [("Origin", TRUSTED + ":8443")], 403),
    ("trusted-trailing-dot", [("Origin", TRUSTED + ".")], 403),
    ("look-alike-suffix", [("Origin", TRUSTED + ".evil.example")], 403),
    ("look-alike-prefix", [("Origin", "https://evilapp.customer.example")], 403),
    ("look-alike-sibling", [("Origin", "https://evil.customer.example")], 403),
    ("look-alike-userinfo", [("Origin", "https://app.customer.example@evil.example")], 403),
    ("dev-server", [("Origin", "http://localhost:3000")], 200),
    ("dev-server-other-port", [("Origin", "http://localhost:3001")], 403),
    ("dev-server-default-port", [("Origin", "http://localhost")], 403),
    ("two-origins-own-first", [("Origin", OWN), ("Origin", EVIL)], 403),
    ("site-same-origin", [("Sec-Fetch-Site", "same-origin"), ("Origin", OWN)], 200),
    ("site-none", [("Sec-Fetch-Site", "none")], 200),
    # a browser never lets a page set Sec-Fetch-*: only a program can say this, and a program
    # holding the cookie needs no forgery (documented in docs/browsers.md)
    ("site-same-origin-lie-from-a-program", [("Sec-Fetch-Site", "same-origin"), ("Origin", EVIL)], 200),
    ("site-cross-site-own-origin", [("Sec-Fetch-Site", "cross-site"), ("Origin", OWN)], 403),
    ("site-cross-site-trusted", [("Sec-Fetch-Site", "cross-site"), ("Origin", TRUSTED)], 200),
    ("site-same-site-sibling", [("Sec-Fetch-Site", "same-site"), ("Origin", "https://evil.customer.example")], 403),
    ("site-same-site-no-origin", [("Sec-Fetch-Site", "same-site")], 403),
    ("site-upper-case-token", [("Sec-Fetch-Site", "Same-Origin"), ("Origin", EVIL)], 403),
    ("site-unknown-token", [("Sec-Fetch-Site", "same-origin-please"), ("Origin", EVIL)], 403),
    ("site-two-values", [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Site", "cross-site"), ("Origin", EVIL)], 403),
    (
        "forwarded-host-spoof",
        [("Origin", "https://evil.example"), ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https")],
        403,
    ),
]


@pytest.mark.parametrize(("case_id", "headers", "status"), COOKIE_POSTS, ids=[c[0] for c in COOKIE_POSTS])
def test_cookie_request_that_changes_state(
    sec: Sec, cookie: str, case_id: str, headers: list[tuple[str, str]], status: int
) -> None:
    case = post(case_id, headers, status, cookie)
    response, seen = run_case(sec, case)
    assert response.status == status, f"{case_id}: {response.status} {response.body[:200]!r}"
    if status == 403:
        assert json.loads(response.body)["error"] == "cross_origin_request", case_id
    check_upstream(case.expect, seen, upstream_host(sec), case_id)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_every_method_that_changes_state_is_checked(sec: Sec, cookie: str, method: str) -> None:
    case = Case(
        f"{method}-foreign",
        method,
        "/echo/x",
        headers=[("Cookie", f"{COOKIE}={cookie}"), ("Origin", EVIL)],
        host="customer.example",
        status=403,
    )
    check_case(sec, case)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_reads_are_not_refused(sec: Sec, cookie: str, method: str) -> None:
    case = Case(
        f"{method}-foreign",
        method,
        "/echo/x",
        headers=[("Cookie", f"{COOKIE}={cookie}"), ("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")],
        host="customer.example",
        status=200,
        expect=Expect(target="/echo/x", method=method, identity=ALICE),
    )
    check_case(sec, case)


def test_bearer_and_session_tokens_are_not_ambient(sec: Sec) -> None:
    token = sec.token("alice")
    for case_id, headers in (
        ("bearer", [("Authorization", f"Bearer {token}")]),
        ("session-token", [("X-Session-Token", token)]),
    ):
        case = Case(
            case_id,
            "POST",
            "/write/x",
            headers=[*headers, ("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")],
            host="customer.example",
            status=200,
            expect=FORWARDED,
        )
        check_case(sec, case)


def test_another_tenants_cookie_is_no_credential_here(sec: Sec) -> None:
    dave = browser_cookie(sec.world.emulator.base_url, "dealer", "dave@dealer.example", "dave-password")
    case = Case(
        "dealer-cookie",
        "POST",
        "/write/x",
        headers=[("Cookie", f"{dave[0]}={dave[1]}"), ("Origin", EVIL)],
        host="customer.example",
        status=401,
    )
    check_case(sec, case)


def test_a_refusal_makes_no_ory_call(sec: Sec) -> None:
    fresh = browser_cookie(sec.world.emulator.base_url, "customer", "alice@acme.example", "alice-password")[1]
    before = emulator_calls(sec.world, "customer", "whoami")
    check_case(sec, post("fresh-cookie-foreign", [("Origin", EVIL)], 403, fresh))
    assert emulator_calls(sec.world, "customer", "whoami") == before
    check_case(sec, post("fresh-cookie-own", [("Origin", OWN)], 200, fresh))
    assert emulator_calls(sec.world, "customer", "whoami") == before + 1  # the control: now it is authenticated


# --- CORS: answers, preflights ------------------------------------------------------------


def cors_headers(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in headers:
        if name.lower().startswith("access-control-") or name.lower() == "vary":
            found.setdefault(name.lower(), []).append(value)
    return found


def get(
    sec: Sec, target: str, headers: list[tuple[str, str]], who: str | None = "alice"
) -> tuple[int, dict[str, list[str]]]:
    case = Case("get", "GET", target, headers=headers, who=who, host="customer.example")
    response, _ = run_case(sec, case)
    return response.status, cors_headers(response.headers)


def test_answers_to_a_trusted_origin_carry_it_never_a_star(sec: Sec) -> None:
    status, found = get(sec, "/echo/cors/x", [("Origin", TRUSTED)])
    assert status == 200
    assert found["access-control-allow-origin"] == [TRUSTED]  # the upstream's "*" is gone
    assert found["access-control-allow-credentials"] == ["true"]
    assert "*" not in found["access-control-expose-headers"][0]
    assert "Origin" in found["vary"]
    assert "access-control-allow-methods" not in found


@pytest.mark.parametrize(
    "origin", [EVIL, "null", TRUSTED + "/", TRUSTED + ".evil.example", "https://*.customer.example"]
)
def test_answers_to_other_origins_carry_no_cors_header_not_even_the_upstreams(sec: Sec, origin: str) -> None:
    status, found = get(sec, "/echo/cors/x", [("Origin", origin)])
    assert status == 200
    assert found == {"vary": ["Origin"]}


def test_without_origin_the_upstreams_cors_headers_are_dropped_too(sec: Sec) -> None:
    status, found = get(sec, "/echo/cors/x", [])
    assert status == 200 and found == {}


def test_the_gateways_own_errors_carry_cors_for_a_trusted_page(sec: Sec) -> None:
    for target, who, status in (("/echo/x", None, 401), ("/no/such/route", "alice", 404)):
        got, found = get(sec, target, [("Origin", TRUSTED)], who)
        assert got == status
        assert found["access-control-allow-origin"] == [TRUSTED], target


def preflight(
    sec: Sec, target: str, headers: list[tuple[str, str]], who: str | None = None
) -> tuple[int, dict[str, list[str]], list[dict[str, object]]]:
    case = Case("preflight", "OPTIONS", target, headers=headers, who=who, host="customer.example")
    response, seen = run_case(sec, case)
    return response.status, cors_headers(response.headers), seen


def test_preflight_from_a_trusted_origin_is_answered_by_the_gateway(sec: Sec, cookie: str) -> None:
    before = emulator_calls(sec.world, "customer", "whoami")
    asked = [
        ("Origin", TRUSTED),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type,authorization,x-organization-id"),
        ("Cookie", f"{COOKIE}={cookie}"),
    ]
    status, found, seen = preflight(sec, "/write/x", asked, who="alice")
    assert status == 204
    assert found["access-control-allow-origin"] == [TRUSTED]
    assert found["access-control-allow-credentials"] == ["true"]
    assert found["access-control-allow-methods"] == ["POST"]
    assert found["access-control-allow-headers"] == ["authorization, content-type, x-organization-id"]
    assert found["access-control-max-age"] == ["600"]
    assert "Origin" in found["vary"][0]
    assert seen == []  # never forwarded
    assert emulator_calls(sec.world, "customer", "whoami") == before  # never authenticated


@pytest.mark.parametrize(
    ("case_id", "target", "headers"),
    [
        ("untrusted", "/write/x", [("Origin", EVIL), ("Access-Control-Request-Method", "POST")]),
        ("null", "/write/x", [("Origin", "null"), ("Access-Control-Request-Method", "POST")]),
        (
            "reflected-look-alike",
            "/write/x",
            [("Origin", TRUSTED + ".evil.example"), ("Access-Control-Request-Method", "POST")],
        ),
        ("method-not-on-route", "/write/x", [("Origin", TRUSTED), ("Access-Control-Request-Method", "PUT")]),
        ("no-route", "/nothing/here", [("Origin", TRUSTED), ("Access-Control-Request-Method", "GET")]),
        (
            "header-not-allowed",
            "/write/x",
            [
                ("Origin", TRUSTED),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "x-org-id"),
            ],
        ),
        (
            "two-origins",
            "/write/x",
            [("Origin", TRUSTED), ("Origin", EVIL), ("Access-Control-Request-Method", "POST")],
        ),
    ],
)
def test_other_preflights_get_403_without_any_cors_header(
    sec: Sec, case_id: str, target: str, headers: list[tuple[str, str]]
) -> None:
    status, found, seen = preflight(sec, target, headers, who="alice")
    assert status == 403, case_id
    assert found == {}, case_id
    assert seen == [], case_id


# --- WebSocket handshakes with the cookie (CSWSH) ---------------------------------------------

WS_POLICY = """
tenant: customer
routes:
  - id: live
    path: /live/**
    methods: [GET]
    allow:
      human: {roles: {any: [viewer, member]}}
    forward: {upstream: live}
    websocket: true
"""


@pytest.fixture(scope="module")
def ws_gateway(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    with websocket_gateway(world.env, tmp_path_factory.mktemp("policies"), WS_POLICY) as proc:
        yield proc


def handshake(proc: Proc, cookie: str, origin: str | None) -> int | dict[str, object]:
    """101 and the upstream's hello (what it received), or the refusal's status."""
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    try:
        with connect(
            proc.url.replace("http://", "ws://") + "/customer/live/feed",
            additional_headers=headers,
            origin=Origin(origin) if origin is not None else None,
            open_timeout=10,
        ) as ws:
            hello: dict[str, object] = json.loads(ws.recv(timeout=5))
            return hello
    except InvalidStatus as refused:
        return int(refused.response.status_code)


def test_cswsh_a_foreign_page_cannot_open_a_websocket_with_the_cookie(ws_gateway: Proc, cookie: str) -> None:
    own = ws_gateway.url  # the gateway's own origin: the Host it is reached at, plain HTTP
    accepted = handshake(ws_gateway, cookie, own)
    assert isinstance(accepted, dict) and accepted["headers"]["x-org-id"] == "org-acme"  # type: ignore[index]
    for origin in (EVIL, "null", own + "/", own.replace("http://", "https://"), None):
        assert handshake(ws_gateway, cookie, origin) == 403, origin
    refusals = [json.loads(line) for line in ws_gateway.output().splitlines() if line.startswith("{")]
    assert [r for r in refusals if r.get("reason") == "cross_origin_request" and r.get("status") == 403]


def test_cswsh_check_runs_before_authentication_and_bearer_handshakes_pass(ws_gateway: Proc, world: World) -> None:
    token = world.session("alice")
    with connect(
        ws_gateway.url.replace("http://", "ws://") + "/customer/live/feed",
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=Origin(EVIL),
        open_timeout=10,
    ) as ws:
        assert json.loads(ws.recv(timeout=5))["headers"]["x-user-id"] == "11111111-1111-4111-8111-111111111111"


def test_raw_bytes_handshake_without_origin_is_refused(ws_gateway: Proc, cookie: str) -> None:
    data = build(
        "GET",
        "/customer/live/feed",
        [
            ("Host", ws_gateway.url.split("//")[1]),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Cookie", f"{COOKIE}={cookie}"),
        ],
    )
    assert exchange(ws_gateway.url, data).status == 403
