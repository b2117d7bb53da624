"""Introspection and client organization lookup against an in-process fake."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from gateway.errors import InvalidToken, ServiceUnavailable, TooManyRequests
from tests.authn.fakes import ADMIN_TOKEN, NOW, FakeOry, active_token, authenticator, jwt_claims, request
from tests.support.clock import FakeClock

AT = "ory_at_key.sig"


def bearer(token: str = AT):  # type: ignore[no-untyped-def]
    return request(("authorization", f"Bearer {token}"))


async def test_active_token_principal(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token("svc", ext={"organization_id": "org-x"})
    p = await authenticator(ory, clock).authenticate(bearer(), ["machine"])
    assert (p.kind, p.subject, p.client_id, p.organization) == ("machine", "svc", "svc", "org-x")
    assert p.scopes == frozenset({"jobs:read", "jobs:write"}) and p.expires_at == int(NOW + 3600)
    sent = ory.seen[0]
    assert sent.url == "http://hydra-admin.a.test/admin/oauth2/introspect"
    assert sent.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert parse_qs(sent.content.decode())["token"] == [AT]


async def test_client_from_sub_when_no_client_id(ory: FakeOry, clock: FakeClock) -> None:
    doc = active_token("svc")
    del doc["client_id"]
    ory.tokens[AT] = doc
    assert (await authenticator(ory, clock).authenticate(bearer(), ["machine"])).subject == "svc"


async def test_org_from_client_metadata_cached(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token("svc/1")
    ory.tokens["ory_at_two.x"] = active_token("svc/1")
    ory.clients["svc/1"] = {"client_id": "svc/1", "metadata": {"organization_id": "org-m"}}
    auth = authenticator(ory, clock)
    assert (await auth.authenticate(bearer(), ["machine"])).organization == "org-m"
    assert (await auth.authenticate(bearer("ory_at_two.x"), ["machine"])).organization == "org-m"
    assert ory.calls["hydra-admin.a.test/admin/clients/svc%2F1"] == 1
    assert ory.seen[1].headers["authorization"] == f"Bearer {ADMIN_TOKEN}"


async def test_a_revoked_client_has_its_organization_read_again(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token("svc/1")
    ory.tokens["ory_at_two.x"] = active_token("svc/1")
    ory.clients["svc/1"] = {"client_id": "svc/1", "metadata": {"organization_id": "org-m"}}
    auth = authenticator(ory, clock)
    assert (await auth.authenticate(bearer(), ["machine"])).organization == "org-m"
    ory.clients["svc/1"] = {"client_id": "svc/1", "metadata": {"organization_id": "org-n"}}  # moved at Hydra
    assert (await auth.authenticate(bearer("ory_at_two.x"), ["machine"])).organization == "org-m"  # cached
    assert auth.evict("subject", "svc/1") == 2  # both tokens' decisions, and the client's organization
    assert (await auth.authenticate(bearer(), ["machine"])).organization == "org-n"
    assert ory.calls["hydra-admin.a.test/admin/clients/svc%2F1"] == 2


async def test_unknown_client_has_no_org(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token("ghost")
    assert (await authenticator(ory, clock).authenticate(bearer(), ["machine"])).organization is None


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"active": False}, "token_inactive"),
        (active_token(token_use="refresh_token"), "token_not_access_token"),
        (active_token(iss="http://other.test/"), "wrong_issuer"),
        (active_token(exp=NOW - 1), "token_expired"),
    ],
)
async def test_rejections(ory: FakeOry, clock: FakeClock, doc: dict[str, object], reason: str) -> None:
    ory.tokens[AT] = doc
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock).authenticate(bearer(), ["machine"])
    assert err.value.reason == reason


async def test_issuer_trailing_slash_tolerated(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token(iss="http://hydra.a.test")
    assert (await authenticator(ory, clock).authenticate(bearer(), ["machine"])).kind == "machine"


async def test_audience_checked_when_configured(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token(aud=["other"])
    ory.tokens["ory_at_ok.x"] = active_token(aud=["gw"])
    auth = authenticator(ory, clock, jwt_audience="gw")
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(), ["machine"])
    assert err.value.reason == "wrong_audience"
    assert (await auth.authenticate(bearer("ory_at_ok.x"), ["machine"])).kind == "machine"


async def test_negative_cached_briefly(ory: FakeOry, clock: FakeClock) -> None:
    auth = authenticator(ory, clock)
    for _ in range(3):
        with pytest.raises(InvalidToken):
            await auth.authenticate(bearer(), ["machine"])
    assert ory.calls["hydra-admin.a.test/admin/oauth2/introspect"] == 1
    clock.advance(6)
    with pytest.raises(InvalidToken):
        await auth.authenticate(bearer(), ["machine"])
    assert ory.calls["hydra-admin.a.test/admin/oauth2/introspect"] == 2


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(401, json={"error": "bad key"}),
        httpx.Response(200, json={"active": "yes"}),
        httpx.Response(200, json={"active": True, "client_id": "c", "exp": "soon"}),
        httpx.Response(503),
    ],
)
async def test_admin_trouble_is_503(ory: FakeOry, clock: FakeClock, reply: httpx.Response) -> None:
    ory.fault = reply
    with pytest.raises(ServiceUnavailable):
        await authenticator(ory, clock).authenticate(bearer(), ["machine"])


async def test_client_lookup_outage_fails_closed(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token("svc")

    def clients_down(req: httpx.Request) -> httpx.Response:
        if "/admin/clients/" in req.url.path:
            return httpx.Response(429, headers={"retry-after": "3"})
        return ory.handle.__wrapped__(req) if hasattr(ory.handle, "__wrapped__") else _pass(ory, req)

    ory.fault = clients_down
    with pytest.raises(TooManyRequests):
        await authenticator(ory, clock).authenticate(bearer(), ["machine"])


def _pass(ory: FakeOry, req: httpx.Request) -> httpx.Response:
    fault, ory.fault = ory.fault, None
    try:
        return ory.handle(req)
    finally:
        ory.fault = fault


@pytest.mark.parametrize("token_format", ["introspect", "jwt"])
async def test_a_tenant_listing_its_clients_refuses_every_other(
    ory: FakeOry, clock: FakeClock, token_format: str
) -> None:
    """Tenants sharing one Hydra (CLIENT_IDS): the other tenant's partner is refused, by
    introspection and by local JWT verification alike; the tenant's own client is always its."""
    for client in ("partner", "other-tenants-partner", "own"):
        ory.tokens[f"ory_at_{client}.x"] = active_token(client)
    auth = authenticator(ory, clock, client_ids=frozenset({"partner"}), client_id="own", client_secret="s")

    def token(client: str) -> str:
        return ory.sign(jwt_claims(client)) if token_format == "jwt" else f"ory_at_{client}.x"

    assert (await auth.authenticate(bearer(token("partner")), ["machine"])).client_id == "partner"
    assert (await auth.authenticate(bearer(token("own")), ["machine"])).client_id == "own"
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(token("other-tenants-partner")), ["machine"])
    assert err.value.reason == "client_not_accepted"
    assert not any("/admin/clients/other-tenants-partner" in str(r.url) for r in ory.seen)  # refused before any lookup
