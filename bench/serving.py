"""Serving layers side by side, in one run: the same gateway app behind each, same route.

    .venv/bin/pip install granian==2.8.7       # a local tool for this comparison, not a dependency
    .venv/bin/python -m bench.serving [--duration 8] [--rounds 3] [--connections 32] [--out serving.json]

Candidates (each a process of its own on cpu1, the app and its wiring identical: the
demo tenants on the seeded emulator, shipped + bench policies, every upstream on the
benchmark's nginx; cached human session, `GET /customer/bench/small`, 200 B):

- `gateway-serve`: `gateway serve` (uvicorn, uvloop, the gateway's protocol of
  `gateway.server.protocol`: head and body deadlines, 431, lingering close, its response writer);
- `uvicorn-httptools`: uvicorn's own httptools protocol, none of our limits (what ours adds or saves);
- `granian-asgi`: granian (Rust, hyper) `--interface asgi`, uvloop, one worker, one runtime thread;
- `granian-rsgi`: granian `--interface rsgi` through `bench.rsgi` (the ASGI app adapted).

Each is measured against nginx proxy_pass in the same rounds (interleaved A B C ..., medians):
rps and its share of proxy_pass, p50/p99, and CPU per request of the server's processes
(a granian worker is a child of its supervisor: both are counted). The limits each one
keeps are not measured here: docs/performance.md lists them per candidate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import nginx
from bench.gw import BENCH_POLICIES, SHIPPED_POLICIES, bench_env, merge_policies, obtain_credentials
from bench.procs import Child, children, pinned, spawn, wait_http
from bench.world import start_backends
from bench.wrk import Sample, run_wrk
from tests.support.processes import clean_env, free_port

PATH = "/customer/bench/small"


@dataclass
class Candidate:
    name: str
    child: Child
    url: str

    def pids(self) -> tuple[int, ...]:
        return (self.child.pid, *children(self.child.pid))


def commands(port: int) -> dict[str, list[str]]:
    py = sys.executable
    uvicorn = [py, "-m", "uvicorn", "--factory", "gateway.server.factory:app", "--port", str(port)]
    uvicorn += ["--interface", "asgi3"]  # the app's __call__ returns a coroutine: not guessed
    uvicorn += ["--loop", "uvloop", "--no-access-log", "--no-proxy-headers", "--no-server-header", "--no-date-header"]
    granian = [str(Path(py).parent / "granian"), "--factory", "--loop", "uvloop", "--workers", "1"]
    granian += ["--runtime-threads", "1", "--no-ws", "--log-level", "warning", "--port", str(port)]
    return {
        "gateway-serve": [py, "-m", "gateway", "serve"],
        "uvicorn-httptools": [*uvicorn, "--http", "httptools", "--log-level", "warning"],
        "granian-asgi": [*granian, "--interface", "asgi", "gateway.server.factory:app"],
        "granian-rsgi": [*granian, "--interface", "rsgi", "bench.rsgi:app"],
    }


@contextlib.contextmanager
def candidates(workdir: Path, emulator_url: str, upstream_url: str, names: Sequence[str]) -> Iterator[list[Candidate]]:
    policies = merge_policies(workdir / "policies", (SHIPPED_POLICIES, BENCH_POLICIES))
    started: list[Candidate] = []
    try:
        for name in names:
            port = free_port()
            args = commands(port)[name]
            if name.startswith("granian") and shutil.which(args[0]) is None:
                print(f"{name}: granian is not installed (pip install granian==2.8.7); left out", flush=True)
                continue
            env = clean_env(bench_env(port, emulator_url, upstream_url, policies))
            child = spawn(name, pinned(1, args), workdir / f"{name}.log", env)
            candidate = Candidate(name, child, f"http://127.0.0.1:{port}")
            started.append(candidate)
            wait_http(child, candidate.url + "/healthz", timeout=120)
        yield started
    finally:
        for candidate in started:
            candidate.child.stop()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-serving-")))
        backends = stack.enter_context(start_backends(tmp))
        proxy = nginx.start_proxy(tmp / "nginx-proxy", backends.upstream)
        stack.callback(proxy.stop)
        token = obtain_credentials(backends.emulator.base_url).human
        headers = (("Authorization", f"Bearer {token}"),)
        found = stack.enter_context(candidates(tmp, backends.emulator.base_url, backends.upstream.url, args.only))
        targets: dict[str, tuple[str, tuple[tuple[str, str], ...], tuple[int, ...]]] = {
            "nginx-proxy_pass": (proxy.url + "/bench/small", (), tuple(proxy.workers))
        }
        expected = httpx.get(proxy.url + "/bench/small").content
        for c in found:
            got = httpx.get(c.url + PATH, headers=dict(headers), timeout=15)
            if got.status_code != 200 or got.content != expected:
                raise RuntimeError(f"{c.name}: {got.status_code} {got.content[:200]!r}")
            targets[c.name] = (c.url + PATH, headers, c.pids())
        for url, hdrs, pids in targets.values():
            run_wrk(url, hdrs, args.connections, 1, pids)  # warm
        samples: dict[str, list[Sample]] = {name: [] for name in targets}
        for round_no in range(args.rounds):
            for name, (url, hdrs, pids) in targets.items():
                sample = run_wrk(url, hdrs, args.connections, args.duration, pids)
                samples[name].append(sample)
                print(
                    f"round {round_no + 1} {name:20s} {sample.rps:9.0f} rps  cpu {sample.cpu_us} us/req  "
                    f"p99 {sample.p99_ms:.2f} ms",
                    flush=True,
                )
    return summarise(samples, args)


def summarise(samples: dict[str, list[Sample]], args: argparse.Namespace) -> dict[str, Any]:
    reference = samples["nginx-proxy_pass"]
    rows = {}
    for name, got in samples.items():
        shares = [s.rps / r.rps for s, r in zip(got, reference, strict=True) if r.rps]
        rows[name] = {
            "rps": round(statistics.median(s.rps for s in got)),
            "share_of_proxy_pass": round(100 * statistics.median(shares), 1),
            "cpu_us_per_request": round(statistics.median(s.cpu_us or 0.0 for s in got), 1),
            "p50_ms": round(statistics.median(s.p50_ms for s in got), 3),
            "p99_ms": round(statistics.median(s.p99_ms for s in got), 2),
            "errors": sum(s.errors + s.non_2xx for s in got),
        }
    return {
        "route": f"GET {PATH} (cached human session, 200 B)",
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "candidates": rows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--only", nargs="*", default=list(commands(0)), choices=list(commands(0)))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    result = measure(args)
    print(f"\n{'candidate':20s} {'rps':>8s} {'% proxy_pass':>12s} {'CPU us/req':>10s} {'p50 ms':>7s} {'p99 ms':>7s}")
    for name, row in result["candidates"].items():
        print(
            f"{name:20s} {row['rps']:8d} {row['share_of_proxy_pass']:11.1f}% {row['cpu_us_per_request']:10.1f} "
            f"{row['p50_ms']:7.3f} {row['p99_ms']:7.2f}"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
