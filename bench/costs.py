"""The cost of every per-request step, by cProfile, on the benchmark's own gateway.

    .venv/bin/python -m bench.costs [--route human] [--requests 3000] [--top 40]

The gateway (shipped + bench policies, nginx upstream, seeded emulator, as in bench.run)
runs with a profiler armed by a signal: after a warm-up (credential cached, pools open)
SIGUSR1 turns cProfile on in the event-loop thread (its CPU time, `time.thread_time`), the
client sends N requests on one connection, SIGUSR2 writes the profile. Printed: each step of
the request's journey as a share of the profiled CPU time (inclusive time of the functions
that make up the step, outermost first, so a step never counts what a later step contains
twice), then the top functions by own time. cProfile sees Python functions and the C
functions Python calls (socket writes, parsers, orjson); the event loop's own C work between
callbacks (epoll, reads) it does not: `bench.instructions` counts that, and
docs/performance.md puts the two together.
"""

from __future__ import annotations

import argparse
import contextlib
import pstats
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.gw import BENCH_POLICIES, SHIPPED_POLICIES, bench_env, merge_policies, obtain_credentials
from bench.instructions import ROUTES
from bench.procs import pinned, spawn, wait_http
from bench.world import start_backends
from tests.support.processes import clean_env, free_port

#: pipeline step -> the functions (file fragment, function name) whose inclusive time it is;
#: these never contain one another
PIPELINE: dict[str, tuple[tuple[str, str], ...]] = {
    "head check (431, framing, Host)": (("front/head.py", "check_head"),),
    "locate (path, tenant, route)": (("front/locate.py", "locate"),),
    "authenticate (cached)": (("authn/__init__.py", "authenticate"),),
    "authorize": (("gateway/authz.py", "authorize"),),
    "request body": (("forward/body_policy.py", "take"),),
    "labels (rewrite, filter plan)": (("labels/scope.py", "prepare"),),
    "upstream headers": (("forward/headers.py", "request"),),
    "upstream exchange (h1 client)": (("forward/h1.py", "request"), ("forward/h1.py", "read")),
    "response filter (Durably list)": (("labels/scope.py", "filter_list"),),
    "response headers": (("forward/headers.py", "downstream_response_headers"),),
    "response write (Tracker, Cycle)": (("server/lifecycle.py", "send"),),
    "access log + metrics": (("gateway/app.py", "_done"),),
}
#: what contains the pipeline: the app's entry, and the server around it
APP = (("gateway/app.py", "http"),)
SERVER = (
    ("uvicorn/protocols/http/httptools_impl.py", "data_received"),
    ("server/protocol.py", "data_received"),
    ("uvicorn/protocols/http/httptools_impl.py", "run_asgi"),
    ("server/response_cycle.py", "run"),
)


SERVE = """
import cProfile, signal, sys, time
from gateway.cli.main import main
out = sys.argv[1]
prof = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
def dump(*_):
    prof.disable()
    prof.dump_stats(out)
signal.signal(signal.SIGUSR2, dump)
sys.exit(main(["serve"]))
"""


def profile(route: str, requests: int, workdir: Path) -> pstats.Stats:
    path, who = ROUTES[route]
    out = workdir / "gateway.prof"
    with contextlib.ExitStack() as stack:
        backends = stack.enter_context(start_backends(workdir))
        creds = obtain_credentials(backends.emulator.base_url)
        policies = merge_policies(workdir / "policies", (SHIPPED_POLICIES, BENCH_POLICIES))
        port = free_port()
        env = clean_env(bench_env(port, backends.emulator.base_url, backends.upstream.url, policies))
        args = pinned(1, [sys.executable, "-c", SERVE, str(out)])
        child = spawn("gateway-profiled", args, workdir / "gateway.log", env)
        stack.callback(child.stop)
        url = f"http://127.0.0.1:{port}"
        wait_http(child, url + "/healthz", timeout=120)
        token = creds.human if who == "human" else creds.machine
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            for n in (200, requests):
                if n == requests:
                    child.process.send_signal(signal.SIGUSR1)
                    time.sleep(0.2)
                for _ in range(n):
                    if client.get(path).status_code != 200:
                        raise RuntimeError(f"{path}: not 200")
        child.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 60
        while not out.exists() or out.stat().st_size == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no profile written:\n{child.output()}")
            time.sleep(0.2)
        time.sleep(0.5)
    return pstats.Stats(str(out))


def steps(stats: pstats.Stats) -> tuple[dict[str, float], float]:
    """CPU seconds per step (each step's own: what it contains is its own step), and the total."""
    raw = stats.stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = sum(tt for _, _, tt, _, _ in raw.values())

    def inclusive(functions: tuple[tuple[str, str], ...]) -> float:
        return float(
            sum(
                ct
                for (file, _, name), (_, _, _, ct, _) in raw.items()
                for frag, fn in functions
                if frag in file and name == fn
            )
        )

    own = {step: inclusive(functions) for step, functions in PIPELINE.items()}
    app = inclusive(APP)
    server = inclusive(SERVER[1:2]) or inclusive(SERVER[:1])  # our subclass's, or uvicorn's if not ours
    server += inclusive(SERVER[2:])  # the request's task: uvicorn's run_asgi, or our Cycle.run
    own["app entry (view, origin, exchange, errors)"] = app - sum(own.values())
    own["server protocol (parse, task, cycle)"] = server - app
    own["other (event loop callbacks, GC, ...)"] = total - server
    return own, total


def report(stats: pstats.Stats, route: str, requests: int, top: int) -> str:
    own, total = steps(stats)
    lines = [
        f"cProfile of {requests} requests, route {route}: {1e6 * total / requests:.1f} us CPU per request (profiled)"
    ]
    lines += [f"{100 * s / total:6.1f}%  {1e6 * s / requests:7.1f} us  {name}" for name, s in own.items()]
    lines.append("\n== top functions by own time ==")
    raw = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (file, line, name), (_, nc, tt, _, _) in ranked:
        where = file.split("site-packages/")[-1].split("wt-serving/")[-1]
        lines.append(f"{100 * tt / total:6.1f}%  {nc / requests:6.1f}/req  {name} ({where}:{line})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__.split("\n\n")[0])
    p.add_argument("--route", choices=tuple(ROUTES), default="human")
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gateway-costs-") as tmp:
        stats = profile(args.route, args.requests, Path(tmp))
        print(report(stats, args.route, args.requests, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
