"""Cost per request as instructions counted by callgrind: what configuration size costs,
measured without the noise of a shared machine.

    .venv/bin/python -m bench.instructions [--requests 1000] [--out results.json]
    .venv/bin/python -m bench.instructions --quick          # CI smoke: small shape, few requests
    .venv/bin/python -m bench.instructions --permission     # the route also checks an Ory Permission

CPU time per request moves by 10-20% between runs on this kind of machine (other tenants
of the host share its caches and cores), more than the 5% being checked. Instructions
do not: callgrind counts them the same whatever else runs. For each configuration size
(`bench.scaling`) the gateway runs under `valgrind --tool=callgrind --cache-sim=yes` twice,
answering B and then B + N requests (cached human session, `GET /customer/bench/small`, one
connection, a Python client on cpu0); the difference of the two totals over N is the cost
of one request, start-up cancelled out. Only the event-loop thread is counted (the policy
watcher thread hashes the policy files once a second: slowed down 50x by valgrind, it
would count as request cost). Reported per request: instructions (Ir), data reads and
writes, and simulated first-level cache misses (I1mr, D1mr, D1mw).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench import scaling
from bench.gw import obtain_credentials
from bench.procs import clean_env, pinned, spawn, wait_http
from bench.world import start_backends
from gateway.emulator.testing import free_port

PATH = "/customer/bench/small"
#: requests answered before counting starts in earnest (caches warm, connections open)
BASE_REQUESTS = 200


def count(
    shape: scaling.Shape,
    requests: int,
    token: str,
    urls: tuple[str, str],
    workdir: Path,
    cache_sim: bool,
    route: dict[str, object] = scaling.BENCH_ROUTE,
) -> dict[str, int]:
    """Totals of the event-loop thread of one gateway run that answered `requests` requests."""
    env = scaling.shape_env(workdir / f"{shape.name}-{requests}", shape, *urls, route)
    port = free_port()
    env = clean_env({**env, "GATEWAY_LISTEN": f"127.0.0.1:{port}", "PYTHONHASHSEED": "0"})
    out = workdir / f"callgrind-{shape.name}-{requests}.out"
    tool = [
        "valgrind",
        "--tool=callgrind",
        "--separate-threads=yes",
        f"--cache-sim={'yes' if cache_sim else 'no'}",
        f"--callgrind-out-file={out}",
    ]
    args = pinned(1, [*tool, sys.executable, "-m", "gateway", "serve"])
    child = spawn(f"gateway-{shape.name}", args, workdir / f"{shape.name}-{requests}.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(child, url + "/healthz", timeout=900)
        with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
            for _ in range(requests):
                answer = client.get(PATH)
                if answer.status_code != 200:
                    raise RuntimeError(f"{shape.name}: {PATH} answered {answer.status_code}: {answer.text[:200]}")
        child.process.send_signal(signal.SIGINT)  # a clean exit: callgrind writes its totals
        child.process.wait(timeout=600)
    finally:
        child.stop()
    return _totals(Path(f"{out}-01"))  # thread 1: the event loop


def _totals(path: Path) -> dict[str, int]:
    events: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:"):
            return dict(zip(events, map(int, line.split()[1:]), strict=True))
    raise RuntimeError(f"{path}: no totals (did the gateway exit cleanly?)")


def measure(
    shapes: Sequence[scaling.Shape],
    requests: int,
    base: int,
    cache_sim: bool,
    route: dict[str, object] = scaling.BENCH_ROUTE,
) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-instructions-")))
        backends = stack.enter_context(start_backends(workdir))
        token = obtain_credentials(backends.emulator.base_url).human
        urls = (backends.emulator.base_url, backends.upstream.url)
        per_request: dict[str, dict[str, float]] = {}
        for shape in shapes:
            started = time.monotonic()
            before = count(shape, base, token, urls, workdir, cache_sim, route)
            after = count(shape, base + requests, token, urls, workdir, cache_sim, route)
            per_request[shape.name] = {e: round((after[e] - before[e]) / requests, 1) for e in before}
            print(
                f"{shape.name:26s} {per_request[shape.name]['Ir']:>11,.0f} instructions/request "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    result: dict[str, Any] = {"path": PATH, "requests": requests, "cache_sim": cache_sim, "per_request": per_request}
    if len(shapes) == 2:
        small, large = (per_request[s.name]["Ir"] for s in shapes)
        result["instructions_ratio"] = round(large / small, 4)
        print(f"{shapes[1].name} / {shapes[0].name}: {result['instructions_ratio']:.3f}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=1000, help="requests counted per shape (default 1000)")
    p.add_argument("--quick", action="store_true", help="CI smoke: the small shape, 20 requests, no cache model")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument(
        "--permission", action="store_true", help="the measured route also checks an Ory Permission (cached)"
    )
    args = p.parse_args(argv)
    route = scaling.PERMISSION_ROUTE if args.permission else scaling.BENCH_ROUTE
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.quick:
        result = measure([scaling.SMALL], 20, 10, cache_sim=False, route=route)
    else:
        result = measure([scaling.SMALL, scaling.LARGE], args.requests, BASE_REQUESTS, cache_sim=True, route=route)
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
