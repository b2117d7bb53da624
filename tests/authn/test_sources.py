"""Which authenticator sees which credential; RFC 6750 error shapes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.authn import build_authenticators
from gateway.authn.credentials import token_shape
from gateway.authn.sources import AUTHENTICATORS, REGISTRY, unusable
from gateway.config.settings import Settings
from gateway.errors import InvalidToken, Unauthenticated
from gateway.ory.pool import OryPool
from tests.authn.fakes import FakeOry, active_token, authenticator, request, session, tenant
from tests.support.builders import make_settings
from tests.support.clock import FakeClock

ST = "ory_st_" + "b" * 32
AT = "ory_at_abc.def"


@pytest.mark.parametrize(
    ("token", "shape"),
    [(ST, "session"), (AT, "oauth2"), ("a.b.c", "jwt"), ("a.b.", "jwt"), ("opaque-thing", "unknown")],
)
def test_shapes(token: str, shape: str) -> None:
    assert token_shape(token) == shape


async def test_session_token_never_sent_to_hydra(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock).authenticate(request(("authorization", f"Bearer {ST}")), ["machine"])
    assert err.value.reason == "credential_kind_not_accepted" and not ory.seen


async def test_hydra_token_never_sent_to_kratos(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(InvalidToken):
        await authenticator(ory, clock).authenticate(request(("authorization", f"Bearer {AT}")), ["human"])
    assert not ory.seen


async def test_session_token_rejection_is_final(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock).authenticate(request(("authorization", f"Bearer {ST}")), ["human", "machine"])
    assert err.value.reason == "session_invalid"
    assert set(ory.calls) == {"kratos.a.test/sessions/whoami"}


async def test_an_unprefixed_token_goes_only_where_its_shape_could_come_from(ory: FakeOry, clock: FakeClock) -> None:
    """Self-hosted Hydra may issue `<key>.<signature>` without the prefix: only Hydra is asked."""
    ory.tokens["key.signature"] = active_token()
    auth = authenticator(ory, clock)
    p = await auth.authenticate(request(("authorization", "Bearer key.signature")), ["human", "machine"])
    assert p.kind == "machine"
    assert next(iter(ory.calls)) == "hydra-admin.a.test/admin/oauth2/introspect"
    assert "kratos.a.test/sessions/whoami" not in ory.calls


async def test_unknown_shape_nobody_knows_it(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock).authenticate(request(("authorization", "Bearer zzz")), ["human", "machine"])
    assert err.value.reason == "token_unknown"


async def test_an_unprefixed_session_token_goes_to_kratos(ory: FakeOry, clock: FakeClock) -> None:
    """Self-hosted Kratos issued 32 alphanumerics before the `ory_st_` prefix."""
    legacy = "L" * 32
    ory.sessions[legacy] = session()
    p = await authenticator(ory, clock).authenticate(
        request(("authorization", f"Bearer {legacy}")), ["human", "machine"]
    )
    assert p.kind == "human" and list(ory.calls) == ["kratos.a.test/sessions/whoami"]


async def test_shapes_ory_never_issues_never_reach_it(ory: FakeOry, clock: FakeClock) -> None:
    auth = authenticator(ory, clock)
    for headers in (
        [("x-session-token", "ory_st_short")],
        [("authorization", "Bearer ory_st_" + "a" * 31 + "!")],
        [("authorization", "Bearer zzz")],
        [("authorization", "Bearer ory_at_nodot")],
        [("cookie", "ory_kratos_session=" + "a" * 4097)],
    ):
        with pytest.raises(InvalidToken):
            await auth.authenticate(request(*headers), ["human", "machine"])
    assert list(ory.calls) == []


async def test_cloud_tenants_take_only_prefixed_tokens(ory: FakeOry, clock: FakeClock) -> None:
    auth = authenticator(ory, clock, mode="cloud")
    for token in ("L" * 32, "key.signature"):
        with pytest.raises(InvalidToken):
            await auth.authenticate(request(("authorization", f"Bearer {token}")), ["human", "machine"])
    assert list(ory.calls) == []


async def test_token_format_jwt_refuses_opaque(ory: FakeOry, clock: FakeClock) -> None:
    ory.tokens[AT] = active_token()
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock, token_format="jwt").authenticate(
            request(("authorization", f"Bearer {AT}")), ["machine"]
        )
    assert err.value.reason == "opaque_token_not_accepted" and not ory.seen


async def test_no_credentials(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(Unauthenticated) as err:
        await authenticator(ory, clock).authenticate(
            request(("authorization", "Basic dXNlcjpwYXNz"), ("cookie", "other=1")), ["human", "machine"]
        )
    assert type(err.value) is Unauthenticated and err.value.reason == "no_credentials"
    assert err.value.status == 401 and err.value.headers()["www-authenticate"] == 'Bearer realm="a"'


@pytest.mark.parametrize(
    "headers",
    [
        (("authorization", "Bearer a"), ("authorization", "Bearer b")),
        (("authorization", f"Bearer {ST}"), ("x-session-token", "ory_st_other")),
        (("authorization", "Bearer"),),
        (("authorization", "Bearer two words"),),
    ],
)
async def test_ambiguous_or_malformed(ory: FakeOry, clock: FakeClock, headers: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock).authenticate(request(*headers), ["human", "machine"])
    assert err.value.reason in ("ambiguous_credentials", "malformed_token")
    assert not ory.seen


async def test_cookie_of_other_tenant_is_no_credential(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(Unauthenticated) as err:
        await authenticator(ory, clock, session_cookie_name="ory_session_a").authenticate(
            request(("cookie", "ory_session_b=xyz")), ["human"]
        )
    assert err.value.reason == "no_credentials" and not ory.seen


async def test_invalid_token_error_body(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock).authenticate(request(("authorization", f"Bearer {AT}")), ["machine"])
    body = err.value.body("req-1")
    assert b'"error":"invalid_token"' in body and b'"request_id":"req-1"' in body
    assert err.value.headers()["www-authenticate"].startswith('Bearer realm="a", error="invalid_token"')


def test_build_authenticators_one_per_tenant(ory: FakeOry, clock: FakeClock) -> None:
    a, b = tenant(), replace(tenant(), name="b", kratos_public_url="http://kratos.b.test")
    settings = Settings(
        tenants={"a": a, "b": b},
        default_tenant="a",
        policies_dir=Path("."),
        listen_host="127.0.0.1",
        listen_port=8080,
        trusted_proxies=(),
        upstreams={},
    )
    client = ory.client()
    built = build_authenticators(settings, {name: OryPool.over(name, client) for name in settings.tenants}, clock)
    assert set(built) == {"a", "b"} and built["b"].tenant.kratos_public_url == "http://kratos.b.test"
    assert built["a"].cache is not built["b"].cache


def test_the_registry_names_every_source_once() -> None:
    assert AUTHENTICATORS == tuple(REGISTRY) == ("kratos-cookie", "kratos-token", "session_jwt", "hydra", "jwt")
    assert {kind.kind for kind in REGISTRY.values()} == {"human", "machine"}


@pytest.mark.parametrize(
    ("overrides", "human", "machine"),
    [
        ({}, None, None),
        ({"TOKEN_FORMAT": "jwt"}, None, None),  # JWTs are still verified locally
        ({"TOKEN_FORMAT": "introspect"}, None, None),
        ({"TRANSPORT": "cookie"}, None, None),
        ({"HYDRA_PUBLIC_URL": "", "HYDRA_ADMIN_URL": "", "HYDRA_ADMIN_TOKEN": ""}, None, "has no Hydra configured"),
    ],
)
def test_a_kind_is_unusable_only_when_no_source_can_serve_it(
    overrides: dict[str, str], human: str | None, machine: str | None
) -> None:
    dealer = make_settings(**{f"GATEWAY_TENANT_DEALER_{k}": v for k, v in overrides.items()}).tenants["dealer"]
    assert unusable("human", dealer) == human
    assert unusable("machine", dealer) == machine
