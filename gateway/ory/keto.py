"""Ory Permissions (Keto) through the Ory boundary: checks, batch checks, and listing a
subject's direct tuples in one namespace.

Every call goes through `gateway.ory.http.ory_request` (errors translated once, tracing).
Tuples are sent as structured parameters: query parameters built by httpx for
`GET /relation-tuples/check`, a JSON document built by orjson for the batch check; nothing
is spliced into a URL or a JSON text.

Fail closed, and never a default allow: a check allows only on **200 with `allowed` exactly
`true`**. A real deny is 403 `{"allowed": false}` (the status mirrors the answer on
`/relation-tuples/check`). Keto down, slow, 5xx, garbage, a body of the wrong shape, any
other status, and Keto's 429 all become `ServiceUnavailable` (503, Retry-After): a
permission outage is not the caller's rate limit. A batch result carrying an error (Keto
reports an unknown namespace that way) is an outage too, never a cacheable deny.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import httpx
import orjson

from gateway.config.settings import TenantSettings
from gateway.errors import ServiceUnavailable
from gateway.ory.http import OUTAGE_RETRY_AFTER, json_object, ory_request, retry_after, unexpected, wrong_shape
from gateway.ory.pool import OryPool

SERVICE = "keto"
#: Keto's default `limit.max_batch_check_size`
BATCH_LIMIT = 10
PAGE_SIZE = 250
MAX_PAGES = 4


class RelationTuple(NamedTuple):
    namespace: str
    object: str
    relation: str
    subject_id: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.object}#{self.relation}@{self.subject_id}"


class KetoClient:
    """One tenant's Keto read API (`KETO_READ_URL`; cloud: the project URL and API key)."""

    def __init__(self, tenant: TenantSettings, http: OryPool) -> None:
        if tenant.keto_read_url is None:
            raise ValueError(f"tenant {tenant.name} has no KETO_READ_URL")
        self._base = tenant.keto_read_url.rstrip("/")
        self._http = http
        self._timeout = tenant.timeout
        self._headers = {"accept": "application/json"}
        if tenant.keto_token:
            self._headers["authorization"] = f"Bearer {tenant.keto_token}"

    async def check(self, tuple_: RelationTuple) -> bool:
        """True only when Keto answers 200 with `allowed: true`."""
        response = await self._send("GET", "/relation-tuples/check", params=tuple_._asdict())
        if response.status_code not in (200, 403):
            raise unexpected(response, SERVICE)
        allowed = json_object(response, SERVICE).get("allowed")
        if not isinstance(allowed, bool) or (allowed and response.status_code != 200):
            raise wrong_shape(SERVICE, "a check result")
        return allowed

    async def batch_check(self, tuples: Sequence[RelationTuple]) -> list[bool]:
        """One answer per tuple, in order (`BATCH_LIMIT` tuples per call)."""
        answers: list[bool] = []
        for start in range(0, len(tuples), BATCH_LIMIT):
            chunk = tuples[start : start + BATCH_LIMIT]
            body = orjson.dumps({"tuples": [t._asdict() for t in chunk]})
            response = await self._send("POST", "/relation-tuples/batch/check", content=body)
            if response.status_code != 200:
                raise unexpected(response, SERVICE)
            answers += _batch_results(json_object(response, SERVICE), len(chunk))
        return answers

    async def objects(
        self, namespace: str, subject_id: str, relations: frozenset[str] | None = None, enough: int = 2
    ) -> list[str]:
        """Objects of `namespace` the subject has a direct tuple on (with one of `relations`, if
        given): stops at `enough` distinct ones (or after `MAX_PAGES` pages; the caller only
        needs to tell none, one, several)."""
        found: list[str] = []
        token = ""
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"namespace": namespace, "subject_id": subject_id, "page_size": PAGE_SIZE}
            if token:
                params["page_token"] = token
            response = await self._send("GET", "/relation-tuples", params=params)
            if response.status_code != 200:
                raise unexpected(response, SERVICE)
            page, token = _page(json_object(response, SERVICE), namespace, subject_id, relations)
            found.extend(dict.fromkeys(o for o in page if o not in found))
            if len(found) >= enough or not token:
                break
        return found

    async def _send(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, content: bytes | None = None
    ) -> httpx.Response:
        headers = self._headers if content is None else {**self._headers, "content-type": "application/json"}
        response = await ory_request(
            self._http,
            method,
            self._base + path,
            service=SERVICE,
            timeout=self._timeout,
            headers=headers,
            params=params,
            content=content,
            relay_rate_limit=True,
        )
        if response.status_code == 429:  # a permission outage, not the caller's rate limit
            raise ServiceUnavailable(
                "the permission service (keto) is rate limiting, retry later",
                retry_after=retry_after(response, OUTAGE_RETRY_AFTER),
                reason="keto_rate_limited",
            )
        return response


def _batch_results(doc: dict[str, Any], expected: int) -> list[bool]:
    results = doc.get("results")
    if not isinstance(results, list) or len(results) != expected:
        raise wrong_shape(SERVICE, "a batch check result")
    answers: list[bool] = []
    for item in results:
        allowed = item.get("allowed") if isinstance(item, dict) else None
        if not isinstance(allowed, bool):
            raise wrong_shape(SERVICE, "a batch check result")
        if item.get("error"):
            raise wrong_shape(SERVICE, "a batch check result with an error")
        answers.append(allowed)
    return answers


def _page(
    doc: dict[str, Any], namespace: str, subject_id: str, relations: frozenset[str] | None
) -> tuple[list[str], str]:
    tuples, token = doc.get("relation_tuples"), doc.get("next_page_token", "")
    if not isinstance(tuples, list) or not isinstance(token, str):
        raise wrong_shape(SERVICE, "a relationship list")
    objects: list[str] = []
    for t in tuples:
        if not isinstance(t, dict) or not isinstance(t.get("object"), str):
            raise wrong_shape(SERVICE, "a relationship list")
        mine = t.get("namespace") == namespace and t.get("subject_id") == subject_id
        if mine and (relations is None or t.get("relation") in relations):
            objects.append(t["object"])
    return objects, token
