"""Cross-origin protection (gateway.front.cross_origin), decided in-process from headers alone.

The live checks (what the upstream received, real browsers) are in
tests/security/test_corpus_cross_origin.py and tests/browser/.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence

import pytest

from gateway.authn.sources import cookie_decides
from gateway.config.settings import TracingSettings
from gateway.errors import CrossOriginRequest, InvalidToken
from gateway.front.cors import Cors
from gateway.front.cross_origin import CrossOrigin, own_origin
from gateway.front.exchange import Exchange, Message
from gateway.front.request import RequestView
from gateway.front.trusted_proxies import Origin, TrustedProxies
from gateway.observe.tracing import Tracing
from gateway.policy.model import Requirement, Route
from tests.support.builders import make_route, make_settings

COOKIE = ("cookie", "theme=dark; ory_kratos_session=abc")
TRUSTED = "https://app.customer.example"
HUMAN = make_route("/w", ("POST",))
MACHINE_FIRST = make_route("/w", ("POST",), allow=(Requirement("machine"), Requirement("human")))


def stage(**env: str) -> CrossOrigin:
    settings = make_settings(GATEWAY_TENANT_CUSTOMER_TRUSTED_ORIGINS=TRUSTED, **env)
    return CrossOrigin(settings, Cors(settings))


def exchange(
    method: str, headers: Sequence[tuple[str, str]], *, scheme: str = "http", host: str = "gw.test"
) -> Exchange:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers]
    request = RequestView(method, "/customer/w", b"", raw, "127.0.0.1", "rid", host, scheme)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    origin = Origin("127.0.0.1", scheme, host, "rid", "127.0.0.1")
    trace = contextvars.Context().run(Tracing(TracingSettings(), TrustedProxies(())).begin, request, "")
    return Exchange({"type": "http"}, receive, send, request, origin, b"/customer/w", trace)


def refused(ex: Exchange, route: Route = HUMAN, guard: CrossOrigin | None = None) -> bool:
    try:
        (guard or stage()).check(ex, "customer", route)
    except CrossOriginRequest as error:
        assert (error.status, error.code, error.reason) == (403, "cross_origin_request", "cross_origin_request")
        return True
    return False


@pytest.mark.parametrize(
    ("case", "headers", "blocked"),
    [
        ("same-origin", [("sec-fetch-site", "same-origin"), ("origin", "https://evil.example")], False),
        ("user-typed", [("sec-fetch-site", "none")], False),
        ("cross-site", [("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")], True),
        ("cross-site-trusted", [("sec-fetch-site", "cross-site"), ("origin", TRUSTED)], False),
        ("same-site-sibling", [("sec-fetch-site", "same-site"), ("origin", "https://evil.customer.example")], True),
        ("same-site-trusted", [("sec-fetch-site", "same-site"), ("origin", TRUSTED)], False),
        ("same-site-own-origin", [("sec-fetch-site", "same-site"), ("origin", "http://gw.test")], True),
        ("cross-site-no-origin", [("sec-fetch-site", "cross-site")], True),
        ("unknown-site-token", [("sec-fetch-site", "SAME-ORIGIN"), ("origin", "https://evil.example")], True),
        ("two-site-headers", [("sec-fetch-site", "same-origin"), ("sec-fetch-site", "cross-site")], True),
        ("no-site-own-origin", [("origin", "http://gw.test")], False),
        ("no-site-own-origin-spelt-oddly", [("origin", "HTTP://GW.TEST:80")], False),
        ("no-site-trusted", [("origin", TRUSTED)], False),
        ("no-site-foreign", [("origin", "https://evil.example")], True),
        ("no-site-null", [("origin", "null")], True),
        ("no-site-trailing-slash", [("origin", "http://gw.test/")], True),
        ("no-site-other-scheme", [("origin", "https://gw.test")], True),
        ("no-site-other-port", [("origin", "http://gw.test:8080")], True),
        ("no-site-suffix", [("origin", "http://gw.test.evil.example")], True),
        ("no-site-prefix", [("origin", "http://evilgw.test")], True),
        ("no-site-two-origins", [("origin", "http://gw.test"), ("origin", "https://evil.example")], True),
        ("neither-header", [], True),
    ],
)
def test_cookie_post(case: str, headers: list[tuple[str, str]], blocked: bool) -> None:
    assert refused(exchange("POST", [COOKIE, *headers])) is blocked, case


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_pass_whatever_the_origin(method: str) -> None:
    assert not refused(exchange(method, [COOKIE, ("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")]))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_other_method_is_checked(method: str) -> None:
    route = make_route("/w", (method,))
    assert refused(exchange(method, [COOKIE, ("origin", "https://evil.example")]), route)


def test_a_websocket_handshake_is_checked_although_it_is_a_get() -> None:
    ex = exchange("GET", [COOKIE, ("origin", "https://evil.example")], scheme="ws")
    ex.handshake = True
    assert refused(ex, make_route("/w"))
    own = exchange("GET", [COOKIE, ("origin", "http://gw.test")], scheme="ws")
    own.handshake = True
    assert not refused(own, make_route("/w"))


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("bearer", [("authorization", "Bearer ory_st_abcdefghijklmnopqrstuvwxyz012345")]),
        ("session-token", [("x-session-token", "ory_st_abcdefghijklmnopqrstuvwxyz012345")]),
        ("other-tenant-cookie", [("cookie", "ory_session_dealer=abc")]),
        ("no-credential", []),
    ],
)
def test_requests_the_cookie_does_not_authenticate_pass(case: str, headers: list[tuple[str, str]]) -> None:
    assert not refused(exchange("POST", [*headers, ("origin", "https://evil.example")])), case


def test_a_hydra_token_tried_first_decides_and_the_cookie_is_not_used() -> None:
    machine = [COOKIE, ("authorization", "Bearer ory_at_abc.def"), ("origin", "https://evil.example")]
    assert not refused(exchange("POST", machine), MACHINE_FIRST)
    unknown = [COOKIE, ("authorization", "Bearer opaque-thing"), ("origin", "https://evil.example")]
    assert refused(exchange("POST", unknown), MACHINE_FIRST)  # not claimed by Hydra: the cookie is next


def test_the_cookie_wins_over_a_session_token_as_in_plan() -> None:
    headers = [COOKIE, ("x-session-token", "ory_st_abcdefghijklmnopqrstuvwxyz012345"), ("origin", "https://evil.x")]
    assert refused(exchange("POST", headers))


def test_a_bearer_only_tenant_reads_no_cookie() -> None:
    guard = stage(GATEWAY_TENANT_CUSTOMER_TRANSPORT="bearer")
    assert not refused(exchange("POST", [COOKIE, ("origin", "https://evil.example")]), guard=guard)


def test_anonymous_routes_have_no_credential_to_abuse() -> None:
    route = make_route("/w", ("POST",), allow=(), anonymous=True)
    assert not refused(exchange("POST", [COOKIE, ("origin", "https://evil.example")]), route)


def test_ambiguous_cookies_are_refused_as_authentication_would() -> None:
    headers = [("cookie", "ory_kratos_session=a; ory_kratos_session=b"), ("origin", "https://evil.example")]
    with pytest.raises(InvalidToken):
        stage().check(exchange("POST", headers), "customer", HUMAN)


def test_the_refusal_is_logged_with_what_the_browser_said() -> None:
    ex = exchange("POST", [COOKIE, ("sec-fetch-site", "same-site"), ("origin", "https://evil.customer.example")])
    assert refused(ex)
    assert ex.log["origin"] == "https://evil.customer.example"
    assert ex.log["sec_fetch_site"] == "same-site"


def test_own_origin_follows_the_exchange_and_maps_websocket_schemes() -> None:
    assert own_origin(exchange("GET", [], scheme="https", host="Gw.Example:443")) == "https://gw.example"
    assert own_origin(exchange("GET", [], scheme="wss", host="gw.example:8443")) == "https://gw.example:8443"
    assert own_origin(exchange("GET", [], host="")) is None


def test_cookie_decides_is_none_of_a_get_or_post_without_the_cookie() -> None:
    tenant = make_settings().tenants["customer"]
    request = exchange("POST", [("origin", "https://evil.example")]).request
    assert not cookie_decides(request, ("human",), tenant)
    assert cookie_decides(exchange("POST", [COOKIE]).request, ("human",), tenant)
    assert not cookie_decides(exchange("POST", [COOKIE]).request, ("machine",), tenant)
