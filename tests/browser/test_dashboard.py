"""The demo dashboard - Durably's own React client (@coji/durably-react) - in Debian Chromium,
through the gateway, against the real Durably (which itself accepts only the gateway's
assertions): the login journey, a run triggered and watched to completion live, retrigger,
cancel and delete, a person of two organizations switching between them and refused as a
viewer with the gateway's error on the page (nothing reaching Durably), a page of another
origin that cannot act, and a session ended elsewhere whose streams end at the next re-check."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import RECHECK_SECONDS
from tests.support.browser import sign_in, signed_in
from tests.support.durably import RecordedRequest
from tests.support.guarded import Guarded
from tests.support.polling import eventually
from tests.support.world import World

ALICE = ("alice@acme.example", "alice-password")
DANA = ("dana@consult.example", "dana-password")  # member of org-acme, viewer of org-globex
ALICE_ID = "11111111-1111-4111-8111-111111111111"
LIVE = 15_000  # ms: what a person would wait for a live update


@pytest.fixture(scope="module")
def alice(browser: Browser, jobs: Guarded) -> Iterator[BrowserContext]:
    context = signed_in(browser, jobs.url, *ALICE)
    yield context
    context.close()


def trigger(jobs: Guarded, world: World, user: str, job: str = "send-report", **payload: object) -> str:
    """A run triggered through the gateway with the user's session token (not the browser)."""
    body = {"jobName": job, "input": payload or {"steps": 2}}
    resp = httpx.post(f"{jobs.url}/customer/api/durably/trigger", json=body, headers=world.bearer(user), timeout=15)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["runId"])


def open_org(context: BrowserContext, jobs: Guarded, org: str) -> Page:
    page = context.new_page()
    page.goto(f"{jobs.url}/customer/orgs/{org}/")
    expect(page.locator("#live")).to_have_text("live")  # the client's streams are open
    return page


def row(page: Page, run: str) -> str:
    return f'#runs tr[data-run-id="{run}"]'


def shown_orgs(page: Page) -> set[str]:
    return set(page.locator("#runs tr[data-run-id]").evaluate_all("rows => rows.map(r => r.dataset.org)"))


def since(jobs: Guarded, count: int) -> list[RecordedRequest]:
    return jobs.durably.recorder.requests()[count:]


def test_login_journey_lands_a_person_of_one_organization_on_its_page(browser: Browser, jobs: Guarded) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{jobs.url}/customer/")
    page.wait_for_url("**/customer/ui/login?flow=*")  # 303 from the gateway, then Kratos' page
    page.fill("input[name=identifier]", ALICE[0])
    page.fill("input[name=password]", "wrong-password")
    page.click("button[name=method]")
    expect(page.locator(".message.error")).to_contain_text("The provided credentials are invalid")
    page.fill("input[name=password]", ALICE[1])
    page.click("button[name=method]")
    page.wait_for_url(f"{jobs.url}/customer/orgs/org-acme/")  # `me` says one organization: straight to it
    expect(page.locator("#org")).to_have_text("org-acme")
    expect(page.locator("#roles")).to_have_text("member")
    expect(page.locator("#live")).to_have_text("live")
    context.close()


def test_alice_triggers_a_run_and_watches_it_complete_live(alice: BrowserContext, jobs: Guarded, world: World) -> None:
    page = open_org(alice, jobs, "org-acme")
    theirs = trigger(jobs, world, "bob")
    page.click("#trigger")
    expect(page.locator("#notice")).to_contain_text("Triggered send-report (run ")
    run = page.locator("#notice").inner_text().rsplit("run ", 1)[1].rstrip(")")
    expect(page.locator(row(page, run))).to_have_count(1, timeout=LIVE)  # no reload: the run list's stream
    expect(page.locator(f"{row(page, run)} .status")).to_have_text("completed", timeout=LIVE)
    expect(page.locator("#current")).to_have_attribute("data-status", "completed")  # useJob's own stream
    assert page.locator(row(page, theirs)).count() == 0 and shown_orgs(page) == {"org-acme"}
    triggers = [r for r in jobs.durably.recorder.requests() if r.path == "/api/durably/trigger"]
    assert json.loads(triggers[-1].body)["labels"] == {"organizationId": "org-acme", "tenant": "customer"}
    page.close()


def test_retrigger_cancel_and_delete_from_the_page(alice: BrowserContext, jobs: Guarded, world: World) -> None:
    done = trigger(jobs, world, "alice", steps=1)
    slow = trigger(jobs, world, "alice", "long-task", durationMs=30000)
    page = open_org(alice, jobs, "org-acme")
    expect(page.locator(f"{row(page, done)} .status")).to_have_text("completed", timeout=LIVE)
    before = {r for r in page.locator("#runs tr[data-run-id]").evaluate_all("rs => rs.map(r => r.dataset.runId)")}
    page.click(f"{row(page, done)} button.retrigger")
    expect(page.locator("#runs tr[data-run-id]")).to_have_count(len(before) + 1, timeout=LIVE)
    expect(page.locator(f"{row(page, slow)} button.cancel")).to_be_visible(timeout=LIVE)
    page.click(f"{row(page, slow)} button.cancel")
    expect(page.locator(f"{row(page, slow)} .status")).to_have_text("cancelled", timeout=LIVE)
    page.click(f"{row(page, done)} button.delete")
    expect(page.locator(row(page, done))).to_have_count(0, timeout=LIVE)
    paths = [(r.method, r.path) for r in jobs.durably.recorder.requests()]
    for op in (("POST", f"retrigger?runId={done}"), ("POST", f"cancel?runId={slow}"), ("DELETE", f"run?runId={done}")):
        assert (op[0], f"/api/durably/{op[1]}") in paths
    page.close()


def test_dana_switches_organizations_and_is_refused_as_a_viewer(browser: Browser, jobs: Guarded, world: World) -> None:
    acme, globex = trigger(jobs, world, "alice"), trigger(jobs, world, "bob")
    context = signed_in(browser, jobs.url, *DANA)
    page = context.new_page()
    page.goto(f"{jobs.url}/customer/")
    expect(page.locator("#choose a.org")).to_have_count(2)  # her memberships, from `me`
    page.click('#choose a.org[data-org="org-globex"]')
    page.wait_for_url(f"{jobs.url}/customer/orgs/org-globex/")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#roles")).to_have_text("viewer")  # her role there, not in org-acme
    expect(page.locator(row(page, globex))).to_have_count(1, timeout=LIVE)
    assert page.locator(row(page, acme)).count() == 0 and shown_orgs(page) == {"org-globex"}
    count = len(jobs.durably.recorder.requests())
    page.click("#trigger")
    refusal = "Refused by the gateway: 403 forbidden (missing_role)"
    expect(page.locator("#notice")).to_contain_text(refusal)
    expect(page.locator("#problem")).to_have_attribute("data-status", "403")
    expect(page.locator(f"{row(page, globex)} .status")).to_have_text("completed", timeout=LIVE)
    page.click(f"{row(page, globex)} button.delete")
    expect(page.locator("#action-refused")).to_contain_text(f"delete: {refusal}")
    writes = [r for r in since(jobs, count) if r.method != "GET"]
    assert writes == [], "a viewer's trigger or delete reached Durably"
    # the same person in org-acme, where she is a member
    page.click('#orgs a[data-org="org-acme"]')
    page.wait_for_url(f"{jobs.url}/customer/orgs/org-acme/")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#roles")).to_have_text("member")
    expect(page.locator(row(page, acme))).to_have_count(1, timeout=LIVE)
    assert page.locator(row(page, globex)).count() == 0 and shown_orgs(page) == {"org-acme"}
    page.click("#trigger")
    expect(page.locator("#notice")).to_contain_text("Triggered send-report")
    triggers = [r for r in since(jobs, count) if r.path == "/api/durably/trigger"]
    assert [json.loads(r.body)["labels"]["organizationId"] for r in triggers] == ["org-acme"]
    refused = page.goto(f"{jobs.url}/customer/orgs/org-initech/")  # not hers: the gateway refuses the page
    assert refused is not None and refused.status == 403 and refused.json()["reason"] == "not_a_member"
    context.close()


def test_a_page_of_another_origin_cannot_act(alice: BrowserContext, jobs: Guarded, elsewhere: str) -> None:
    count = len(jobs.durably.recorder.requests())
    page = alice.new_page()
    page.goto(elsewhere + "/")
    api = f"{jobs.url}/customer/orgs/org-acme/api/durably"
    outcome = page.evaluate(
        """async api => {
            await fetch(api + '/trigger', {method: 'POST', credentials: 'include', mode: 'no-cors',
                body: JSON.stringify({jobName: 'echo', input: {}})}).catch(() => null)
            const cors = await fetch(api + '/runs', {credentials: 'include'}).then(r => 'read', () => 'blocked')
            const events = await new Promise(done => {
                const source = new EventSource(api + '/runs/subscribe', {withCredentials: true})
                source.onopen = () => { source.close(); done('open') }
                source.onerror = () => { source.close(); done('refused') }
            })
            return [cors, events]
        }""",
        api,
    )
    assert outcome == ["blocked", "refused"]  # no CORS answer for a foreign origin: nothing readable
    assert [r for r in since(jobs, count) if r.method == "POST"] == []  # the trigger never reached Durably
    page.close()


def test_a_session_ended_elsewhere_ends_the_pages_streams_and_the_page_says_so(browser: Browser, jobs: Guarded) -> None:
    context = signed_in(browser, jobs.url, *ALICE)
    page = open_org(context, jobs, "org-acme")
    other = context.new_page()  # the same person signs out in another tab
    other.goto(f"{jobs.url}/customer/orgs/org-acme/")
    mark = len(jobs.gateway.output().splitlines())
    other.click("#logout button")
    other.wait_for_url("**/customer/ui/login?flow=*")

    def ended_by_recheck() -> list[dict[str, object]]:
        lines = jobs.gateway.output().splitlines()[mark:]
        logged = [json.loads(line) for line in lines if line.startswith("{")]
        return [
            r
            for r in logged
            if r.get("principal") == ALICE_ID and r.get("stream_end") not in (None, "client_disconnected")
        ]

    # the page's two streams (the run list's, and the trigger panel's) end at their next re-check;
    # the bound leaves room for a loaded machine (the other test worker, Chromium's own work)
    eventually(lambda: len(ended_by_recheck()) >= 2, timeout=RECHECK_SECONDS * 6, what="the streams to end")
    expect(page.locator("#live")).to_have_text("stream ended", timeout=LIVE)
    expect(page.locator("#problem")).to_have_attribute("data-status", "401", timeout=LIVE)
    expect(page.locator("#problem")).to_contain_text("Your session has ended")
    context.close()


def test_sign_out_ends_the_session(browser: Browser, jobs: Guarded) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, jobs.url, *ALICE)
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "ory_session_customer")
    page.click("#logout button")
    page.wait_for_url("**/customer/ui/login?flow=*")  # back at the dashboard: no session
    assert not any(c["name"] == "ory_session_customer" for c in context.cookies())
    replay = httpx.get(
        f"{jobs.url}/customer/api/durably/runs", headers={"Cookie": f"ory_session_customer={cookie}"}, timeout=10
    )
    assert replay.status_code == 401  # revoked at Kratos and forgotten by the gateway's cache at once
    context.close()
