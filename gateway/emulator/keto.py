"""Ory Permissions API (Keto) of a project, as Ory Network serves it (every path needs the
project API key there): checks, batch checks, relationship CRUD, expand and namespaces.

Query parameters are read the way Go's `url.Values.Get` does (the first copy wins).
Errors use herodot's envelope, `{"error": {"code", "status", "reason"?, "message"}}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from gateway.emulator.context import Ctx
from gateway.emulator.errors import herodot, json_response
from gateway.emulator.relations import (
    MAX_BATCH,
    RelationError,
    Relationship,
    SubjectSet,
    max_depth,
    query_from_params,
    tuple_from_json,
    tuple_from_params,
)

PAGE_DEFAULT, PAGE_MAX = 100, 1000


def _params(ctx: Ctx) -> tuple[dict[str, str], set[str]]:
    """First value of every query parameter, and the names present."""
    first: dict[str, str] = {}
    for name, value in ctx.request.query_params.multi_items():
        first.setdefault(name, value)
    return first, set(first)


def _error(exc: RelationError) -> Response:
    return herodot(exc.status, exc.message, reason=exc.reason)


async def _body(ctx: Ctx) -> Any:
    raw = await ctx.request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise RelationError(400, f"could not unmarshal json: {exc}") from None


def _guarded(handler: Callable[[Ctx], Any]) -> Callable[[Ctx], Any]:
    async def run(ctx: Ctx) -> Response:
        try:
            response: Response = await handler(ctx)
        except RelationError as exc:
            return _error(exc)
        return response

    run.__name__ = handler.__name__
    return run


async def _checked(ctx: Ctx) -> bool:
    params, keys = _params(ctx)
    depth = max_depth(params)
    get = ctx.request.method == "GET"
    wanted = tuple_from_params(params, keys) if get else tuple_from_json(await _body(ctx))
    return ctx.project.relations.check(wanted, depth)


@_guarded
async def check_mirror(ctx: Ctx) -> Response:
    """`/relation-tuples/check`: the status mirrors the answer (200 allowed, 403 not)."""
    allowed = await _checked(ctx)
    return json_response({"allowed": allowed}, 200 if allowed else 403)


@_guarded
async def check_openapi(ctx: Ctx) -> Response:
    """`/relation-tuples/check/openapi`: always 200 with the answer in the body."""
    return json_response({"allowed": await _checked(ctx)})


@_guarded
async def batch_check(ctx: Ctx) -> Response:
    params, _ = _params(ctx)
    depth = max_depth(params)
    body = await _body(ctx)
    tuples = body.get("tuples") if isinstance(body, dict) else None
    if not isinstance(tuples, list):
        raise RelationError(400, "could not unmarshal json: 'tuples' must be a list")
    if len(tuples) > MAX_BATCH:
        raise RelationError(400, f"batch exceeds max size of {MAX_BATCH}")
    return json_response({"results": [_one(ctx, item, depth) for item in tuples]})


def _one(ctx: Ctx, item: object, depth: int) -> dict[str, Any]:
    try:
        wanted = tuple_from_json(item)
    except RelationError as exc:
        return {"allowed": False, "error": exc.message}
    relations = ctx.project.relations
    for namespace in (wanted.namespace, wanted.subject_set.namespace if wanted.subject_set else None):
        if namespace is not None and not relations.known(namespace):
            return {"allowed": False, "error": "The requested resource could not be found"}
    return {"allowed": relations.check(wanted, depth)}


@_guarded
async def list_relationships(ctx: Ctx) -> Response:
    params, keys = _params(ctx)
    found = ctx.project.relations.find(query_from_params(params, keys))
    size = _page_size(params.get("page_size"))
    offset = _offset(params.get("page_token"))
    page = found[offset : offset + size]
    token = str(offset + size) if offset + size < len(found) else ""
    return json_response({"relation_tuples": [r.as_json() for r in page], "next_page_token": token})


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return PAGE_DEFAULT
    try:
        size = int(raw, 0)
    except ValueError:
        raise RelationError(400, f"invalid page_size {raw!r}") from None
    if size < 1:
        raise RelationError(400, "page_size must be at least 1")
    return min(size, PAGE_MAX)


def _offset(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise RelationError(400, "The page token is invalid, do not craft your own page tokens.")
    return int(token)


@_guarded
async def expand(ctx: Ctx) -> Response:
    params, keys = _params(ctx)
    missing = [k for k in ("namespace", "object", "relation") if k not in keys]
    if missing:
        raise RelationError(400, f"missing required query parameter {missing[0]!r}")
    depth = max_depth(params)
    tree = ctx.project.relations.expand(SubjectSet(params["namespace"], params["object"], params["relation"]), depth)
    if tree is None:
        raise RelationError(404, "no relation tuple found")
    return json_response(tree)


async def list_namespaces(ctx: Ctx) -> Response:
    return json_response({"namespaces": [{"name": n} for n in ctx.project.relations.namespaces]})


@_guarded
async def create_relationship(ctx: Ctx) -> Response:
    created = tuple_from_json(await _body(ctx))
    ctx.project.relations.write([created])
    location = f"{ctx.project.base_url}/relation-tuples?{urlencode(_as_query(created))}"
    return json_response(created.as_json(), 201, {"Location": location})


def _as_query(r: Relationship) -> dict[str, str]:
    query = {"namespace": r.namespace, "object": r.object, "relation": r.relation}
    if r.subject_set is not None:
        query |= {f"subject_set.{k}": v for k, v in r.subject_set.as_json().items()}
    else:
        query["subject_id"] = str(r.subject_id)
    return query


@_guarded
async def patch_relationships(ctx: Ctx) -> Response:
    deltas = await _body(ctx)
    if not isinstance(deltas, list):
        raise RelationError(400, "could not unmarshal json: the body must be a list of patches")
    inserts: list[Relationship] = []
    deletes: list[Relationship] = []
    for delta in deltas:
        if not isinstance(delta, dict) or delta.get("relation_tuple") is None:
            raise RelationError(400, "relation_tuple is missing")
        action = delta.get("action")
        if action not in ("insert", "delete"):
            raise RelationError(400, f"unknown action {action}")
        (inserts if action == "insert" else deletes).append(tuple_from_json(delta["relation_tuple"]))
    ctx.project.relations.write(inserts, deletes)
    return Response(status_code=204)


@_guarded
async def delete_relationships(ctx: Ctx) -> Response:
    params, keys = _params(ctx)
    ctx.project.relations.delete(query_from_params(params, keys))
    return Response(status_code=204)
