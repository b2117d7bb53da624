"""Kratos admin API: identities and sessions."""

from __future__ import annotations

import uuid

from starlette.responses import Response

from gateway.emulator.context import BodyError, Ctx
from gateway.emulator.errors import herodot, json_response, kratos_bad_request, kratos_not_found
from gateway.emulator.identities import (
    CREDENTIAL_TYPES,
    IdentityError,
    build_identity,
    identity_json,
    update_existing,
)
from gateway.emulator.pagination import PageError, paginate
from gateway.emulator.sessions import extend, session_json
from gateway.emulator.state import Identity, Session

CONFLICT_MESSAGE = "The resource could not be created due to a conflict"


def _includes(ctx: Ctx) -> list[str] | Response:
    wanted = ctx.query_list("include_credential")
    bad = [w for w in wanted if w not in CREDENTIAL_TYPES]
    if bad:
        return kratos_bad_request(f"Invalid value '{bad[0]}' for include_credential.", ctx.request_id)
    return wanted


async def create_identity(ctx: Ctx) -> Response:
    try:
        body = await ctx.json_object()
        identity = build_identity(ctx.project, body, ctx.now)
    except (BodyError, IdentityError) as exc:
        return _refused(exc, ctx.request_id)
    location = f"{ctx.project.base_url}/admin/identities/{identity.id}"
    return json_response(identity_json(ctx.project, identity, admin=True), 201, {"Location": location})


def _refused(exc: BodyError | IdentityError, request_id: str) -> Response:
    """A body or identity Kratos would not take: 409 for a duplicate credential, else 400."""
    if isinstance(exc, IdentityError) and exc.status == 409:
        return herodot(409, CONFLICT_MESSAGE, reason=str(exc), request_id=request_id)
    return kratos_bad_request(str(exc), request_id)


def _identity(ctx: Ctx) -> Identity | None:
    return ctx.project.identities.get(ctx.params["id"])


async def get_identity(ctx: Ctx) -> Response:
    includes = _includes(ctx)
    if isinstance(includes, Response):
        return includes
    identity = _identity(ctx)
    if identity is None:
        return kratos_not_found(ctx.request_id)
    return json_response(identity_json(ctx.project, identity, admin=True, include=includes))


def _filter_identities(ctx: Ctx) -> list[Identity]:
    query = ctx.request.query_params
    found = sorted(ctx.project.identities.values(), key=lambda i: i.id)
    ids = ctx.query_list("ids")
    if ids:
        found = [i for i in found if i.id in ids]
    if query.get("credentials_identifier"):
        found = [i for i in found if query["credentials_identifier"].lower() in i.identifiers]
    if query.get("organization_id"):
        found = [i for i in found if i.organization_id == query["organization_id"]]
    return found


async def list_identities(ctx: Ctx) -> Response:
    includes = _includes(ctx)
    if isinstance(includes, Response):
        return includes
    query = ctx.request.query_params
    try:
        page, link = paginate(
            _filter_identities(ctx),
            query.get("page_size"),
            query.get("page_token"),
            250,
            500,
            ctx.request.url.path,
        )
    except PageError as exc:
        return kratos_bad_request(str(exc), ctx.request_id)
    body = [identity_json(ctx.project, i, admin=True, include=includes) for i in page]
    return json_response(body, headers={"Link": link})


async def update_identity(ctx: Ctx) -> Response:
    """`PUT /admin/identities/{id}` (updateIdentity): the whole identity but its credentials is
    replaced (`schema_id`, `traits` and `state` required; absent metadata is cleared)."""
    identity = _identity(ctx)
    if identity is None:
        return kratos_not_found(ctx.request_id)
    try:
        body = await ctx.json_object()
        update_existing(ctx.project, identity, body, ctx.now)
    except (BodyError, IdentityError) as exc:
        return _refused(exc, ctx.request_id)
    return json_response(identity_json(ctx.project, identity, admin=True))


async def delete_identity(ctx: Ctx) -> Response:
    identity = ctx.project.identities.pop(ctx.params["id"], None)
    if identity is None:
        return kratos_not_found(ctx.request_id)
    for sid in [s.id for s in ctx.project.sessions.values() if s.identity_id == identity.id]:
        del ctx.project.sessions[sid]
    return Response(status_code=204)


def _expand(ctx: Ctx) -> tuple[bool, bool]:
    expand = ctx.query_list("expand")
    return "identity" in expand, "devices" in expand


def _session_or_error(ctx: Ctx) -> Session | Response:
    raw = ctx.params["id"]
    try:
        uuid.UUID(raw)
    except ValueError:
        problem = "format" if len(raw) in (32, 36, 38, 41, 45) else f"length {len(raw)}"
        return herodot(400, f'uuid: incorrect UUID {problem} in string "{raw}"', request_id=ctx.request_id)
    session = ctx.project.sessions.get(ctx.params["id"])
    return session if session is not None else kratos_not_found(ctx.request_id)


async def get_session(ctx: Ctx) -> Response:
    found = _session_or_error(ctx)
    if isinstance(found, Response):
        return found
    with_identity, with_devices = _expand(ctx)
    return json_response(
        session_json(ctx.project, found, ctx.now, with_identity=with_identity, with_devices=with_devices)
    )


async def extend_session(ctx: Ctx) -> Response:
    """`PATCH /admin/sessions/{id}/extend` (extendSession): 204, the session given a new
    lifespan if it is within `earliest_possible_extend` of its expiry (else unchanged)."""
    found = _session_or_error(ctx)
    if isinstance(found, Response):
        return found
    extend(ctx.project, found, ctx.now)
    return Response(status_code=204)


async def disable_session(ctx: Ctx) -> Response:
    found = _session_or_error(ctx)
    if isinstance(found, Response):
        return found
    found.active = False
    return Response(status_code=204)


def _active_filter(ctx: Ctx, sessions: list[Session]) -> list[Session]:
    active = ctx.request.query_params.get("active")
    if active is None:
        return sessions
    want = active.lower() == "true"
    return [s for s in sessions if (s.active and ctx.now < s.expires_at) == want]


def _session_page(ctx: Ctx, sessions: list[Session], maximum: int, with_identity: bool) -> Response:
    query = ctx.request.query_params
    ordered = sorted(_active_filter(ctx, sessions), key=lambda s: s.authenticated_at, reverse=True)
    try:
        page, link = paginate(
            ordered, query.get("page_size"), query.get("page_token"), 250, maximum, ctx.request.url.path
        )
    except PageError as exc:
        return kratos_bad_request(str(exc), ctx.request_id)
    _, with_devices = _expand(ctx)
    body = [session_json(ctx.project, s, ctx.now, with_identity=with_identity, with_devices=with_devices) for s in page]
    return json_response(body, headers={"Link": link})


async def list_sessions(ctx: Ctx) -> Response:
    with_identity, _ = _expand(ctx)
    return _session_page(ctx, list(ctx.project.sessions.values()), 1000, with_identity)


async def list_identity_sessions(ctx: Ctx) -> Response:
    identity = _identity(ctx)
    if identity is None:
        return kratos_not_found(ctx.request_id)
    sessions = [s for s in ctx.project.sessions.values() if s.identity_id == identity.id]
    return _session_page(ctx, sessions, 1000, True)


async def delete_identity_sessions(ctx: Ctx) -> Response:
    identity = _identity(ctx)
    if identity is None:
        return kratos_not_found(ctx.request_id)
    for sid in [s.id for s in ctx.project.sessions.values() if s.identity_id == identity.id]:
        del ctx.project.sessions[sid]
    return Response(status_code=204)
