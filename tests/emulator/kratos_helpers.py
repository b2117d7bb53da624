"""Small helpers for Kratos tests: native and browser logins, flows, TOTP codes, cookies."""

from __future__ import annotations

from typing import Any

import httpx
import pyotp

from tests.support.emulator import RunningEmulator


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


def totp_now(emu: RunningEmulator, secret: str) -> str:
    """The code an authenticator app shows at the emulator's clock (which tests may move)."""
    now = emu.control("GET", "clock").json()["now_unix"]
    return pyotp.TOTP(secret).at(int(now))


def csrf_of(flow: dict[str, Any]) -> str:
    return str(next(n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"]["name"] == "csrf_token"))


def node_names(flow: dict[str, Any]) -> list[tuple[str, str]]:
    """(group, name) of every node, in order."""
    return [(n["group"], n["attributes"]["name"]) for n in flow["ui"]["nodes"]]


def set_cookie(response: httpx.Response, name: str) -> str | None:
    """The Set-Cookie header for cookie `name`, if the response has one."""
    return next((c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")), None)


def json_flow(client: httpx.Client, query: str = "") -> httpx.Response:
    """A browser flow created by a JSON client (an SPA)."""
    return client.get(f"/self-service/login/browser{query}", headers={"Accept": "application/json"})
