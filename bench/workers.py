"""Two workers on two cores: `gateway serve --workers 2` against the one-worker gateway.

Same route (cached human session, 200 B), same connections, interleaved rounds. The
two-worker gateway is not pinned (its workers share both cores with wrk and the nginx
upstream, which run on cpu0), so its rps cannot double here; what shows that it scales is
that its CPU per request (the supervisor and both workers together) stays that of one
worker: nothing is shared between workers on the request path.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bench import report
from bench.gw import bench_env, spawn_gateway, wait_ready
from bench.procs import children
from bench.world import World
from bench.wrk import Sample, run_wrk


def measure_workers(
    world: World, connections: int, duration: float, rounds: int, failures: list[str]
) -> dict[str, Any]:
    env = bench_env(0, world.emulator.base_url, world.upstream.url, world.workdir / "policies")
    env.pop("GATEWAY_LISTEN")
    two = spawn_gateway("gateway-2-workers", env, world.workdir / "gateway-2-workers.log", cpu=None, workers=2)
    with contextlib.ExitStack() as stack:
        stack.callback(two.stop)
        wait_ready(two)
        headers = (("Authorization", f"Bearer {world.credentials.human}"),)
        path = "/customer/bench/small"
        run_wrk(two.url + path, headers, connections, 1)  # warm-up: both workers cache the session
        pids = {"1 worker (cpu1)": (world.gateway.pid,), "2 workers (cpu0-1)": (two.pid, *children(two.pid))}
        urls = {"1 worker (cpu1)": world.gateway.url + path, "2 workers (cpu0-1)": two.url + path}
        samples: dict[str, list[Sample]] = {name: [] for name in urls}
        for _ in range(rounds):
            for name, url in urls.items():
                sample = run_wrk(url, headers, connections, duration, pids[name])
                if sample.errors or sample.non_2xx:
                    failures.append(f"workers {name}: errors in wrk output")
                samples[name].append(sample)
        one, both = samples["1 worker (cpu1)"], samples["2 workers (cpu0-1)"]
        cpu_one, cpu_both = report.median([s.cpu_us for s in one]), report.median([s.cpu_us for s in both])
        return {
            "connections": connections,
            "route": f"GET {path} (cached human session)",
            "gateways": {
                name: {
                    "rps": report.median([s.rps for s in got]),
                    "cpu_us_per_request": report.median([s.cpu_us for s in got]),
                    "p99_ms": report.median([s.p99_ms for s in got]),
                }
                for name, got in samples.items()
            },
            "rps_ratio": report.share(both, one),
            "cpu_ratio": round(cpu_both / cpu_one, 4) if cpu_one and cpu_both else None,
        }
