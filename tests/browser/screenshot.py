"""The README's picture of the demo dashboard, taken in Debian Chromium.

    .venv/bin/python -m tests.browser.screenshot [--out docs/dashboard.png]

Starts the seed world (emulator, Durably, the dashboard page, the gateway: as the tests
do), triggers a few runs for alice (org-acme) and one for bob (org-globex, which her page
must not show), signs alice in through the real login page (she lands on org-acme's page),
triggers one more run from the page, waits for its progress, and saves the screenshot.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.support.browser import chromium, sign_in
from tests.support.world import start_world

ROOT = Path(__file__).resolve().parents[2]


def trigger(url: str, token: str, job: str, payload: dict[str, object]) -> None:
    body = {"jobName": job, "input": payload}
    resp = httpx.post(f"{url}/customer/api/durably/trigger", json=body, headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()
    with start_world() as world, chromium() as browser:
        alice, bob = world.session("alice"), world.session("bob")
        trigger(world.url, alice, "send-report", {"reportId": "weekly", "steps": 2})
        trigger(world.url, alice, "failing-task", {"message": "printer on fire"})
        trigger(world.url, bob, "send-report", {"reportId": "globex-only"})
        time.sleep(2)  # let those finish: the page shows finished and running runs
        page = browser.new_page(viewport={"width": 1200, "height": 640}, device_scale_factor=1)
        sign_in(page, world.url, "alice@acme.example", "alice-password")
        page.wait_for_url(f"{world.url}/customer/orgs/org-acme/")
        expect(page.locator("#live")).to_have_text("live")
        trigger(world.url, alice, "long-task", {"durationMs": 8000})
        page.select_option("#job", "send-report")
        page.click("#trigger")
        expect(page.locator("#notice")).to_contain_text("Triggered")
        expect(page.locator('#runs tr[data-status="leased"]').first).to_be_visible(timeout=15_000)
        time.sleep(1.0)
        page.screenshot(path=str(args.out), full_page=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
