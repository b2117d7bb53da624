"""Small helpers for Kratos tests: native and browser logins."""

from __future__ import annotations

from typing import Any

import httpx


def api_login(client: httpx.Client, identifier: str, password: str) -> dict[str, Any]:
    flow = client.get("/self-service/login/api").json()
    response = client.post(
        f"/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": identifier, "password": password},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def browser_login(client: httpx.Client, identifier: str, password: str) -> httpx.Response:
    """Browser flow via form posts; returns the final (303) response carrying Set-Cookie."""
    start = client.get("/self-service/login/browser", headers={"Accept": "application/json"})
    flow = start.json()
    csrf = next(n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"]["name"] == "csrf_token")
    form = {"method": "password", "identifier": identifier, "password": password, "csrf_token": csrf}
    return client.post(f"/self-service/login?flow={flow['id']}", data=form)
