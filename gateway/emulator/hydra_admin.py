"""Hydra admin API: OAuth2 client CRUD, token introspection and key sets."""

from __future__ import annotations

from starlette.responses import Response

from gateway.emulator import errors as err
from gateway.emulator.clients import ClientError, build_client, client_json
from gateway.emulator.context import BodyError, Ctx
from gateway.emulator.errors import OAUTH_HEADERS, OAUTH_JSON, hydra_error, hydra_not_found, json_response
from gateway.emulator.keys import ACCESS_TOKEN_SET, ID_TOKEN_SET
from gateway.emulator.pagination import PageError, paginate
from gateway.emulator.tokens import find, introspection_json, is_active, wildcard_match


async def create_client(ctx: Ctx) -> Response:
    try:
        body = await ctx.json_object()
        client = build_client(ctx.project, body, ctx.now)
    except BodyError as exc:
        return hydra_error(400, "The request was malformed or contained invalid parameters", str(exc))
    except ClientError as exc:
        return hydra_error(exc.status, exc.error, exc.description)
    location = f"/admin/clients/{client.data['client_id']}"
    return json_response(client_json(client, with_secret=True), 201, {"Location": location})


async def get_client(ctx: Ctx) -> Response:
    client = ctx.project.clients.get(ctx.params["id"])
    return hydra_not_found() if client is None else json_response(client_json(client))


async def list_clients(ctx: Ctx) -> Response:
    query = ctx.request.query_params
    clients = sorted(ctx.project.clients.values(), key=lambda c: str(c.data["client_id"]))
    if query.get("client_name"):
        clients = [c for c in clients if c.data.get("client_name") == query["client_name"]]
    if query.get("owner"):
        clients = [c for c in clients if c.data.get("owner") == query["owner"]]
    try:
        page, link = paginate(clients, query.get("page_size"), query.get("page_token"), 250, 1000, ctx.request.url.path)
    except PageError as exc:
        return hydra_error(400, "The request was malformed or contained invalid parameters", str(exc))
    return json_response([client_json(c) for c in page], headers={"Link": link})


async def delete_client(ctx: Ctx) -> Response:
    client = ctx.project.clients.pop(ctx.params["id"], None)
    if client is None:
        return hydra_not_found()
    for key in [k for k, t in ctx.project.tokens.items() if t.client_id == ctx.params["id"]]:
        del ctx.project.tokens[key]
    return Response(status_code=204)


async def introspect(ctx: Ctx) -> Response:
    try:
        form = await ctx.form_lists()
    except BodyError as exc:
        return err.invalid_request(str(exc))
    if not form:
        return err.invalid_request("The POST body can not be empty.")
    record = find(ctx.project, (form.get("token") or [""])[0])
    wanted = " ".join(form.get("scope") or []).split()
    headers = dict(OAUTH_HEADERS)
    if record is None or not is_active(record, ctx.now) or not all(wildcard_match(record.scopes, s) for s in wanted):
        return json_response({"active": False}, headers=headers, media_type=OAUTH_JSON)
    return json_response(introspection_json(ctx.project, record), headers=headers, media_type=OAUTH_JSON)


async def get_key_set(ctx: Ctx) -> Response:
    name = ctx.params["set"]
    if name not in (ID_TOKEN_SET, ACCESS_TOKEN_SET):
        return hydra_not_found()
    return json_response({"keys": [ctx.project.keys.public_jwk(name)]})
