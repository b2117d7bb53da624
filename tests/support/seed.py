"""The seed world's names for tests: tenants, Ory API keys, people and OAuth2 clients of
gateway/demo/seed.yaml, the gateway's environment for it, and log-ins through the
emulator's real Kratos and Hydra flows.

The demo ships the seed, its tenants, the gateway environment and the native log-in
(gateway.demo.world); they are taken from there, so tests run what `gateway demo` runs.
"""

from __future__ import annotations

import httpx

from gateway.demo.world import API_KEYS, SEED, TENANTS, USERS, client_token, gateway_env, login

__all__ = [
    "API_KEYS",
    "CLIENTS",
    "PASSWORDS",
    "SEED",
    "TENANTS",
    "browser_login",
    "client_token",
    "gateway_env",
    "login",
]

#: user -> (tenant, identifier, password): the demo's users and the others the seed holds
PASSWORDS = USERS | {
    "carol": ("customer", "carol@acme.example", "carol-password"),
    "nora": ("customer", "nora@nowhere.example", "nora-password"),
    "sam": ("admin", "sam@platform.example", "sam-password"),
    "eve": ("admin", "eve@platform.example", "eve-password"),
    "ada": ("admin", "ada@platform.example", "ada-password"),
    "dave": ("dealer", "dave@dealer.example", "dave-password"),
}
#: client id -> (tenant, secret)
CLIENTS = {
    "partner-inventory": ("dealer", "partner-inventory-secret"),
    "partner-jwt": ("dealer", "partner-jwt-secret"),
    "dealer-gateway": ("dealer", "dealer-gateway-secret"),
    "customer-gateway": ("customer", "customer-gateway-secret"),
    "partner-post": ("dealer", "partner-post-secret"),
    "admin-ops": ("admin", "admin-ops-secret"),
}


def browser_login(emulator_url: str, tenant: str, identifier: str, password: str) -> tuple[str, str]:
    """Kratos browser login flow, as a page's script would run it: the session cookie (name, value)."""
    base = f"{emulator_url}/{tenant}"
    with httpx.Client(headers={"accept": "application/json"}) as browser:
        flow = browser.get(f"{base}/self-service/login/browser").json()
        csrf = next(n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"]["name"] == "csrf_token")
        body = {"method": "password", "identifier": identifier, "password": password, "csrf_token": csrf}
        browser.post(f"{base}/self-service/login", params={"flow": flow["id"]}, json=body).raise_for_status()
        return next((c.name, c.value or "") for c in browser.cookies.jar if c.name.startswith("ory_session_"))
