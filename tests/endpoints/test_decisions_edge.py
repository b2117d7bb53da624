"""What `/decisions` tells an edge nginx: how long it may reuse an answer (`X-Accel-Expires`),
and whether the route it rendered its location from is the one the gateway matched
(`X-Edge-Route`). Through a real nginx: tests/edge/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from gateway.edge.route_key import route_key
from gateway.endpoints.forward_auth import reuse_for
from gateway.load import load_all
from gateway.principal import Principal
from tests.support.ops import Ops, Replica
from tests.support.processes import Proc, gateway_process
from tests.support.world import Auth, World

PARTNER = "/dealer/partner-api/inventory"


def principal(expires_at: float | None) -> Principal:
    return Principal("machine", "dealer", "c", "org", frozenset(), frozenset({"s"}), expires_at=expires_at)


@pytest.mark.parametrize(
    ("ttl", "expires_at", "seconds"),
    [
        (2, None, b"2"),  # no expiry known (an anonymous route has no principal at all)
        (2, 1000.0 + 3600, b"2"),
        (2, 1000.0 + 1.9, b"1"),  # whole seconds, rounded down: never past the credential's expiry
        (2, 1000.0 + 0.5, b"0"),
        (2, 1000.0 - 5, b"0"),
        (0, 1000.0 + 3600, b"0"),  # GATEWAY_EDGE_CACHE_TTL=0: nothing is reused
    ],
)
def test_an_allow_is_reused_for_the_ttl_at_most_and_never_past_the_credential(
    ttl: int, expires_at: float | None, seconds: bytes
) -> None:
    assert reuse_for(ttl, principal(expires_at), now=1000.0) == (b"x-accel-expires", seconds)
    assert reuse_for(ttl, None, now=1000.0) == (b"x-accel-expires", b"%d" % ttl)


def test_allows_say_the_ttl_and_denials_zero(world: World, auth: Auth) -> None:
    machine = {"Authorization": f"Bearer {world.machine_token('partner-inventory', 'inventory:read')}"}
    allowed = httpx.get(world.url + "/decisions" + PARTNER, headers=machine)
    assert allowed.status_code == 200 and allowed.headers.get_list("x-accel-expires") == ["2"]
    denials = [
        httpx.get(world.url + "/decisions" + PARTNER),  # 401
        httpx.get(world.url + "/decisions" + PARTNER, headers=auth("machine:partner-inventory:jobs:read")),  # 403
        httpx.get(world.url + "/decisions/customer/no/route", headers=auth("alice")),  # 403 no_route
        httpx.get(world.url + "/decisions/customer/a%2Fb", headers=auth("alice")),  # 400 ambiguous_path
    ]
    assert [d.status_code for d in denials] == [401, 403, 403, 400]
    assert all(d.headers.get_list("x-accel-expires") == ["0"] for d in denials)


def test_the_route_the_edge_assumed_must_be_the_route_matched(world: World) -> None:
    machine = {"Authorization": f"Bearer {world.machine_token('partner-inventory', 'inventory:read')}"}
    _, policies = load_all(world.env)
    partner = policies.route("dealer:partner-inventory")
    reports = policies.route("dealer:org-reports")
    assert partner is not None and reports is not None
    url = world.url + "/decisions" + PARTNER
    same = httpx.get(url, headers=machine | {"X-Edge-Route": route_key(partner)})
    assert same.status_code == 200 and same.headers["x-client-id"] == "partner-inventory"
    stale = route_key(partner).rsplit("@", 1)[0] + "@000000000000"  # the route changed since nginx was rendered
    for assumed in (route_key(reports), stale):
        resp = httpx.get(url, headers=machine | {"X-Edge-Route": assumed})
        assert resp.status_code == 403 and resp.json()["reason"] == "edge_route_changed"
        assert "x-client-id" not in resp.headers and resp.headers["x-accel-expires"] == "0"


# --- ingress-nginx: what its auth location sends (auth-url, auth-method: GET) ------------------


@pytest.fixture(scope="module")
def behind_ingress(world: World) -> Iterator[Proc]:
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_LISTEN"}
    env |= {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32", "GATEWAY_DECISIONS_HEADERS": "original"}
    with gateway_process(env) as proc:
        yield proc


def ingress_nginx(target: str, method: str = "GET", host: str = "shop.example") -> dict[str, str]:
    """The headers ingress-nginx's auth location sets (its nginx.tmpl), with X-Forwarded-Host
    added through `auth-proxy-set-headers` (the template sends the client's own otherwise)."""
    return {
        "Host": "gateway.gateway.svc.cluster.local",
        "X-Original-URI": target,
        "X-Scheme": "https",
        "X-Original-URL": f"https://{host}{target}",
        "X-Original-Method": method,
        "X-Sent-From": "nginx-ingress-controller",
        "X-Real-IP": "203.0.113.9",
        "X-Forwarded-For": "203.0.113.9",
        "X-Auth-Request-Redirect": target,
        "X-Request-ID": "0123456789abcdef",
        "X-Forwarded-Host": "shop.example",
    }


def test_ingress_nginx_describes_the_request_with_an_absolute_url_of_the_same_host(
    world: World, behind_ingress: Proc
) -> None:
    machine = {"Authorization": f"Bearer {world.machine_token('partner-inventory', 'inventory:read')}"}
    url = behind_ingress.url + "/decisions"
    allowed = httpx.get(url, headers=ingress_nginx(PARTNER + "?page=2") | machine)
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["x-client-id"] == "partner-inventory"
    assert allowed.headers["x-forwarded-host"] == "shop.example"
    refused = {
        "another host": ingress_nginx(PARTNER, host="other.example"),
        "another path": ingress_nginx(PARTNER) | {"X-Original-URL": "https://shop.example/customer/"},
        "another query": ingress_nginx(PARTNER) | {"X-Original-URL": f"https://shop.example{PARTNER}?page=3"},
    }
    for why, headers in refused.items():
        resp = httpx.get(url, headers=headers | machine)
        assert (resp.status_code, resp.json()["reason"]) == (400, "conflicting_request_description"), why
    # the method is the one ingress-nginx describes, not its auth request's own GET
    post = httpx.get(url, headers=ingress_nginx(PARTNER, method="POST") | machine)
    assert (post.status_code, post.json()["reason"]) == (403, "method_not_allowed")


def test_reuse_stops_when_the_routes_max_age_runs_out() -> None:
    assert reuse_for(5, principal(2000.0), now=1000.0, until=1002.9) == (b"x-accel-expires", b"2")
    assert reuse_for(5, principal(2000.0), now=1000.0, until=900.0) == (b"x-accel-expires", b"0")
    assert reuse_for(5, principal(2000.0), now=1000.0, until=None) == (b"x-accel-expires", b"5")


def test_a_rate_limited_routes_allow_is_never_reused_so_every_request_counts(ops: Ops, replica_a: Replica) -> None:
    """ops-limited (6 a minute per person): an edge reusing an allow would let requests past uncounted."""
    token = ops.session("carol@acme.example", "carol-password")
    path = f"/decisions/customer/limited/{uuid.uuid4().hex}"
    answers = [httpx.get(replica_a.url + path, headers={"Authorization": f"Bearer {token}"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.headers.get_list("x-accel-expires") == ["0"] for a in answers)
    left = [int(a.headers["ratelimit"].split(";r=")[1].split(";")[0]) for a in answers]
    assert left[1] == left[0] - 1  # both counted
