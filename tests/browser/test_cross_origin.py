"""A page on another origin of the same machine (same site, other port: the sibling-subdomain
case) makes a signed-in browser send the session cookie to the gateway: a fetch, a form post,
a CORS request. Chromium sends the cookie (SameSite=Lax allows same-site requests); the
gateway refuses before anything reaches Durably, and says why in its access log."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.browser import signed_in
from tests.support.polling import eventually
from tests.support.processes import answers, free_port, running
from tests.support.world import World

ALICE = ("alice@acme.example", "alice-password")


@pytest.fixture(scope="module")
def alice(browser: Browser, world: World) -> Iterator[BrowserContext]:
    context = signed_in(browser, world.url, *ALICE)
    yield context
    context.close()


@pytest.fixture(scope="module")
def finished_run(world: World) -> str:
    """A run of alice's organization that has ended: retriggering it would start a new one."""
    body = {"jobName": "send-report", "input": {"reportId": "cross-origin", "steps": 1}}
    run = httpx.post(f"{world.url}/customer/api/durably/trigger", json=body, headers=world.bearer("alice")).json()[
        "runId"
    ]

    def done() -> bool:
        found = httpx.get(f"{world.url}/customer/api/durably/run", params={"runId": run}, headers=world.bearer("alice"))
        return bool(found.json().get("isTerminal"))

    eventually(done, timeout=20, what="the run to finish")
    return str(run)


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another origin on this machine: a plain static server on another loopback port (a real
    server: Chromium treats a page it did not load from a loopback address as public)."""
    folder: Path = tmp_path_factory.mktemp("elsewhere")
    (folder / "index.html").write_text("<!doctype html><title>cats</title><h1>cute cats</h1>")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)]
    with running(args, origin, answers(origin + "/")):
        yield origin


def foreign_page(context: BrowserContext, origin: str) -> Page:
    page = context.new_page()
    page.goto(origin + "/")
    return page


def durably_saw(world: World, run: str, since: int) -> list[str]:
    return [r.path for r in world.durably.recorder.requests()[since:] if run in r.path]


def refusals(world: World, origin: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in world.gateway.output().splitlines() if line.startswith("{")]
    return [r for r in lines if r.get("reason") == "cross_origin_request" and r.get("origin") == origin]


def test_a_fetch_with_the_cookie_from_another_origin_is_refused(
    alice: BrowserContext, world: World, finished_run: str, elsewhere: str
) -> None:
    since = len(world.durably.recorder.requests())
    page, origin = foreign_page(alice, elsewhere), elsewhere
    target = f"{world.url}/customer/api/durably/retrigger?runId={finished_run}"
    # a "simple" request: no preflight; the browser sends the cookie and cannot read the answer
    # (Chromium's opaque-response blocking turns the refused JSON into a network error)
    page.evaluate(
        "url => fetch(url, {method: 'POST', credentials: 'include', mode: 'no-cors'}).catch(() => null)", target
    )
    eventually(lambda: bool(refusals(world, origin)), timeout=10, what="the gateway to log the refusal")
    refused = refusals(world, origin)[-1]
    assert refused["status"] == 403 and refused["sec_fetch_site"] == "same-site"
    assert durably_saw(world, finished_run, since) == []
    page.close()


def test_a_form_post_with_the_cookie_from_another_origin_is_refused(
    alice: BrowserContext, world: World, finished_run: str, elsewhere: str
) -> None:
    since = len(world.durably.recorder.requests())
    target = f"{world.url}/customer/api/durably/retrigger?runId={finished_run}"
    page = foreign_page(alice, elsewhere)
    form = f'<form id="f" method="POST" action="{target}"><input name="x" value="1"></form>'
    page.evaluate("html => { document.body.innerHTML = html; }", form)
    with page.expect_navigation():
        page.evaluate("document.getElementById('f').submit()")
    body = json.loads(page.inner_text("body"))
    assert body["error"] == "cross_origin_request"
    assert durably_saw(world, finished_run, since) == []
    page.close()


def test_a_cors_request_from_an_untrusted_origin_is_stopped_at_the_preflight(
    alice: BrowserContext, world: World, finished_run: str, elsewhere: str
) -> None:
    since = len(world.durably.recorder.requests())
    page = foreign_page(alice, elsewhere)
    outcome = page.evaluate(
        """async url => {
            try {
                const r = await fetch(url, {method: 'POST', credentials: 'include',
                    headers: {'content-type': 'application/json'}, body: '{}'});
                return 'answered ' + r.status;
            } catch (e) { return 'blocked'; }
        }""",
        f"{world.url}/customer/api/durably/retrigger?runId={finished_run}",
    )
    assert outcome == "blocked"  # the preflight got 403 without Access-Control-*: no request followed
    assert durably_saw(world, finished_run, since) == []
    lines = [json.loads(line) for line in world.gateway.output().splitlines() if line.startswith("{")]
    refused = [r for r in lines if r.get("method") == "OPTIONS" and r.get("path") == "/customer/api/durably/retrigger"]
    assert refused and refused[-1]["reason"] == "cors_preflight_refused" and refused[-1]["status"] == 403
    page.close()


def test_the_same_page_on_the_gateways_own_origin_may_do_it(
    alice: BrowserContext, world: World, finished_run: str
) -> None:
    """The control: the same fetch from the dashboard's own origin is forwarded."""
    since = len(world.durably.recorder.requests())
    page = alice.new_page()
    page.goto(f"{world.url}/customer/")
    status = page.evaluate(
        "url => fetch(url, {method: 'POST'}).then(r => r.status)",
        f"{world.url}/customer/api/durably/retrigger?runId={finished_run}",
    )
    assert status == 200
    assert any("/retrigger" in path for path in durably_saw(world, finished_run, since))
    page.close()
