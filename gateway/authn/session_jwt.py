"""Tokenized sessions: a Kratos session as a JWT (`whoami?tokenize_as=<template>`), verified
here with the template's public keys and no call to Ory.

The keys come from `GATEWAY_TENANT_<T>_SESSION_JWKS_URL` only (never from the token); the
algorithms are `_SESSION_JWT_ALGORITHMS` (asymmetric only). Refused, each with a fixed reason
id: everything `gateway.authn.jwt` refuses of a header (`none`, HS* with a public key,
`jku`/`x5u`/`jwk`/`x5c`/`crit`, an unknown `kid`), a bad signature, an `iss` other than the
tenant's Kratos public URL, no `sub` or `sid`, and an expired or not-yet-valid token beyond
`CLOCK_SKEW`.

The person's memberships come from the claims when the template maps them (`memberships`,
or `organization_id` and `roles`: the same shapes as identity metadata), else from the
identity read through the admin API (`gateway.authn.identities`, cached). `aal` and
`authenticated_at` (RFC 3339 or epoch seconds) are read when mapped; without them a route
requiring a second factor or a recent sign-in refuses the token. On a tenant that lists its
identity schemas (`IDENTITY_SCHEMAS`) the claim `schema_id`, else the identity, must name one.
A token stays valid until its `exp`: keep the template's `ttl` short.
"""

from __future__ import annotations

from typing import Any

from gateway.authn.identities import People, Person
from gateway.authn.jwks import JwksCache
from gateway.authn.jwt import CLOCK_SKEW, times_refused, verified_claims
from gateway.authn.kratos import schema_refused
from gateway.authn.verdict import Verdict, parse_rfc3339, same_issuer
from gateway.cache import Clock
from gateway.config.settings import TenantSettings
from gateway.orgs.memberships import METADATA, Memberships, read_memberships
from gateway.principal import Principal

#: the claims a template maps memberships to (the shapes of identity metadata)
MEMBERSHIP_CLAIMS = ("memberships", "organization_id", "roles")
NO_ADMIN = "the session JWT maps no memberships and the tenant has no Kratos admin API to read them"


class SessionJwtVerifier:
    def __init__(self, tenant: TenantSettings, jwks: JwksCache, people: People, clock: Clock) -> None:
        self._tenant = tenant
        self._jwks = jwks
        self._people = people
        self._clock = clock

    async def verify(self, token: str) -> Verdict:
        claims = await verified_claims(token, self._jwks, self._tenant.session_jwt_algorithms, _session_typ)
        if isinstance(claims, Verdict):
            return claims
        return self._claims_refused(claims) or await self._decide(claims)

    def _claims_refused(self, claims: dict[str, Any]) -> Verdict | None:
        if not same_issuer(claims.get("iss"), self._tenant.kratos_public_url):
            return Verdict.reject("wrong_issuer", "the token was issued by another issuer")
        if not _text(claims.get("sub")) or not _text(claims.get("sid")):
            return Verdict.reject("jwt_malformed", "the token names no identity or session")
        return times_refused(claims, self._clock(), CLOCK_SKEW)

    async def _decide(self, claims: dict[str, Any]) -> Verdict:
        person = await self._person(claims)
        if person is not None and not (person.found and person.active):
            return Verdict.reject("identity_inactive", "the identity is not active")
        schema = claims.get("schema_id", person.schema_id if person is not None else None)
        refused = schema_refused(self._tenant, schema)
        if refused is not None:
            return refused
        memberships = self._memberships(claims, person)
        organization, roles = memberships.default
        aal = claims.get("aal")
        return Verdict(
            Principal(
                kind="human",
                tenant=self._tenant.name,
                subject=claims["sub"],
                organization=organization,
                roles=roles,
                scopes=frozenset(),
                session_id=claims["sid"],
                aal=aal if isinstance(aal, str) else None,
                authenticated_at=_epoch(claims.get("authenticated_at")),
                expires_at=float(claims["exp"]),
                memberships=memberships.items if self._tenant.memberships == METADATA else None,
                memberships_problem=memberships.problem,
            )
        )

    async def _person(self, claims: dict[str, Any]) -> Person | None:
        """The identity, when the claims leave something to read from it (memberships or the
        schema) and there is an admin API to read it from; else None."""
        wants_memberships = self._tenant.memberships == METADATA and not _maps_memberships(claims)
        wants_schema = bool(self._tenant.identity_schemas) and "schema_id" not in claims
        if not (wants_memberships or wants_schema) or not self._people.readable:
            return None
        return await self._people.person(claims["sub"])

    def _memberships(self, claims: dict[str, Any], person: Person | None) -> Memberships:
        if self._tenant.memberships != METADATA:
            return Memberships(())  # the organization stage asks the tenant's source
        if _maps_memberships(claims):
            return read_memberships(claims, "memberships", ("organization_id",), "roles")
        return person.memberships if person is not None else Memberships((), problem=NO_ADMIN)


def _maps_memberships(claims: dict[str, Any]) -> bool:
    return any(claims.get(name) is not None for name in MEMBERSHIP_CLAIMS)


def _session_typ(typ: object) -> bool:
    """Kratos' tokenizer writes `typ: JWT`; none is taken too."""
    return typ is None or (isinstance(typ, str) and typ.lower() == "jwt")


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _epoch(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_rfc3339(value)
