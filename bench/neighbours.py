"""The noisy neighbour: what tenant alpha's trouble costs tenant beta, each figure against
beta's baseline in the same run (two tenants on separate Ory emulators: tests/robustness/neighbours.py).

    .venv/bin/python -m bench.neighbours [--requests 300] [--junk 2000] [--rate 500] [--out FILE]

1. baseline   beta alone: p99 of cached sessions and of new ones (unknown to the gateway)
2. junk       `--junk` distinct well-shaped junk tokens at alpha from one address, `--rate` a
              second: the whoami calls they cost alpha's Ory, and beta's cached p99 meanwhile
3. streams    one alpha principal opens SSE streams until refused: beta's first SSE answer
4. outage     alpha's Kratos frozen (SIGSTOP) and flooded by 200 clients with distinct junk
              tokens, each request from an address of its own (`X-Forwarded-For` from the
              trusted loopback: a distributed flood, which no per-address budget stops, only
              alpha's Ory pool bounds): beta's p99s again

The noisy clients run in a process of their own, so beta's timings are not their loop's.

Bounds printed beside the figures: beta's p99 within 2x of its baseline (plus 5 ms: a
baseline of a few ms doubles on a scheduler hiccup), junk lookups within the credential
budget (GATEWAY_AUTH_FAILURES_PER_MINUTE), beta's
first SSE 200. Exit 1 when one does not hold. Timings on a shared machine are noisy: compare
within a run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.robustness.neighbours import Neighbours, junk_token, neighbours

BUDGET = 60
SETTINGS = {
    "GATEWAY_MAX_STREAMS": "200",
    "GATEWAY_AUTH_FAILURES_PER_MINUTE": str(BUDGET),
    "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",  # the outage's flood comes from many addresses
}
SLACK_MS = 5.0


def p99(samples: Sequence[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)


async def _timed(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    answer = await http.get(url, headers=headers)
    if answer.status_code != 200:
        raise AssertionError(f"beta answered {answer.status_code}: {answer.text[:200]}")
    return time.perf_counter() - began


async def _beta(two: Neighbours, cached: dict[str, str], fresh: list[dict[str, str]], count: int) -> dict[str, float]:
    """beta's p99s: `count` cached requests (4 at a time) and one request per new session."""
    url = two.url + "/beta/r/bench"
    async with httpx.AsyncClient(timeout=30) as http:
        cached_times: list[float] = []
        for _ in range(count // 4):
            cached_times += await asyncio.gather(*(_timed(http, url, cached) for _ in range(4)))
        new_times = [await _timed(http, url, headers) for headers in fresh]
    return {"cached_p99_ms": p99(cached_times), "new_p99_ms": p99(new_times)}


async def _flood(url: str, seconds: float, concurrency: int) -> int:
    """Distinct junk tokens at `url`, `concurrency` at a time, for `seconds`, each request from
    a random address of 10.0.0.0/8 (as the trusted loopback proxy says)."""
    sent, until = 0, time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as http:

        async def one() -> None:
            nonlocal sent
            while time.monotonic() < until:
                address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
                await http.get(url, headers={"X-Session-Token": junk_token(), "X-Forwarded-For": address})
                sent += 1

        await asyncio.gather(*(one() for _ in range(concurrency)))
    return sent


async def _paced(url: str, total: int, rate: float) -> dict[int, int]:
    """`total` distinct junk tokens at `url`, `rate` a second; the answers' statuses."""
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=500)) as http:

        async def send() -> None:
            answer = await http.get(url, headers={"X-Session-Token": junk_token()})
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        began, tasks = time.perf_counter(), []
        for i in range(total):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            tasks.append(asyncio.ensure_future(send()))
        await asyncio.gather(*tasks)
    return statuses


def _loader(kind: str, args: tuple[Any, ...], out: Any) -> None:
    """The noisy client, in a process of its own (so beta's timings are not its loop's)."""
    out.put(asyncio.run(_flood(*args) if kind == "flood" else _paced(*args)))


def _noise(kind: str, *args: Any) -> tuple[Any, Any]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_loader, args=(kind, args, out), daemon=True)
    process.start()
    return process, out


async def _outage(two: Neighbours, cached: dict[str, str], fresh: list[dict[str, str]], count: int) -> dict[str, Any]:
    two.freeze("alpha")
    try:
        process, out = _noise("flood", two.url + "/alpha/r/junk", 60.0, 200)
        await asyncio.sleep(2.0)  # alpha's pool is full by now
        began = time.monotonic()
        beta = await _beta(two, cached, fresh, count)
        if time.monotonic() - began > 55:
            raise AssertionError("beta's measurement outlasted the flood")
        sent = await asyncio.to_thread(out.get)
        process.join()
    finally:
        two.thaw("alpha")
    return beta | {"alpha_requests_during": sent}


async def _junk(two: Neighbours, cached: dict[str, str], total: int, rate: float, count: int) -> dict[str, Any]:
    before = two.whoami_calls("alpha")
    began = time.monotonic()
    process, out = _noise("paced", two.url + "/alpha/r/junk", total, rate)
    await asyncio.sleep(0.5)
    beta = await _beta(two, cached, [], count)
    statuses = await asyncio.to_thread(out.get)
    process.join()
    return {
        "sent": total,
        "rate_per_s": round(total / (time.monotonic() - began)),
        "answers": {str(k): v for k, v in sorted(statuses.items())},
        "whoami_calls": two.whoami_calls("alpha") - before,
        "beta_cached_p99_ms": beta["cached_p99_ms"],
    }


async def _streams(two: Neighbours, alice: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=1000)) as http:
        held: list[Any] = []
        refused = 0
        while not refused and len(held) < 1000:
            stream = http.stream("GET", two.url + "/alpha/s/sse/forever", headers=alice)
            answer = await stream.__aenter__()
            if answer.status_code == 200:
                held.append(stream)
            else:
                refused = answer.status_code
                await stream.__aexit__(None, None, None)
        began = time.perf_counter()
        async with http.stream("GET", two.url + "/beta/s/sse/forever", headers=two.session("beta")) as beta:
            first = time.perf_counter() - began
            status = beta.status_code
        for stream in held:
            await stream.__aexit__(None, None, None)
    return {
        "alpha_held": len(held),
        "alpha_refused_with": refused,
        "beta_first_sse": status,
        "beta_first_ms": round(first * 1000, 2),
    }


def _bounds(report: dict[str, Any]) -> dict[str, bool]:
    base, outage, junk = report["baseline"], report["outage"], report["junk"]

    def within(value: float, baseline: float) -> bool:
        return value <= 2 * baseline + SLACK_MS

    return {
        "outage: beta cached p99 within 2x": within(outage["cached_p99_ms"], base["cached_p99_ms"]),
        "outage: beta new-session p99 within 2x": within(outage["new_p99_ms"], base["new_p99_ms"]),
        "junk: beta cached p99 within 2x": within(junk["beta_cached_p99_ms"], base["cached_p99_ms"]),
        "junk: whoami calls within the budget": junk["whoami_calls"] <= BUDGET,
        "streams: beta's first SSE 200": report["streams"]["beta_first_sse"] == 200,
    }


async def _run(two: Neighbours, requests: int, junk: int, rate: float) -> dict[str, Any]:
    cached = two.session("beta")
    await _beta(two, cached, [], 40)  # warm: the session cached, connections open
    people = ("alice", "bob", "dana")
    sessions = [two.session("beta", people[i % 3]) for i in range(60)]
    hog = two.session("alpha")  # known before the junk spends alpha's budget for this address
    async with httpx.AsyncClient(timeout=30) as http:
        await _timed(http, two.url + "/alpha/r/warm", hog)
    report: dict[str, Any] = {"baseline": await _beta(two, cached, sessions[:30], requests)}
    # the junk first: the budget's window is a minute, and the outage's frozen lookups spend it
    report["junk"] = await _junk(two, cached, junk, rate, requests)
    report["streams"] = await _streams(two, hog)
    report["outage"] = await _outage(two, cached, sessions[30:], requests)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.neighbours", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="beta's cached requests per phase (default 300)")
    parser.add_argument("--junk", type=int, default=2000, help="junk tokens sent at alpha (default 2000)")
    parser.add_argument("--rate", type=float, default=500.0, help="junk tokens a second (default 500)")
    parser.add_argument("--out", type=Path, help="also write the report (JSON) here")
    args = parser.parse_args(argv)
    with neighbours(**SETTINGS) as two:
        report = asyncio.run(_run(two, args.requests, args.junk, args.rate))
    report["bounds"] = _bounds(report)
    report["date"] = time.strftime("%Y-%m-%d")
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0 if all(report["bounds"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
