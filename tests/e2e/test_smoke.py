"""The seed scenario end to end: real gateway, real emulator, real Durably."""

from __future__ import annotations

import json

from tests.support.world import World


def test_member_triggers_and_durably_receives_her_labels(world: World) -> None:
    world.durably.recorder.clear()
    with world.client() as http:
        resp = http.post(
            "/customer/api/durably/trigger",
            headers=world.bearer("alice"),
            json={"jobName": "send-report", "input": {}},
        )
    assert resp.status_code == 200, resp.text
    seen = [r for r in world.durably.recorder.requests() if r.path.startswith("/api/durably/trigger")]
    assert len(seen) == 1
    body = json.loads(seen[0].body)
    assert body["labels"] == {"organizationId": "org-acme", "tenant": "customer"}
    assert seen[0].header("x-org-id") == ["org-acme"]
    assert seen[0].header("x-tenant") == ["customer"]


def test_no_credentials_is_401_and_nothing_is_forwarded(world: World) -> None:
    world.durably.recorder.clear()
    with world.client() as http:
        resp = http.get("/customer/api/durably/runs")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Bearer realm="customer"'
    assert resp.json()["error"] == "unauthenticated"
    assert world.durably.recorder.requests() == []
