"""CORS (gateway.front.cors) in-process: preflights from the routes, and the headers every
answer carries. Live: tests/security/test_corpus_cross_origin.py, tests/browser/."""

from __future__ import annotations

import contextvars
from collections.abc import Sequence

import orjson
import pytest

from gateway.config.settings import TracingSettings
from gateway.front.cors import Cors, is_preflight
from gateway.front.exchange import Exchange, Message
from gateway.front.locate import Locator
from gateway.front.request import RequestView
from gateway.front.trusted_proxies import Origin, TrustedProxies
from gateway.observe.tracing import Tracing
from tests.support.builders import make_settings, seed_policies

TRUSTED = "https://app.customer.example"
SETTINGS = make_settings(GATEWAY_TENANT_CUSTOMER_TRUSTED_ORIGINS=f"{TRUSTED}, http://localhost:3000")


def exchange(method: str, path: bytes, headers: Sequence[tuple[str, str]]) -> tuple[Exchange, list[Message]]:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers]
    request = RequestView(method, "", b"", raw, "127.0.0.1", "rid", "gw.test", "http")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    origin = Origin("127.0.0.1", "http", "gw.test", "rid", "127.0.0.1")
    trace = contextvars.Context().run(Tracing(TracingSettings(), TrustedProxies(())).begin, request, "")
    return Exchange({"type": "http"}, receive, send, request, origin, path, trace), sent


Answer = tuple[int, dict[bytes, bytes], dict[str, object]]


async def preflight(path: bytes, headers: Sequence[tuple[str, str]]) -> Answer:
    ex, sent = exchange("OPTIONS", path, headers)
    assert is_preflight(ex.request)
    await Cors(SETTINGS).preflight(ex, seed_policies(SETTINGS), Locator(SETTINGS))
    start, body = sent
    return start["status"], dict(start["headers"]), orjson.loads(body["body"]) if body["body"] else {}


def ask(method: str, origin: str = TRUSTED, headers: str | None = None) -> list[tuple[str, str]]:
    found = [("origin", origin), ("access-control-request-method", method)]
    return found + ([("access-control-request-headers", headers)] if headers is not None else [])


async def test_a_trusted_origin_on_a_matching_route_gets_204() -> None:
    status, headers, _ = await preflight(
        b"/customer/api/durably/trigger", ask("POST", headers="content-type,x-organization-id,traceparent")
    )
    assert status == 204
    assert headers[b"access-control-allow-origin"] == TRUSTED.encode()
    assert headers[b"access-control-allow-credentials"] == b"true"
    assert headers[b"access-control-allow-methods"] == b"POST"
    assert headers[b"access-control-allow-headers"] == b"content-type, traceparent, x-organization-id"
    assert headers[b"access-control-max-age"] == b"600"
    assert headers[b"vary"] == b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


async def test_the_methods_are_the_route_s() -> None:
    status, headers, _ = await preflight(b"/customer/api/durably/run", ask("DELETE", "http://localhost:3000"))
    assert (status, headers[b"access-control-allow-methods"]) == (204, b"DELETE")
    assert headers[b"access-control-allow-origin"] == b"http://localhost:3000"
    assert b"access-control-allow-headers" not in headers


async def test_an_origin_in_another_spelling_is_answered_with_the_normal_form() -> None:
    status, headers, _ = await preflight(
        b"/customer/api/durably/cancel", ask("POST", "HTTPS://APP.customer.example:443")
    )
    assert (status, headers[b"access-control-allow-origin"]) == (204, TRUSTED.encode())


@pytest.mark.parametrize(
    ("case", "path", "headers"),
    [
        ("untrusted", b"/customer/api/durably/trigger", ask("POST", "https://evil.example")),
        ("null", b"/customer/api/durably/trigger", ask("POST", "null")),
        ("suffix", b"/customer/api/durably/trigger", ask("POST", TRUSTED + ".evil.example")),
        ("trailing-slash", b"/customer/api/durably/trigger", ask("POST", TRUSTED + "/")),
        ("other-tenant", b"/dealer/api/durably/trigger", ask("POST")),
        ("no-such-route", b"/customer/nothing/here", ask("POST")),
        ("method-not-on-route", b"/customer/api/durably/trigger", ask("PUT")),
        ("method-lower-case", b"/customer/api/durably/trigger", ask("post")),
        ("header-not-allowed", b"/customer/api/durably/trigger", ask("POST", headers="content-type, x-org-id")),
        ("cookie-header-asked", b"/customer/api/durably/trigger", ask("POST", headers="cookie")),
        ("two-origins", b"/customer/api/durably/trigger", [*ask("POST"), ("origin", TRUSTED)]),
    ],
)
async def test_refused_with_403_and_no_cors_header(case: str, path: bytes, headers: list[tuple[str, str]]) -> None:
    status, answer, body = await preflight(path, headers)
    assert status == 403, case
    assert not [n for n in answer if n.startswith(b"access-control-") or n == b"vary"], case
    assert body["error"] == "forbidden"


async def test_an_ambiguous_path_stays_400() -> None:
    status, answer, _ = await preflight(b"/customer/api/../durably/trigger", ask("POST"))
    assert status == 400
    assert not [n for n in answer if n.startswith(b"access-control-")]


def test_not_a_preflight_without_origin_or_requested_method() -> None:
    assert not is_preflight(exchange("OPTIONS", b"/x", [("origin", TRUSTED)])[0].request)
    assert not is_preflight(exchange("OPTIONS", b"/x", [("access-control-request-method", "POST")])[0].request)
    assert not is_preflight(exchange("POST", b"/x", ask("POST"))[0].request)


async def test_answers_to_a_trusted_origin_carry_the_cors_headers_once() -> None:
    ex, sent = exchange("GET", b"/customer/x", [("origin", TRUSTED)])
    assert Cors(SETTINGS).decorate(ex, "customer", [TRUSTED.encode()])
    await ex.respond(200, b"{}", [(b"x-a", b"1")])
    headers = sent[0]["headers"]
    assert (b"access-control-allow-origin", TRUSTED.encode()) in headers
    assert (b"access-control-allow-credentials", b"true") in headers
    assert (b"vary", b"Origin") in headers
    assert sum(1 for n, _ in headers if n == b"access-control-allow-origin") == 1
    assert sent[1] == {"type": "http.response.body", "body": b"{}"}


@pytest.mark.parametrize("origin", ["https://evil.example", "null", TRUSTED + "/", "https://app.customer.example.evil"])
async def test_answers_to_other_origins_carry_only_vary(origin: str) -> None:
    ex, sent = exchange("GET", b"/customer/x", [("origin", origin)])
    assert not Cors(SETTINGS).decorate(ex, "customer", [origin.encode()])
    await ex.respond(200, b"{}")
    assert [h for h in sent[0]["headers"] if h[0].startswith(b"access-control-") or h[0] == b"vary"] == [
        (b"vary", b"Origin")
    ]


async def test_a_tenant_trusts_only_its_own_origins() -> None:
    ex, _ = exchange("GET", b"/dealer/x", [("origin", TRUSTED)])
    assert not Cors(SETTINGS).decorate(ex, "dealer", [TRUSTED.encode()])


async def test_a_refusal_before_the_route_is_known_carries_cors_for_a_trusted_page() -> None:
    ex, sent = exchange("GET", b"/customer/nothing", [("origin", TRUSTED)])
    ex.request.path = "/customer/nothing"
    Cors(SETTINGS).decorate_unrouted(ex)
    await ex.respond(404, b"{}")
    assert (b"access-control-allow-origin", TRUSTED.encode()) in sent[0]["headers"]
