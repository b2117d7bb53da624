"""Step-up in a real browser (Debian Chromium): erin (a TOTP second factor, on the demo's
customer project where whoami refuses an aal1 session) signs in with her password only, opens
a page behind a second factor (`/customer/account`, policies/step-up.yaml), is sent to the
second factor by the gateway, gives her code and lands back on that page; later, with a
sign-in too old for the route's `max_age`, she is asked for her password again and comes back
the same way."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.world import World

ERIN = ("erin@acme.example", "erin-password")
ERIN_ID = "66666666-6666-4666-8666-666666666666"


def account(page: Page) -> dict[str, object]:
    """What the account page (built-in `me`, JSON) says, as the browser shows it."""
    shown = json.loads(page.locator("body").inner_text())
    return {key: shown[key] for key in ("subject", "aal", "organization")}


def password_only(context: BrowserContext, world: World) -> Page:
    """erin signs in at Kratos with her password and leaves at the second-factor form."""
    page = context.new_page()
    page.goto(f"{world.emulator.base_url}/customer/self-service/login/browser")
    page.wait_for_url("**/customer/ui/login?flow=*")
    page.fill("input[name=identifier]", ERIN[0])
    page.fill("input[name=password]", ERIN[1])
    page.click("button[name=method][value=password]")
    expect(page.locator("input[name=totp_code]")).to_be_visible()  # Kratos asks for it at once
    return page


def give_totp_code(page: Page, world: World) -> None:
    code = world.emulator.control("GET", "projects/customer/identities/erin@acme.example/totp").json()["code"]
    page.fill("input[name=totp_code]", code)
    page.click("button[name=method][value=totp]")


@pytest.fixture
def context(browser: Browser) -> BrowserContext:
    return browser.new_context()


def test_erin_is_sent_to_her_second_factor_and_back_to_the_page(context: BrowserContext, world: World) -> None:
    page = password_only(context, world)
    with page.expect_response(lambda r: r.url.startswith(world.url)) as sent:
        page.goto(f"{world.url}/customer/account?tab=keys")
    # whoami refused her aal1 session: the gateway sent her to the login asking for a second factor
    back = quote(f"{world.url}/customer/account?tab=keys", safe="")
    assert sent.value.status == 303
    assert sent.value.headers["location"] == (
        f"{world.emulator.base_url}/customer/self-service/login/browser?aal=aal2&return_to={back}"
    )
    page.wait_for_url(f"{world.emulator.base_url}/customer/ui/login?flow=*")
    expect(page.locator("input[name=totp_code]")).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_count(0)
    give_totp_code(page, world)
    page.wait_for_url(f"{world.url}/customer/account?tab=keys")
    assert account(page) == {"subject": ERIN_ID, "aal": "aal2", "organization": "org-acme"}  # the page, for her
    context.close()


def test_an_old_sign_in_is_asked_for_the_password_again_and_comes_back(context: BrowserContext, world: World) -> None:
    page = password_only(context, world)
    give_totp_code(page, world)
    page.wait_for_url("**/customer/ui/welcome")  # signed in with both factors, no return_to
    cookie = next(c for c in context.cookies() if c["name"] == "ory_session_customer")
    whoami = world.client().get(
        f"{world.emulator.base_url}/customer/sessions/whoami",
        headers={"Cookie": f"ory_session_customer={cookie['value']}"},
    )
    world.emulator.control("PATCH", f"projects/customer/sessions/{whoami.json()['id']}", {"authenticated_ago": 3600})
    with page.expect_response(lambda r: r.url.startswith(world.url)) as sent:
        page.goto(f"{world.url}/customer/account")  # the route wants a sign-in within 15 minutes
    assert sent.value.status == 303 and "refresh=true" in sent.value.headers["location"]
    page.wait_for_url(f"{world.emulator.base_url}/customer/ui/login?flow=*")
    expect(page.locator("input[name=password]")).to_be_visible()
    page.fill("input[name=password]", ERIN[1])
    page.click("button[name=method][value=password]")
    page.wait_for_url(f"{world.url}/customer/account")
    assert account(page)["aal"] == "aal2"
    context.close()
