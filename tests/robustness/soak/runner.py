"""Runs the soak: starts the stack, drives the traffic and the fault schedule, harvests what
the upstreams received, samples the gateway's memory and sockets, and judges it all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from tests.robustness.soak import checks, heap, traffic
from tests.robustness.soak.faults import schedule
from tests.robustness.soak.stack import SETTINGS, Stack, running_stack
from tests.robustness.support import fd_count, rss_kib, socket_count
from tests.support.polling import poll

HTTP_WORKERS = 6
#: bounds on the gateway process (stated in docs/robustness.md)
RSS_GROWTH_MIB = 64  # RSS at its highest after warm-up, above the warmed-up RSS
SOCKET_SLACK = 8  # sockets after the run and a settle, above the warmed-up count
MACHINE_TOKENS_EVERY = 20 * 60.0  # seconds; Hydra's client-credentials tokens live an hour


@dataclass
class Plan:
    seconds: float  # traffic time
    warmup: float = 20.0  # traffic before the first fault (the baseline is taken at its end)
    down: float = 10.0  # each fault lasts
    gap: float = 35.0  # quiet time after each fault
    hold: float = 20.0  # SSE and WebSocket sessions last
    #: write heap snapshots of the gateway here, once a minute, and report what grew
    tracemalloc: Path | None = None


@dataclass
class Probe:
    pid: int
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, rss KiB, fds, sockets)

    def sample(self, t0: float) -> tuple[float, int, int, int]:
        got = (round(time.monotonic() - t0, 1), rss_kib(self.pid), fd_count(self.pid), socket_count(self.pid))
        self.samples.append(got)
        return got


def _harvest(stack: Stack, into: list[tuple[int, str | None]]) -> None:
    """What Durably received since the last harvest, judged, then forgotten by Durably."""
    url = stack.durably.base_url + "/__recorder/requests"
    records: list[dict[str, Any]] = httpx.get(url, timeout=5).json()
    into.extend(checks.durably_problem(r) for r in records)
    if records:
        httpx.delete(url, params={"upto": max(r["seq"] for r in records)}, timeout=5)


def _remint(stack: Stack, load: traffic.Traffic) -> None:
    """Fresh machine tokens before the old ones expire (the first call mints what is already fresh)."""
    load.creds = {**load.creds, **stack.machine_credentials()}


async def _every(seconds: float, what: Any, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(httpx.HTTPError):
            await asyncio.to_thread(what)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


async def _drive(stack: Stack, plan: Plan) -> dict[str, Any]:
    load = traffic.Traffic(stack.gateway.url, stack.credentials())
    probe, durably, faults = Probe(stack.gateway.process.pid), [], []  # type: ignore[var-annotated]
    stop = asyncio.Event()
    t0 = time.monotonic()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
    ) as http:
        rng = random.Random(17)
        tasks = [asyncio.ensure_future(traffic.http_worker(load, http, rng)) for _ in range(HTTP_WORKERS)]
        for who, _, choose, _ in traffic.STREAMS:
            tasks.append(asyncio.ensure_future(traffic.sse_subscriber(load, http, who, choose, plan.hold)))
            tasks.append(asyncio.ensure_future(traffic.ws_session(load, http, who, choose, plan.hold)))
        tasks += [asyncio.ensure_future(traffic.trickler(load, chunked)) for chunked in (False, True)]
        sampler = asyncio.ensure_future(_every(2.0, lambda: probe.sample(t0), stop))
        harvester = asyncio.ensure_future(_every(15.0, lambda: _harvest(stack, durably), stop))
        minter = asyncio.ensure_future(_every(MACHINE_TOKENS_EVERY, lambda: _remint(stack, load), stop))
        await asyncio.sleep(plan.warmup)
        baseline = probe.sample(t0)
        await schedule(stack, t0 + plan.warmup, plan.down, plan.gap, t0 + plan.seconds, faults)
        await asyncio.sleep(max(0.0, t0 + plan.seconds - time.monotonic()))
        load.stopping = True
        _, late = await asyncio.wait(tasks, timeout=plan.hold + 30)
        for task in late:
            task.cancel()
        stop.set()
        await asyncio.gather(sampler, harvester, minter)
    elapsed = time.monotonic() - t0
    await asyncio.to_thread(_harvest, stack, durably)
    pid = probe.pid
    back = await asyncio.to_thread(
        poll, lambda: socket_count(pid) <= baseline[3] + SOCKET_SLACK, timeout=30, interval=0.5
    )
    settled = back is not None
    end = probe.sample(t0)
    with stack.echo_log.open() as echo, stack.live_log.open() as live:
        received = {
            "echo": [checks.echo_problem(json.loads(line)) for line in echo],
            "websocket": [checks.live_problem(json.loads(line)) for line in live],
            "durably": durably,
        }
    report = checks.summary(load.calls, faults, received, t0)
    after_warmup = [s for s in probe.samples if s[0] >= baseline[0]]
    report |= {
        "seconds": round(elapsed, 1),
        "calls_per_second": round(len(load.calls) / elapsed, 1),
        "plan": {k: str(v) if isinstance(v, Path) else v for k, v in plan.__dict__.items()},
        "gateway_settings": SETTINGS,
        "recovery_bound_s": checks.RECOVERY,
        "stragglers_cancelled": len(late),
        "gateway": {
            "rss_mib": {
                "warmed_up": round(baseline[1] / 1024, 1),
                "max": round(max(s[1] for s in after_warmup) / 1024, 1),
                "end": round(end[1] / 1024, 1),
                "bound_growth": RSS_GROWTH_MIB,
            },
            "fds": {"warmed_up": baseline[2], "max": max(s[2] for s in after_warmup), "end": end[2]},
            "sockets": {
                "warmed_up": baseline[3],
                "max": max(s[3] for s in after_warmup),
                "end": end[3],
                "bound_slack": SOCKET_SLACK,
                "settled": settled,
            },
            "samples": len(probe.samples),
            # (seconds, RSS MiB, sockets) about once a minute
            "timeline": [(t, round(rss / 1024, 1), sockets) for t, rss, _, sockets in probe.samples[::30]],
        },
    }
    growth = max(s[1] for s in after_warmup) - baseline[1]
    report["bounds_held"] = settled and growth <= RSS_GROWTH_MIB * 1024
    return report


def run(plan: Plan, out: Path | None = None) -> dict[str, Any]:
    traced = plan.tracemalloc
    folder = traced or Path(tempfile.mkdtemp(prefix="soak-heap-"))
    folder.mkdir(parents=True, exist_ok=True)
    with running_stack(heap.environment(folder, trace=traced is not None)) as stack:
        report = asyncio.run(_drive(stack, plan))
    report["gc"] = heap.census(folder)
    if traced is not None:
        report["tracemalloc"] = heap.growth(traced)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    if out is not None:
        out.write_text(json.dumps(report, indent=2) + "\n")
    return report
