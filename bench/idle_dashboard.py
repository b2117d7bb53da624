"""What an open, idle dashboard costs: requests to the gateway, calls to Ory and requests to
Durably per minute, with real Chromium, a real gateway and the emulator counting its calls.

    .venv/bin/python -m bench.idle_dashboard [--minutes 3] [--heartbeat 15] [--recheck 30]

Starts the seed world (tests.support.world), signs alice in through the login page, opens
org-acme's dashboard (Durably's own React client: the run list's stream and the trigger
panel's), triggers one run from the page and waits until it completed (so the page also
tracks a finished run), then leaves the page alone for `--minutes` and counts, in that
window: the gateway's access-log lines by route, the emulator's calls by operation, the
requests Durably received, and the streams that ended. Prints one JSON document.
A reconnect loop shows as subscribe requests in the window; a cached session as no Ory call
but the one whoami per GATEWAY_CACHE_MAX_TTL that refreshes it.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from typing import Any

from playwright.sync_api import expect

from tests.support.browser import chromium, sign_in
from tests.support.world import World, start_world


def gateway_lines(world: World) -> list[dict[str, Any]]:
    return [json.loads(line) for line in world.gateway.output().splitlines() if line.startswith("{")]


def ory_calls(world: World) -> dict[str, int]:
    stats = world.emulator.control("GET", "stats").json()["projects"]
    return {f"{project}:{op}": n for project, ops in stats.items() for op, n in ops.items()}


def window(world: World, minutes: float) -> dict[str, Any]:
    lines_before, ory_before = len(gateway_lines(world)), ory_calls(world)
    durably_before = len(world.durably.recorder.requests())
    time.sleep(minutes * 60)
    lines = gateway_lines(world)[lines_before:]
    ory_after = ory_calls(world)
    durably = world.durably.recorder.requests()[durably_before:]
    ory = {op: n - ory_before.get(op, 0) for op, n in ory_after.items() if n - ory_before.get(op, 0)}
    routes = collections.Counter(str(line.get("rule", line.get("path"))) for line in lines)
    ended = collections.Counter(str(line["stream_end"]) for line in lines if line.get("stream_end"))
    return {
        "minutes": minutes,
        "gateway_requests": len(lines),
        "gateway_requests_per_minute": round(len(lines) / minutes, 2),
        "gateway_requests_by_route": dict(routes),
        "ory_calls": sum(ory.values()),
        "ory_calls_per_minute": round(sum(ory.values()) / minutes, 2),
        "ory_calls_by_operation": ory,
        "durably_requests": len(durably),
        "durably_requests_by_path": dict(collections.Counter(r.path.split("?")[0] for r in durably)),
        "streams_ended": dict(ended),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--heartbeat", type=float, default=15.0, help="GATEWAY_SSE_HEARTBEAT_SECONDS")
    parser.add_argument("--recheck", type=float, default=30.0, help="GATEWAY_STREAM_RECHECK_SECONDS")
    args = parser.parse_args()
    env = {"GATEWAY_SSE_HEARTBEAT_SECONDS": str(args.heartbeat), "GATEWAY_STREAM_RECHECK_SECONDS": str(args.recheck)}
    with start_world(env) as world, chromium() as browser:
        page = browser.new_page()
        sign_in(page, world.url, "alice@acme.example", "alice-password")
        page.wait_for_url(f"{world.url}/customer/orgs/org-acme/")
        expect(page.locator("#live")).to_have_text("live")
        page.click("#trigger")
        expect(page.locator("#current")).to_have_attribute("data-status", "completed", timeout=30_000)
        result = window(world, args.minutes)
        result["page_streams"] = page.locator("#live").inner_text()
        result["settings"] = env | {"GATEWAY_CACHE_MAX_TTL": world.env.get("GATEWAY_CACHE_MAX_TTL", "60")}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
