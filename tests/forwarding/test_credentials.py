"""The credential the gateway consumed never reaches the upstream: it gets the assertion instead."""

from __future__ import annotations

from tests.support.procs import header_values
from tests.support.world import World


def _last(world: World) -> dict[str, object]:
    seen = world.inventory.requests()
    assert len(seen) == 1
    return seen[0]


def test_bearer_token_is_not_forwarded(world: World) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    world.inventory.clear()
    with world.client() as http:
        resp = http.get("/dealer/partner-api/inventory", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    seen = _last(world)
    assert header_values(seen, "authorization") == []
    assert token not in str(seen["headers"])
    assert len(header_values(seen, "x-identity-assertion")) == 1


def test_session_cookie_is_removed_and_other_cookies_kept(world: World) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    world.inventory.clear()
    with world.client() as http:
        resp = http.get(
            "/dealer/partner-api/inventory",
            headers={
                "Authorization": f"Bearer {token}",
                "Cookie": "theme=dark; ory_session_dealer=stolen-looking; lang=en",
            },
        )
    assert resp.status_code == 200, resp.text
    seen = _last(world)
    assert header_values(seen, "cookie") == ["theme=dark; lang=en"]


def test_session_token_header_is_not_forwarded(world: World) -> None:
    world.durably.recorder.clear()
    session = world.session("alice")
    with world.client() as http:
        resp = http.get("/customer/api/durably/runs", headers={"X-Session-Token": session})
    assert resp.status_code == 200, resp.text
    seen = world.durably.recorder.requests()
    assert len(seen) == 1
    assert seen[0].header("x-session-token") == []
    assert session not in str(seen[0].headers)
