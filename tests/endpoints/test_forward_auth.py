"""Forward-auth decisions (`/decisions`), asked of the gateway directly.

One source for the request decided: the path after `/decisions` (and the request's own
method), or, for a bare `/decisions` from a trusted proxy, the headers of the integration
GATEWAY_DECISIONS_HEADERS names; every other describing header must agree. Answers are only
those a front proxy passes on. Through real nginx and Caddy: tests/security/test_forward_auth_fronts.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.forward.headers import ANSWERED
from tests.support.processes import Proc, gateway_process
from tests.support.rawhttp import build, exchange_all
from tests.support.world import Auth, World

PARTNER = "/dealer/partner-api/inventory"
#: what a front proxy passes on (nginx: 2xx, 401, 403; the shipped recipe maps 400, 429, 503)
PASSED_ON = {200, 400, 401, 403, 429, 503}


def trusting(world: World, family: str) -> Iterator[Proc]:
    """A gateway on the world that trusts loopback as its proxy and reads `family`'s headers."""
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_LISTEN"}
    env |= {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32", "GATEWAY_DECISIONS_HEADERS": family}
    with gateway_process(env) as proc:
        yield proc


@pytest.fixture(scope="module")
def original(world: World) -> Iterator[Proc]:
    """nginx's family: X-Original-URI and X-Original-Method."""
    yield from trusting(world, "original")


@pytest.fixture(scope="module")
def forwarded(world: World) -> Iterator[Proc]:
    """Traefik's and Caddy's family: X-Forwarded-Uri and X-Forwarded-Method."""
    yield from trusting(world, "forwarded")


@pytest.fixture(scope="module")
def machine(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.machine_token('partner-inventory', 'inventory:read')}"}


def decide(url: str, method: str = "GET", **headers: str) -> httpx.Response:
    resp = httpx.request(method, url, headers=headers, timeout=10)
    assert resp.status_code in PASSED_ON, f"{resp.status_code} is not an answer a front proxy passes on"
    assert resp.content == b"" or resp.headers["content-type"] == "application/json"
    return resp


def reason(resp: httpx.Response) -> tuple[int, str]:
    """The status and the refusal's reason (its error code when it names none)."""
    body = resp.json()
    return resp.status_code, str(body.get("reason", body["error"]))


# --- the path form: /decisions/<path> --------------------------------------------------


def test_path_form_answers_every_identity_header_empty_where_it_does_not_apply(
    world: World, machine: dict[str, str]
) -> None:
    resp = decide(world.url + "/decisions" + PARTNER, **machine)
    assert resp.status_code == 200, resp.text
    for name in ANSWERED:
        assert len(resp.headers.get_list(name.decode())) == 1, f"{name!r} missing or repeated"
    assert resp.headers["x-client-id"] == "partner-inventory"
    assert resp.headers["x-org-id"] == "org-partner"
    assert resp.headers["x-tenant"] == "dealer"
    assert resp.headers["x-identity-assertion"].count(".") == 2
    # a machine has no user, session or roles: the headers are there, empty, so a proxy that
    # copies a fixed list overwrites a client's copy and never writes a placeholder
    assert (resp.headers["x-user-id"], resp.headers["x-session-id"], resp.headers["x-roles"]) == ("", "", "")


def test_the_decision_request_own_method_is_the_method_decided(world: World, machine: dict[str, str]) -> None:
    assert decide(world.url + "/decisions" + PARTNER, "HEAD", **machine).status_code == 200  # GET implies HEAD
    resp = decide(world.url + "/decisions" + PARTNER, "POST", **machine)
    # a method the route does not take is a denial (nginx would turn a 405 into 500)
    assert reason(resp) == (403, "method_not_allowed")
    assert "x-client-id" not in resp.headers


def test_a_path_without_a_route_is_a_denial(world: World, auth: Auth) -> None:
    assert reason(decide(world.url + "/decisions/customer/no/such/route", **auth("alice"))) == (403, "no_route")


def test_denials_keep_their_status_and_www_authenticate_and_never_redirect(
    world: World, machine: dict[str, str]
) -> None:
    resp = decide(world.url + "/decisions" + PARTNER)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Bearer realm="dealer"'
    assert "x-client-id" not in resp.headers
    # a browser's page load without a session: the gateway alone would answer 303 to the login;
    # a front proxy cannot pass a redirect on, so /decisions answers 401
    page = decide(world.url + "/decisions/customer/", **{"Accept": "text/html"})
    assert page.status_code == 401 and "location" not in page.headers


def test_scope_missing_is_403(world: World) -> None:
    token = world.machine_token("partner-inventory", "jobs:read")
    resp = decide(world.url + "/decisions" + PARTNER, Authorization=f"Bearer {token}")
    assert resp.status_code == 403
    assert resp.json()["error"] == "forbidden"


def test_label_routes_are_refused_because_forward_auth_cannot_enforce_labels(world: World, auth: Auth) -> None:
    resp = decide(world.url + "/decisions/customer/api/durably/runs", **auth("alice"))
    assert reason(resp) == (403, "needs_proxy")


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Forwarded-Uri", "/customer/"),  # the issue: alice's bearer decided for another path
        ("X-Original-URI", "/customer/"),
        ("X-Original-URL", "/customer/"),
        ("X-Rewrite-URL", "/customer/"),
        ("X_Forwarded_Uri", "/customer/"),  # an alias: some servers fold '_' into '-'
        ("x.original.uri", "/customer/"),
        ("X-Forwarded-Uri", PARTNER + "?extra=1"),  # the same path, another query
        ("X-Forwarded-Method", "DELETE"),
        ("X-Original-Method", "get"),  # methods are case-sensitive
    ],
)
def test_a_describing_header_that_disagrees_with_the_path_is_400(
    world: World, forwarded: Proc, machine: dict[str, str], header: str, value: str
) -> None:
    for gateway in (world.url, forwarded.url):  # from anyone: trusted or not, a second source is ambiguous
        resp = decide(gateway + "/decisions" + PARTNER, **machine, **{header: value})
        assert reason(resp) == (400, "conflicting_request_description"), resp.text


def test_describing_headers_that_agree_with_the_path_are_accepted(world: World, machine: dict[str, str]) -> None:
    agreeing = {"X-Original-URI": PARTNER + "?a=1", "X-Original-Method": "GET", "X-Forwarded-Uri": PARTNER + "?a=1"}
    resp = decide(world.url + "/decisions" + PARTNER + "?a=1", **machine, **agreeing)
    assert resp.status_code == 200 and resp.headers["x-client-id"] == "partner-inventory"


# --- the bare form: /decisions described by one family of headers ------------------------


def test_bare_decisions_is_described_by_the_configured_family_only(
    world: World, original: Proc, forwarded: Proc, machine: dict[str, str]
) -> None:
    nginx = {"X-Original-URI": PARTNER, "X-Original-Method": "GET"}
    traefik = {"X-Forwarded-Uri": PARTNER, "X-Forwarded-Method": "GET"}
    assert decide(original.url + "/decisions", **machine, **nginx).headers["x-client-id"] == "partner-inventory"
    assert decide(forwarded.url + "/decisions", **machine, **traefik).headers["x-client-id"] == "partner-inventory"
    # the other family alone describes nothing; the shipped world trusts no proxy (and reads no family)
    assert reason(decide(original.url + "/decisions", **machine, **traefik)) == (400, "no_request_described")
    assert reason(decide(forwarded.url + "/decisions", **machine, **nginx)) == (400, "no_request_described")
    assert reason(decide(world.url + "/decisions", **machine, **nginx)) == (400, "no_request_described")


@pytest.mark.parametrize(
    "extra",
    [
        [("X-Original-URI", "/customer/")],  # the other family, disagreeing (the spoof)
        [("X-Original-Method", "POST")],
        [("X-Forwarded-Uri", PARTNER), ("X-Forwarded-Uri", "/customer/")],  # two values of one header
        [("X-Forwarded-Uri", PARTNER), ("X-Forwarded-Uri", PARTNER)],  # even alike: a proxy added one
        [("X-Forwarded-Method", "GET"), ("X_Forwarded_Method", "GET")],  # an alias is a second copy
    ],
)
def test_bare_decisions_with_a_second_source_is_400(
    forwarded: Proc, machine: dict[str, str], extra: list[tuple[str, str]]
) -> None:
    base = [("X-Forwarded-Uri", PARTNER), ("X-Forwarded-Method", "GET")]
    names = {n.lower() for n, _ in extra}
    headers = [h for h in base if h[0].lower() not in names] + extra + list(machine.items())
    resp = httpx.request("GET", forwarded.url + "/decisions", headers=headers)
    assert reason(resp) == (400, "conflicting_request_description"), resp.text


@pytest.mark.parametrize(
    ("target", "method", "why"),
    [
        ("/decisions?q=1", "GET", "conflicting_request_description"),  # its own query, not the described one
        ("/decisions", "POST", "conflicting_request_description"),  # its own method, neither GET nor the described
        ("/decisions", "GET", "no_request_described"),  # the method header missing
    ],
)
def test_bare_decisions_own_target_and_method(
    forwarded: Proc, machine: dict[str, str], target: str, method: str, why: str
) -> None:
    headers = {"X-Forwarded-Uri": PARTNER, **({"X-Forwarded-Method": "GET"} if why != "no_request_described" else {})}
    resp = httpx.request(method, forwarded.url + target, headers={**machine, **headers})
    assert reason(resp) == (400, why), resp.text


def test_bare_decisions_own_query_may_repeat_the_described_one(forwarded: Proc, machine: dict[str, str]) -> None:
    described = {"X-Forwarded-Uri": PARTNER + "?q=1", "X-Forwarded-Method": "GET"}
    assert decide(forwarded.url + "/decisions?q=1", **machine, **described).status_code == 200  # Caddy's habit


@pytest.mark.parametrize(
    ("uri", "method"),
    [(PARTNER + "?a b", "GET"), (PARTNER + "#x", "GET"), (PARTNER, "GET X"), ("dealer/partner-api/inventory", "GET")],
)
def test_bare_decisions_refuses_what_is_no_request(
    forwarded: Proc, machine: dict[str, str], uri: str, method: str
) -> None:
    resp = decide(forwarded.url + "/decisions", **machine, **{"X-Forwarded-Uri": uri, "X-Forwarded-Method": method})
    assert resp.status_code == 400


# --- the decision request itself ---------------------------------------------------------


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        ([("Content-Length", "4")], b"abcd"),
        ([("Transfer-Encoding", "chunked")], b"4\r\nabcd\r\n0\r\n\r\n"),
        # a proxy that passes the client's length on without the body (APISIX CVE-2024-32638)
        ([("Content-Length", "30")], b""),
    ],
)
def test_a_decision_request_with_a_body_is_400_and_ends_the_connection(
    world: World, machine: dict[str, str], framing: list[tuple[str, str]], body: bytes
) -> None:
    head = [("Host", "gw.test"), *machine.items(), *framing]
    request = build("GET", "/decisions" + PARTNER, head, body)
    # with its body, a request pipelined behind it: never read, the connection ends first;
    # without (a length announced, nothing sent), the answer comes without waiting for one
    following = build("GET", "/decisions" + PARTNER, [("Host", "gw.test"), *machine.items()]) if body else b""
    replies = exchange_all(world.url, request + following)
    assert [r.status for r in replies] == [400]
    assert replies[0].header("connection") == "close"
    answer = replies[0].json()
    assert isinstance(answer, dict) and answer["reason"] == "decision_with_body"
