"""Debian's Chromium, driven by Playwright (never a downloaded browser).

    with chromium() as browser:                 # one headless browser, fresh profile
        page = browser.new_page()

`signed_in(browser, gateway_url, email, password)` signs a person in through the real
pages (gateway -> emulator login page -> back) and returns the context, cookies and all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

EXECUTABLE = Path("/usr/bin/chromium")
#: the closed network refuses Chromium's own background connections: keep it from trying
FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium with a fresh profile (Playwright makes a new user-data-dir per launch)."""
    if not EXECUTABLE.exists():
        raise RuntimeError(f"{EXECUTABLE} is missing: run scripts/setup (it installs Debian's chromium)")
    flags = [*FLAGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(EXECUTABLE), headless=True, args=flags)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(
    page: Page, gateway_url: str, email: str, password: str, tenant: str = "customer", *, stay: bool = True
) -> None:
    """Open the dashboard; the gateway sends the browser to the login page; sign in; back
    (to the organization picker, or the person's only organization's page). With `stay`
    False, the way back ends at a blank page instead of the dashboard."""
    home = f"{gateway_url}/{tenant}/"
    page.goto(home)
    page.wait_for_url("**/ui/login?flow=*")
    if not stay:
        page.route(home, lambda route: route.fulfill(status=200, content_type="text/html", body="<p>signed in</p>"))
    page.fill("input[name=identifier]", email)
    page.fill("input[name=password]", password)
    page.click("button[name=method]")
    page.wait_for_url(f"{gateway_url}/{tenant}/**")


def signed_in(browser: Browser, gateway_url: str, email: str, password: str) -> BrowserContext:
    """A browser context holding the session cookie. The page that signed in never loads the
    dashboard: it would open event streams, and closing a page with streams still opening has
    hung Chromium for minutes on a loaded machine."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, gateway_url, email, password, stay=False)
    page.close()
    return context
