"""GATEWAY_TRUSTED_PROXIES: forwarded headers believed only from listed peers."""

from __future__ import annotations

import httpx

from tests.support.ops import Replica, access_lines
from tests.support.polling import eventually

SPOOFED = {
    "X-Forwarded-Host": "admin.example",  # another tenant's host
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Request-Id": "from-the-proxy-0001",
}


def _line(replica: Replica, rid: str) -> dict[str, object]:
    eventually(lambda: any(line["request_id"] == rid for line in access_lines(replica.output())))
    return next(line for line in access_lines(replica.output()) if line["request_id"] == rid)


def test_forwarded_host_client_and_request_id_believed_from_a_trusted_proxy(replica_a: Replica) -> None:
    resp = httpx.get(replica_a.url + "/api/durably/runs", headers=SPOOFED)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith('Bearer realm="admin"')  # routed by X-Forwarded-Host
    assert resp.headers["x-request-id"] == "from-the-proxy-0001"
    line = _line(replica_a, "from-the-proxy-0001")
    assert (line["tenant"], line["client"]) == ("admin", "203.0.113.9")


def test_forwarded_headers_ignored_from_an_untrusted_peer(replica_b: Replica) -> None:
    resp = httpx.get(replica_b.url + "/api/durably/runs", headers=SPOOFED)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith('Bearer realm="customer"')  # the default tenant
    rid = resp.headers["x-request-id"]
    assert rid != "from-the-proxy-0001"
    line = _line(replica_b, rid)
    assert (line["tenant"], line["client"]) == ("customer", "127.0.0.1")


def test_the_real_host_header_still_routes_from_anyone(replica_b: Replica) -> None:
    resp = httpx.get(replica_b.url + "/api/durably/runs", headers={"Host": "Admin.Example."})
    assert resp.headers["www-authenticate"].startswith('Bearer realm="admin"')
