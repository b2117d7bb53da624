"""Sessions whose cookie Kratos refreshes, made with the emulator's control hooks and the admin API.

name, old = extended_session(emulator, "shop", "quinn@shop.test", "quinn-password", admin_token)
# whoami now answers `old` with Set-Cookie: a fresh cookie, good until the new expiry
attributes(set_cookie)   # its attributes by lower-case name, the dates left out
"""

from __future__ import annotations

import httpx

from tests.support.emulator import RunningEmulator
from tests.support.seed import browser_login


def extended_session(
    emulator: RunningEmulator, project: str, identifier: str, password: str, admin_token: str
) -> tuple[str, str]:
    """A browser's session cookie (name, value), its session then moved to the brink of expiry
    and extended by the admin API: the cookie records an expiry before the session's."""
    name, old = browser_login(emulator.base_url, project, identifier, password)
    base = emulator.project_url(project)
    session_id = httpx.get(f"{base}/sessions/whoami", headers={"Cookie": f"{name}={old}"}).json()["id"]
    emulator.control("PATCH", f"projects/{project}/sessions/{session_id}", {"expires_in": 120}).raise_for_status()
    extended = httpx.patch(
        f"{base}/admin/sessions/{session_id}/extend", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert extended.status_code == 204, extended.text
    return name, old


def attributes(set_cookie: str) -> dict[str, str]:
    """The cookie's attributes by lower-case name (the dates left out: they move with the clock)."""
    pairs = [part.strip().partition("=") for part in set_cookie.split(";")[1:]]
    return {k.lower(): v for k, _, v in pairs if k.lower() not in ("expires", "max-age")}


def cookie_value(set_cookie: str) -> str:
    """The value a `Set-Cookie` sets."""
    return set_cookie.split(";")[0].partition("=")[2]
