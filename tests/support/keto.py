"""An in-process Keto for unit tests (`httpx.MockTransport`): direct tuples only, every call
recorded, and a `fault` to answer instead. The emulator (gateway.emulator.relations) is the
faithful one; end-to-end tests use it.

    keto = FakeKeto({("Organization", "org-a", "member", "u1")})
    client = KetoClient(keto_tenant(), keto.client())
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.config.settings import TenantSettings
from tests.authn.fakes import tenant

BASE = "http://keto.a.test"
Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def keto_tenant(**overrides: Any) -> TenantSettings:
    return tenant(keto_read_url=BASE, keto_token="keto-token", **overrides)


@dataclass
class FakeKeto:
    tuples: set[tuple[str, str, str, str]] = field(default_factory=set)
    fault: Reply | None = None
    seen: list[httpx.Request] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def calls(self, path: str) -> int:
        return sum(1 for r in self.seen if r.url.path == path)

    def handle(self, req: httpx.Request) -> httpx.Response:
        self.seen.append(req)
        if self.fault is not None:
            return self.fault(req) if callable(self.fault) else self.fault
        if req.url.path == "/relation-tuples/check":
            q = req.url.params
            allowed = (q["namespace"], q["object"], q["relation"], q["subject_id"]) in self.tuples
            return httpx.Response(200 if allowed else 403, json={"allowed": allowed})
        if req.url.path == "/relation-tuples/batch/check":
            wanted = json.loads(req.content)["tuples"]
            key = ("namespace", "object", "relation", "subject_id")
            return httpx.Response(
                200, json={"results": [{"allowed": tuple(t[k] for k in key) in self.tuples} for t in wanted]}
            )
        if req.url.path == "/relation-tuples":
            q = req.url.params
            found = [t for t in sorted(self.tuples) if t[0] == q["namespace"] and t[3] == q["subject_id"]]
            rows = [{"namespace": t[0], "object": t[1], "relation": t[2], "subject_id": t[3]} for t in found]
            return httpx.Response(200, json={"relation_tuples": rows, "next_page_token": ""})
        return httpx.Response(404, json={"error": {"code": 404, "message": "not found"}})
