"""The demo dashboard in a real browser (Debian Chromium): the login journey through the
gateway and the emulator's pages, only the caller's organization's runs (against the real
Durably service), a live update over the scoped SSE stream, a viewer refused with the
gateway's error on the page, and signing out."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import sign_in, signed_in
from tests.support.world import World

ALICE = ("alice@acme.example", "alice-password")
CAROL = ("carol@acme.example", "carol-password")
DANA = ("dana@consult.example", "dana-password")  # member of org-acme, viewer of org-globex


@pytest.fixture(scope="module")
def alice(browser: Browser, world: World) -> Iterator[BrowserContext]:
    context = signed_in(browser, world.url, *ALICE)
    yield context
    context.close()


def trigger(world: World, user: str, report: str) -> str:
    """A run triggered through the gateway with the user's session token (not the browser)."""
    body = {"jobName": "send-report", "input": {"reportId": report, "steps": 2}}
    resp = httpx.post(f"{world.url}/customer/api/durably/trigger", json=body, headers=world.bearer(user), timeout=15)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["runId"])


def open_dashboard(context: BrowserContext, world: World) -> Page:
    page = context.new_page()
    page.goto(f"{world.url}/customer/")
    expect(page.locator("#live")).to_have_text("live")  # the SSE stream is open
    return page


def test_login_journey_from_the_gateway_to_the_login_page_and_back(browser: Browser, world: World) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{world.url}/customer/")
    page.wait_for_url(f"{world.emulator.base_url}/customer/ui/login?flow=*")  # 303 from the gateway, then Kratos
    page.fill("input[name=identifier]", ALICE[0])
    page.fill("input[name=password]", "wrong-password")
    page.click("button[name=method]")
    expect(page.locator(".message.error")).to_contain_text("The provided credentials are invalid")
    expect(page.locator("input[name=identifier]")).to_have_value(ALICE[0])
    page.fill("input[name=password]", ALICE[1])
    page.click("button[name=method]")
    page.wait_for_url(f"{world.url}/customer/")
    expect(page.locator("#org")).to_have_text("org-acme")
    expect(page.locator("#roles")).to_have_text("member")
    assert any(c["name"] == "ory_session_customer" for c in context.cookies())
    context.close()


def test_the_dashboard_shows_only_the_callers_organization(alice: BrowserContext, world: World) -> None:
    mine = trigger(world, "alice", "alice-list")
    theirs = trigger(world, "bob", "bob-list")
    page = open_dashboard(alice, world)
    expect(page.locator(f'#runs tr[data-run-id="{mine}"]')).to_have_count(1)
    orgs = page.locator("#runs tr[data-run-id]").evaluate_all("rows => rows.map(r => r.dataset.org)")
    assert orgs and set(orgs) == {"org-acme"}
    expect(page.locator(f'#runs tr[data-run-id="{theirs}"]')).to_have_count(0)
    # Durably itself holds both runs: the gateway is what keeps bob's out of alice's page
    listed = httpx.get(f"{world.durably.api_url}/runs", params={"limit": 500}, timeout=10).json()
    assert {mine, theirs} <= {run["id"] for run in listed}
    page.close()


def test_a_run_triggered_elsewhere_arrives_live_over_sse(alice: BrowserContext, world: World) -> None:
    page = open_dashboard(alice, world)
    run = trigger(world, "alice", "alice-live")
    other = trigger(world, "bob", "bob-live")
    expect(page.locator(f'#events li[data-type="run:trigger"][data-run-id="{run}"]')).to_have_count(1)
    expect(page.locator(f'#runs tr[data-run-id="{run}"]')).to_have_count(1)  # no reload: the event did it
    expect(page.locator(f'#events li[data-run-id="{run}"][data-type="run:complete"]')).to_have_count(1, timeout=15_000)
    expect(page.locator(f'#runs tr[data-run-id="{run}"] .status')).to_have_text("completed")
    assert page.locator(f'#events li[data-run-id="{other}"]').count() == 0  # bob's events never reach alice
    page.close()


def test_a_member_triggers_from_the_page(alice: BrowserContext, world: World) -> None:
    page = open_dashboard(alice, world)
    page.click("#trigger")
    expect(page.locator("#notice")).to_contain_text("Triggered send-report")
    run = page.locator("#notice").inner_text().rsplit("run ", 1)[1].rstrip(")")
    expect(page.locator(f'#runs tr[data-run-id="{run}"]')).to_have_count(1)
    received = [r for r in world.durably.recorder.requests() if r.method == "POST" and r.path.endswith("/trigger")]
    assert '"organizationId":"org-acme"' in received[-1].body  # stamped by the gateway
    page.close()


def test_a_viewer_is_refused_and_sees_the_gateways_error(browser: Browser, world: World) -> None:
    context = signed_in(browser, world.url, *CAROL)
    page = open_dashboard(context, world)
    expect(page.locator("#roles")).to_have_text("viewer")
    before = len(world.durably.recorder.requests())
    page.click("#trigger")
    expect(page.locator("#notice")).to_contain_text("Refused by the gateway: 403 forbidden")
    assert page.locator("#notice").get_attribute("class") == "error"
    after = world.durably.recorder.requests()[before:]
    assert not [r for r in after if r.path.endswith("/trigger")], "the viewer's trigger reached Durably"
    context.close()


def test_a_person_of_two_organizations_chooses_one_and_acts_with_its_role(browser: Browser, world: World) -> None:
    acme = trigger(world, "alice", "dana-acme")
    globex = trigger(world, "bob", "dana-globex")
    context = signed_in(browser, world.url, *DANA)  # back at /customer/: no organization chosen yet
    page = context.new_page()
    page.goto(f"{world.url}/customer/")
    expect(page.locator("#choose")).to_be_visible()
    expect(page.locator("#trigger")).to_be_hidden()
    page.fill("#choice-org", "org-globex")
    page.click("#choice button")
    page.wait_for_url(f"{world.url}/customer/orgs/org-globex")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#org")).to_have_text("org-globex")
    expect(page.locator("#roles")).to_have_text("viewer")  # her role there, not her role in org-acme
    expect(page.locator(f'#runs tr[data-run-id="{globex}"]')).to_have_count(1)
    orgs = page.locator("#runs tr[data-run-id]").evaluate_all("rows => rows.map(r => r.dataset.org)")
    assert orgs and set(orgs) == {"org-globex"}
    expect(page.locator(f'#runs tr[data-run-id="{acme}"]')).to_have_count(0)
    before = len(world.durably.recorder.requests())
    page.click("#trigger")
    expect(page.locator("#notice")).to_contain_text("Refused by the gateway: 403 forbidden")
    after = world.durably.recorder.requests()[before:]
    assert not [r for r in after if r.path.endswith("/trigger")], "a viewer's trigger reached Durably"
    # the same person in org-acme, where she is a member
    page.goto(f"{world.url}/customer/orgs/org-acme")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#roles")).to_have_text("member")
    page.click("#trigger")
    expect(page.locator("#notice")).to_contain_text("Triggered send-report")
    received = [r for r in world.durably.recorder.requests() if r.method == "POST" and r.path.endswith("/trigger")]
    assert '"organizationId":"org-acme"' in received[-1].body
    run = page.locator("#notice").inner_text().rsplit("run ", 1)[1].rstrip(")")
    expect(page.locator(f'#events li[data-type="run:trigger"][data-run-id="{run}"]')).to_have_count(1)
    # an organization she does not belong to: the gateway refuses the page itself
    refused = page.goto(f"{world.url}/customer/orgs/org-initech")
    assert refused is not None and refused.status == 403
    assert refused.json()["reason"] == "not_a_member"
    context.close()


def test_sign_out_ends_the_session(browser: Browser, world: World) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, world.url, *ALICE)
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "ory_session_customer")
    page.click("#logout button")
    page.wait_for_url(f"{world.emulator.base_url}/customer/ui/login?flow=*")  # back at the dashboard: no session
    assert not any(c["name"] == "ory_session_customer" for c in context.cookies())
    replay = httpx.get(
        f"{world.url}/customer/api/durably/runs", headers={"Cookie": f"ory_session_customer={cookie}"}, timeout=10
    )
    assert replay.status_code == 401  # revoked at Kratos and forgotten by the gateway's cache at once
    whoami = httpx.get(
        f"{world.emulator.project_url('customer')}/sessions/whoami", cookies={"ory_session_customer": cookie}
    )
    assert whoami.status_code == 401
    context.close()
