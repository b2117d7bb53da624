"""Cost per request as instructions counted by callgrind: what configuration size costs,
measured without the noise of a shared machine.

    .venv/bin/python -m bench.instructions [--requests 1000] [--out results.json]
    .venv/bin/python -m bench.instructions --routes [--requests 1000]   # per route, one gateway
    .venv/bin/python -m bench.instructions --quick          # CI smoke: one gateway, the human route, 20 requests,
                                                            # instrumented only once it answers
    .venv/bin/python -m bench.instructions --shape small --credential cookie-post
    .venv/bin/python -m bench.instructions --permission     # the route also checks an Ory Permission

CPU time per request moves by 10-20% between runs on this kind of machine (other tenants
of the host share its caches and cores), more than the 5% being checked. Instructions
do not: callgrind counts them the same whatever else runs. For each configuration size
(`bench.scaling`) the gateway runs under `valgrind --tool=callgrind --cache-sim=yes` twice,
answering B and then B + N requests (cached human session, `GET /customer/bench/small`, one
connection, a Python client on cpu0); the difference of the two totals over N is the cost
of one request, start-up cancelled out. `--credential` picks how the session is presented:
`bearer` (the default, the session token as a bearer token), `bearer-post` (the same on a
POST), `cookie` (the browser's session cookie on a GET) or `cookie-post` (a POST as a
browser sends it from the gateway's own page: cookie, `Origin`, `Sec-Fetch-Site:
same-origin`; the benchmark's nginx answers a POST of its static file with 405, which is
forwarded like any small answer). Only the event-loop thread is counted (the policy
watcher thread hashes the policy files once a second: slowed down 50x by valgrind, it
would count as request cost). Reported per request: instructions (Ir), data reads and
writes, and simulated first-level cache misses (I1mr, D1mr, D1mw).

`--routes` counts the routes of `bench.run` (cached human, cached machine, the Durably list
at 200 B and 64 KiB) on the benchmark's own gateway (shipped + bench policies), all in one
callgrind run: counters are zeroed (`callgrind_control --zero`) after each route's warm-up
and dumped (`--dump`) after its N requests, so start-up never counts. Same client, same
connection handling as above. Under valgrind 1,000 requests take minutes, so what the
loop does on timers (the policy watcher's poll every second, log flushes) would count in
proportion to how slow the machine is: the gateway is first counted idle for 30 s and that
rate, times each route's duration, is taken out (`Ir_less_idle`); the decision cache's TTL
is raised so that no Ory refresh falls inside a count. That correction over-corrects on a
slow run (the idle count right after start-up is not what the loop does between requests:
docs/performance.md, "Instructions under callgrind, and why"); `--quiet-loop` stretches the policy watcher's poll
(the one timer that runs whether requests come or not) to a day, and the raw count (`Ir`)
of builds measured in the same window is then the figure to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench import scaling
from bench.gw import BENCH_POLICIES, HUMAN, SHIPPED_POLICIES, bench_env, merge_policies, obtain_credentials
from bench.procs import pinned, spawn, wait_http
from bench.world import start_backends
from tests.support.processes import clean_env, free_port
from tests.support.seed import browser_login

PATH = "/customer/bench/small"
#: requests answered before counting starts in earnest (caches warm, connections open)
BASE_REQUESTS = 200
#: seconds of an idle gateway counted to learn what its loop does without requests
IDLE_SECONDS = 30
#: --credential -> (method, the status the benchmark's nginx gives it)
CREDENTIALS = {
    "bearer": ("GET", 200),
    "bearer-post": ("POST", 405),
    "cookie": ("GET", 200),
    "cookie-post": ("POST", 405),
}


def request_headers(credential: str, token: str, cookie: tuple[str, str], port: int) -> dict[str, str]:
    """What the client sends with every request for `credential` (see the module docstring)."""
    if credential.startswith("bearer"):
        return {"Authorization": f"Bearer {token}"}
    headers = {"Cookie": f"{cookie[0]}={cookie[1]}"}
    if credential == "cookie-post":
        headers |= {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
    return headers


def count(
    shape: scaling.Shape,
    requests: int,
    token: str,
    urls: tuple[str, str],
    workdir: Path,
    cache_sim: bool,
    credential: str = "bearer",
    cookie: tuple[str, str] = ("", ""),
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
        method, status = CREDENTIALS[credential]
        headers = request_headers(credential, token, cookie, port)
        with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
            for _ in range(requests):
                answer = client.request(method, PATH)
                if answer.status_code != status:
                    raise RuntimeError(f"{shape.name}: {PATH} answered {answer.status_code}: {answer.text[:200]}")
        child.process.send_signal(signal.SIGINT)  # a clean exit: callgrind writes its totals
        child.process.wait(timeout=600)
    finally:
        child.stop()
    return _totals(Path(f"{out}-01"))  # thread 1: the event loop


#: route name -> (path, which credential): what `bench.run` measures, at 200 B unless named;
#: human-permission is the human route with a cached membership and Ory Permissions check too
ROUTES = {
    "human": ("/customer/bench/small", "human"),
    "human-permission": ("/customer/bench/permitted", "human"),
    "machine": ("/dealer/partner-api/inventory", "machine"),
    "durably": ("/customer/api/durably/runs", "human"),
    "durably-64KiB": ("/customer/api/durably/runs?bench=large", "human"),
}


#: `gateway serve` with the policy watcher's poll and the tenant probe's (after its first
#: round, at start-up) stretched to a day (`--quiet-loop`)
QUIET_SERVE = (
    "import sys; from gateway.policy.reload import PolicyStore; PolicyStore.watch.__defaults__ = (86400.0,)\n"
    "try:\n    from gateway.ory.probe import TenantProbe; TenantProbe.__init__.__defaults__ = (86400.0, None)\n"
    "except ImportError:\n    pass\n"  # a build without the probe
    "from gateway.cli.main import main; sys.exit(main(['serve']))"
)


def count_routes(
    requests: int,
    base: int,
    workdir: Path,
    cache_sim: bool,
    quiet: bool = False,
    routes: Sequence[str] = tuple(ROUTES),
    idle_seconds: float = IDLE_SECONDS,
    lazy: bool = False,
) -> dict[str, dict[str, float]]:
    """Per route, the event-loop thread's counters over `requests` requests, in one gateway.

    `lazy`: callgrind instruments nothing until the gateway answers (start-up runs about five
    times faster); the counts are those of the same windows, but the simulated caches start
    cold, so only without the cache model (`--quick`)."""
    assert not (lazy and cache_sim), "lazy instrumentation leaves the simulated caches cold"
    with contextlib.ExitStack() as stack:
        backends = stack.enter_context(start_backends(workdir))
        creds = obtain_credentials(backends.emulator.base_url)
        policies = merge_policies(workdir / "policies", (SHIPPED_POLICIES, BENCH_POLICIES))
        port = free_port()
        env = bench_env(port, backends.emulator.base_url, backends.upstream.url, policies)
        # no cache refresh (an Ory call through httpx) may fall inside a count: under valgrind a
        # route's 1,000 requests take minutes, and how many refreshes happen would depend on that
        env = clean_env({**env, "PYTHONHASHSEED": "0", "GATEWAY_CACHE_MAX_TTL": "86400"})
        out = workdir / "callgrind-routes.out"
        tool = ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}"]
        tool.append(f"--cache-sim={'yes' if cache_sim else 'no'}")
        tool += ["--instr-atstart=no"] if lazy else []
        serve = ["-c", QUIET_SERVE] if quiet else ["-m", "gateway", "serve"]
        child = spawn("gateway-routes", pinned(1, [*tool, sys.executable, *serve]), workdir / "g.log", env)
        stack.callback(child.stop)
        url = f"http://127.0.0.1:{port}"
        wait_http(child, url + "/healthz", timeout=2400)  # start-up under valgrind on a busy machine
        if lazy:
            _control(child.pid, "--instr=on")
        # what the loop does when no request comes (timers: the policy watcher's poll every
        # second, log flushes, pool pruning), per second: taken out of each route's count
        _control(child.pid, "--zero")
        idle_from = time.monotonic()
        time.sleep(idle_seconds)
        _control(child.pid, "--dump")
        idle_per_second = _totals(_wait_for(Path(f"{out}.1-01")))["Ir"] / (time.monotonic() - idle_from)
        print(f"{'(idle loop)':26s} {idle_per_second:>11,.0f} instructions/second", flush=True)
        found: dict[str, dict[str, float]] = {"idle": {"Ir_per_second": round(idle_per_second)}}
        for dump, name in enumerate(routes, start=2):
            path, who = ROUTES[name]
            token = creds.human if who == "human" else creds.machine
            with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
                _send(client, path, base)
                _control(child.pid, "--zero")
                started = time.monotonic()
                _send(client, path, requests)
                _control(child.pid, "--dump")
                took = time.monotonic() - started
            totals = _totals(_wait_for(Path(f"{out}.{dump}-01")))  # the event loop's thread
            found[name] = {e: round(v / requests, 1) for e, v in totals.items()}
            found[name]["Ir_less_idle"] = round((totals["Ir"] - idle_per_second * took) / requests, 1)
            print(
                f"{name:26s} {found[name]['Ir']:>11,.0f} instructions/request, "
                f"{found[name]['Ir_less_idle']:>11,.0f} less the idle loop ({took:.0f} s)",
                flush=True,
            )
    return found


def _send(client: httpx.Client, path: str, n: int) -> None:
    for _ in range(n):
        answer = client.get(path)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:200]}")


def _control(pid: int, what: str) -> None:
    subprocess.run(["callgrind_control", what, str(pid)], check=True, capture_output=True, timeout=300)


def _wait_for(path: Path, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while not (path.exists() and "totals:" in path.read_text()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path}: callgrind wrote no dump")
        time.sleep(0.5)
    return path


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
    credential: str = "bearer",
    route: dict[str, object] = scaling.BENCH_ROUTE,
) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-instructions-")))
        backends = stack.enter_context(start_backends(workdir))
        token = obtain_credentials(backends.emulator.base_url).human
        cookie = browser_login(backends.emulator.base_url, *HUMAN) if credential.startswith("cookie") else ("", "")
        urls = (backends.emulator.base_url, backends.upstream.url)
        per_request: dict[str, dict[str, float]] = {}
        for shape in shapes:
            started = time.monotonic()
            before = count(shape, base, token, urls, workdir, cache_sim, credential, cookie, route)
            after = count(shape, base + requests, token, urls, workdir, cache_sim, credential, cookie, route)
            per_request[shape.name] = {e: round((after[e] - before[e]) / requests, 1) for e in before}
            print(
                f"{shape.name:26s} {per_request[shape.name]['Ir']:>11,.0f} instructions/request "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    result: dict[str, Any] = {
        "path": PATH,
        "credential": credential,
        "requests": requests,
        "cache_sim": cache_sim,
        "per_request": per_request,
    }
    if len(shapes) == 2:
        small, large = (per_request[s.name]["Ir"] for s in shapes)
        result["instructions_ratio"] = round(large / small, 4)
        print(f"{shapes[1].name} / {shapes[0].name}: {result['instructions_ratio']:.3f}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=1000, help="requests counted per shape (default 1000)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke: the human route, 20 requests, no cache model, instrumented once up",
    )
    p.add_argument("--routes", action="store_true", help="per route of bench.run (human, machine, Durably)")
    p.add_argument(
        "--quiet-loop",
        action="store_true",
        help="--routes: the policy watcher polls once a day, not every second (what an idle loop does)",
    )
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--credential", choices=tuple(CREDENTIALS), default="bearer", help="how the session is sent")
    p.add_argument("--shape", choices=("small", "large", "both"), default="both", help="configuration sizes")
    p.add_argument("--no-cache-sim", action="store_true", help="count instructions only (about twice as fast)")
    p.add_argument(
        "--permission", action="store_true", help="the measured route also checks an Ory Permission (cached)"
    )
    args = p.parse_args(argv)
    route = scaling.PERMISSION_ROUTE if args.permission else scaling.BENCH_ROUTE
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    shapes = {"small": [scaling.SMALL], "large": [scaling.LARGE], "both": [scaling.SMALL, scaling.LARGE]}[args.shape]
    if args.routes:
        with tempfile.TemporaryDirectory(prefix="gateway-instructions-") as tmp:
            per_route = count_routes(args.requests, BASE_REQUESTS, Path(tmp), cache_sim=False, quiet=args.quiet_loop)
        result = {"requests": args.requests, "quiet_loop": args.quiet_loop, "per_route": per_route}
    elif args.quick:  # one gateway under callgrind (its start-up is most of the time), one route
        with tempfile.TemporaryDirectory(prefix="gateway-instructions-") as tmp:
            per_route = count_routes(20, 10, Path(tmp), cache_sim=False, routes=("human",), idle_seconds=3, lazy=True)
        result = {"requests": 20, "per_route": per_route}
    else:
        result = measure(
            shapes,
            args.requests,
            BASE_REQUESTS,
            cache_sim=not args.no_cache_sim,
            credential=args.credential,
            route=route,
        )
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
