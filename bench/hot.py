"""Quick hot-path check for developers: CPU per request of the gateway vs nginx proxy_pass.

    .venv/bin/python -m bench.hot [--duration 5] [--connections 32] [--repeat 2]

CPU per request (from /proc, utime + stime) does not depend on what else the machine
runs, so it is the figure to compare before and after a hot-path change. The full,
interleaved benchmark is `python -m bench.run`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.procs import Child, pinned, spawn, wait_http
from bench.world import Target, start_backends, start_world
from bench.wrk import run_wrk
from tests.support.processes import free_port

NAMES = (
    "nginx-proxy_pass",
    "minimal-aiohttp-proxy",
    "gateway-human",
    "gateway-machine",
    "gateway-durably",
    "gateway-decisions",
    "nginx-auth_request",
)


def start_minproxy(workdir: Path, upstream_url: str) -> tuple[Child, Target]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.minproxy:app",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "MINPROXY_UPSTREAM": upstream_url}
    child = spawn("minproxy", pinned(1, args), workdir / "minproxy.log", env)
    url = f"http://127.0.0.1:{port}/bench/small"
    wait_http(child, url)
    urls = {"200B": url, "64KiB": url.replace("small", "large")}
    return child, Target("minimal-aiohttp-proxy", "reference", urls, {}, (), (child.pid,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--size", choices=("200B", "64KiB"), default="200B")
    parser.add_argument("--only", nargs="*", choices=NAMES, help="measure only these (default: all)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_backends(Path(tmp)) as backends,
        start_world(Path(tmp), backends) as world,
    ):
        minproxy, floor = start_minproxy(Path(tmp), backends.upstream.url)
        targets = {t.name: t for t in world.targets() if t.name in NAMES} | {floor.name: floor}
        targets["gateway-decisions"] = world.decisions_target()
        for name in args.only or NAMES:
            if name not in targets:
                print(f"{name:22s} not available here", flush=True)
                continue
            target = targets[name]
            run_wrk(target.urls[args.size], target.headers, args.connections, 1, target.cpu_pids)  # warm-up
            samples = [
                run_wrk(target.urls[args.size], target.headers, args.connections, args.duration, target.cpu_pids)
                for _ in range(args.repeat)
            ]
            cpu = statistics.median(s.cpu_us or 0.0 for s in samples)
            rps = statistics.median(s.rps for s in samples)
            p50 = statistics.median(s.p50_ms for s in samples)
            p99 = statistics.median(s.p99_ms for s in samples)
            print(
                f"{name:22s} {rps:10.0f} rps  {cpu:8.1f} us CPU/request  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms",
                flush=True,
            )
        minproxy.stop()


if __name__ == "__main__":
    main()
