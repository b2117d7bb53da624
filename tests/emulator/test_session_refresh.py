"""Session extension (`PATCH /admin/sessions/{id}/extend`, `earliest_possible_extend`), the
cookie whoami refreshes afterwards, the session cookie's attributes, and `Ory-Session-Cache-For`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import ory_client
import pytest

from tests.support.emulator import RunningEmulator, start_emulator

from .conftest import REFRESHER_KEY
from .kratos_helpers import api_login, browser_login, set_cookie
from .oryspec import SpecChecker, parsed

ADMIN = {"Authorization": f"Bearer {REFRESHER_KEY}"}
COOKIE = "ory_session_refresher"


def _signed_in(refresher: httpx.Client) -> tuple[str, str]:
    """(Cookie header value, session id) of a fresh browser login of rita."""
    login = browser_login(refresher, "rita@example.com", "rita-pass-1")
    cookie = (set_cookie(login, COOKIE) or "").partition(";")[0]
    session = refresher.get("/sessions/whoami", headers={"Cookie": cookie}).json()
    return cookie, session["id"]


def _expires_in(refresher: httpx.Client, session_id: str, emu: RunningEmulator) -> float:
    session = parsed(ory_client.Session, refresher.get(f"/admin/sessions/{session_id}", headers=ADMIN).text)
    assert session.expires_at is not None
    return session.expires_at.timestamp() - float(emu.control("GET", "clock").json()["now_unix"])


def test_cookie_attributes(refresher: httpx.Client) -> None:
    login = browser_login(refresher, "rita@example.com", "rita-pass-1")
    header = set_cookie(login, COOKIE) or ""
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")[1:]}
    assert attributes["path"] == "Path=/" and attributes["domain"] == "Domain=example.test"
    assert attributes["samesite"] == "SameSite=Strict" and "httponly" in attributes
    assert "secure" not in attributes  # an http project
    assert int(attributes["max-age"].split("=")[1]) in (3599, 3600) and "expires" in attributes


def test_extend_respects_earliest_possible_extend(
    emu: RunningEmulator, refresher: httpx.Client, spec: SpecChecker
) -> None:
    cookie, session_id = _signed_in(refresher)
    early = spec.check(refresher.patch(f"/admin/sessions/{session_id}/extend", headers=ADMIN))
    assert early.status_code == 204 and early.content == b""
    assert 3500 < _expires_in(refresher, session_id, emu) <= 3600  # 1h left, window 10m: unchanged
    unchanged = refresher.get("/sessions/whoami", headers={"Cookie": cookie})
    assert unchanged.status_code == 200 and set_cookie(unchanged, COOKIE) is None
    emu.control("PATCH", f"projects/refresher/sessions/{session_id}", {"expires_in": 300})
    assert set_cookie(refresher.get("/sessions/whoami", headers={"Cookie": cookie}), COOKIE) is None
    extended = refresher.patch(f"/admin/sessions/{session_id}/extend", headers=ADMIN)
    assert extended.status_code == 204
    assert 3590 < _expires_in(refresher, session_id, emu) <= 3600


def test_whoami_refreshes_the_cookie_of_an_extended_session(emu: RunningEmulator, refresher: httpx.Client) -> None:
    old_cookie, session_id = _signed_in(refresher)
    emu.control("PATCH", f"projects/refresher/sessions/{session_id}", {"expires_in": 120})
    refresher.patch(f"/admin/sessions/{session_id}/extend", headers=ADMIN)
    refreshed = refresher.get("/sessions/whoami", headers={"Cookie": old_cookie})
    assert refreshed.status_code == 200
    header = set_cookie(refreshed, COOKIE)
    assert header is not None and re.search(r"Max-Age=(3599|3600)", header)
    assert "Domain=example.test" in header and "SameSite=Strict" in header and "HttpOnly" in header
    new_cookie = header.partition(";")[0]
    assert new_cookie != old_cookie
    again = refresher.get("/sessions/whoami", headers={"Cookie": new_cookie})
    assert again.status_code == 200 and again.json()["id"] == session_id and set_cookie(again, COOKIE) is None
    # the old cookie still names the session: every use of it is answered with a fresh cookie
    assert set_cookie(refresher.get("/sessions/whoami", headers={"Cookie": old_cookie}), COOKIE) is not None


def test_token_sessions_never_get_a_cookie(emu: RunningEmulator, refresher: httpx.Client) -> None:
    login = api_login(refresher, "rita@example.com", "rita-pass-1")
    session_id, token = login["session"]["id"], login["session_token"]
    emu.control("PATCH", f"projects/refresher/sessions/{session_id}", {"expires_in": 60})
    refresher.patch(f"/admin/sessions/{session_id}/extend", headers=ADMIN)
    whoami = refresher.get("/sessions/whoami", headers={"X-Session-Token": token})
    assert whoami.status_code == 200 and "set-cookie" not in whoami.headers


def test_extend_errors_and_sdk(emu: RunningEmulator, refresher: httpx.Client, spec: SpecChecker) -> None:
    bad = spec.check(refresher.patch("/admin/sessions/not-a-uuid/extend", headers=ADMIN))
    assert bad.status_code == 400
    missing = spec.check(refresher.patch("/admin/sessions/00000000-0000-4000-8000-000000000000/extend", headers=ADMIN))
    assert missing.status_code == 404
    assert refresher.patch("/admin/sessions/00000000-0000-4000-8000-000000000000/extend").status_code == 401
    _, session_id = _signed_in(refresher)
    emu.control("PATCH", f"projects/refresher/sessions/{session_id}", {"expires_in": 30})
    config = ory_client.Configuration(host=emu.project_url("refresher"), access_token=REFRESHER_KEY)
    assert ory_client.IdentityApi(ory_client.ApiClient(config)).extend_session(session_id) is None
    assert _expires_in(refresher, session_id, emu) > 3500


def test_cache_header(emu: RunningEmulator, refresher: httpx.Client, customer: httpx.Client) -> None:
    token = api_login(refresher, "rita@example.com", "rita-pass-1")
    headers = {"X-Session-Token": token["session_token"]}
    assert refresher.get("/sessions/whoami", headers=headers).headers["ory-session-cache-for"] == "300"  # max age 5m
    emu.control("PATCH", f"projects/refresher/sessions/{token['session']['id']}", {"expires_in": 100})
    assert int(refresher.get("/sessions/whoami", headers=headers).headers["ory-session-cache-for"]) in (99, 100)
    assert "ory-session-cache-for" not in refresher.get("/sessions/whoami?tokenize_as=jwt", headers=headers).headers
    anonymous = refresher.get("/sessions/whoami")
    assert anonymous.status_code == 401 and anonymous.headers["ory-session-cache-for"] == "60"
    unknown = refresher.get("/sessions/whoami", headers={"X-Session-Token": "ory_st_unknown"})
    assert unknown.status_code == 401 and "ory-session-cache-for" not in unknown.headers
    plain = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    off = customer.get("/sessions/whoami", headers={"X-Session-Token": plain})
    assert off.status_code == 200 and "ory-session-cache-for" not in off.headers
    assert "ory-session-cache-for" not in customer.get("/sessions/whoami").headers


@pytest.fixture(scope="module")
def https_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    seed = tmp_path_factory.mktemp("https") / "seed.yaml"
    seed.write_text(
        "projects:\n  shop:\n    identities:\n      - {traits: {email: s@example.com}, password: s-pass-1}\n"
    )
    with start_emulator(seed=Path(seed), base_url="https://auth.example.test") as running:
        yield running


def test_https_project_sets_secure_cookies(https_emulator: RunningEmulator) -> None:
    with httpx.Client(base_url=https_emulator.project_url("shop"), timeout=10) as shop:
        login = browser_login(shop, "s@example.com", "s-pass-1")
    header = set_cookie(login, "ory_session_shop")
    assert header is not None and "Secure" in header and "SameSite=Lax" in header
