"""The gateway against nginx, by the method of docs/performance.md.

    .venv/bin/python -m bench.run [--quick] [--duration 10] [--rounds 3] [--out results.json]

Upstream nginx and wrk on cpu0, the proxy under test (gateway, or the nginx proxy_pass
reference) alone on cpu1; configurations interleaved round after round; medians, and
ratios against nginx proxy_pass and the upstream direct measured in the same run.
Exits non-zero if any configuration fails (errors, non-2xx, a wrong body).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import instructions, report, scaling
from bench.burst import cold_burst
from bench.gw import Gateway, repin, spawn_gateway, wait_ready
from bench.memory import cache_memory
from bench.report import Config
from bench.workers import measure_workers
from bench.world import SIZES, Backends, Target, World, start_backends, start_world
from bench.wrk import Sample, run_wrk
from tests.support.seed import client_token, login


@dataclass(frozen=True)
class Plan:
    quick: bool
    duration: float
    rounds: int
    connections: tuple[int, ...]
    memory_decisions: int
    memory_overflow: int

    @property
    def high(self) -> int:
        return max(self.connections)


def plan_from(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(True, args.duration or 1, args.rounds or 1, (4,), 5_000, 1_000)
    return Plan(False, args.duration or 10, args.rounds or 3, (1, 32), 100_000, 50_000)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="CI smoke: 1 s runs, 1 round, c4 (< 60 s)")
    p.add_argument("--duration", type=float, default=None, help="seconds per wrk run (default 10; quick 1)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; quick 1)")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--skip-extras", action="store_true", help="only the throughput matrix")
    p.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per request by configuration size (bench.instructions, ~7 min)",
    )
    return p.parse_args(argv)


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


# --- the matrix ---------------------------------------------------------------------


def configurations(targets: Sequence[Target], connections: Sequence[int]) -> list[Config]:
    """Grouped by (body, connections) so a gateway run sits next to its references."""
    return [
        Config(t.name, t.role, size, conns, t.urls[size], t.headers, t.cpu_pids)
        for size in SIZES
        for conns in connections
        for t in targets
    ]


def preflight(targets: Sequence[Target]) -> list[str]:
    """One request per URL: 200 and exactly the upstream's body (this also caches the credentials)."""
    problems = []
    for t in targets:
        for size in SIZES:
            try:
                resp = httpx.get(t.urls[size], headers=dict(t.headers), timeout=15)
            except httpx.TransportError as exc:
                problems.append(f"{t.name}/{size}: {exc!r}")
                continue
            if resp.status_code != 200 or resp.content != t.expect[size]:
                problems.append(
                    f"{t.name}/{size}: status {resp.status_code}, {len(resp.content)} bytes "
                    f"(want 200, {len(t.expect[size])}): {resp.content[:200]!r}"
                )
    return problems


def measure(configs: Sequence[Config], plan: Plan, failures: list[str]) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {c.key: [] for c in configs}
    for round_no in range(plan.rounds):
        for cfg in configs:
            try:
                sample = run_wrk(cfg.url, cfg.headers, cfg.connections, plan.duration, cfg.cpu_pids)
            except (RuntimeError, OSError) as exc:
                failures.append(f"{cfg.key}: {exc}")
                continue
            samples[cfg.key].append(sample)
            log(
                f"round {round_no + 1}/{plan.rounds} {cfg.key:<36} {sample.rps:>9.0f} rps  "
                f"p50 {sample.p50_ms:.3f} ms  p99 {sample.p99_ms:.2f} ms  cpu {sample.cpu_us} us/req"
            )
    return samples


def row_failures(rows: Sequence[dict[str, Any]]) -> list[str]:
    return [
        f"{r['name']}: rps {r['rps']}, errors {r['errors']}, non-2xx {r['non_2xx']}"
        for r in rows
        if r["rps"] <= 0 or r["errors"] or r["non_2xx"]
    ]


# --- configuration size -------------------------------------------------------------


@dataclass
class Scaling:
    """The two configuration-size gateways, spawned (possibly early) and measured later."""

    gateways: dict[str, Gateway]
    spawned: float


def spawn_scaling(backends: Backends, workdir: Path, stack: contextlib.ExitStack) -> Scaling:
    gateways = {}
    for shape in (scaling.SMALL, scaling.LARGE):
        env = scaling.shape_env(workdir / shape.name, shape, backends.emulator.base_url, backends.upstream.url)
        gw = spawn_gateway(f"gateway-{shape.name}", env, workdir / f"{shape.name}.log", cpu=None)
        stack.callback(gw.stop)
        gateways[shape.name] = gw
    return Scaling(gateways, time.monotonic())


def measure_scaling(world: World, plan: Plan, spawned: Scaling, failures: list[str]) -> dict[str, Any]:
    headers = (("Authorization", f"Bearer {world.credentials.human}"),)
    ready: dict[str, float] = {}
    for name, gw in spawned.gateways.items():
        wait_ready(gw, timeout=300)
        ready[name] = round(time.monotonic() - spawned.spawned, 2)
        repin(gw, 1)
        resp = httpx.get(gw.url + "/customer/bench/small", headers=dict(headers), timeout=15)
        if resp.status_code != 200:
            failures.append(f"scaling {name}: preflight status {resp.status_code}")
    samples: dict[str, list[Sample]] = {name: [] for name in spawned.gateways}
    for _ in range(plan.rounds):
        for name, gw in spawned.gateways.items():
            sample = run_wrk(gw.url + "/customer/bench/small", headers, plan.high, plan.duration, (gw.pid,))
            samples[name].append(sample)
            log(f"scaling {name:<26} {sample.rps:>9.0f} rps  cpu {sample.cpu_us} us/req")
    return _scaling_result(ready, samples, plan, failures)


def _scaling_result(
    ready: dict[str, float], samples: dict[str, list[Sample]], plan: Plan, failures: list[str]
) -> dict[str, Any]:
    small, large = samples[scaling.SMALL.name], samples[scaling.LARGE.name]
    for name, got in samples.items():
        if any(s.errors or s.non_2xx for s in got) or not got:
            failures.append(f"scaling {name}: errors in wrk output")
    cpu_small = report.median([s.cpu_us for s in small])
    cpu_large = report.median([s.cpu_us for s in large])
    return {
        "connections": plan.high,
        "route": "GET /customer/bench/small (cached human session)",
        "shapes": {
            name: {
                "rps": report.median([s.rps for s in got]),
                "cpu_us_per_request": report.median([s.cpu_us for s in got]),
                "p99_ms": report.median([s.p99_ms for s in got]),
                "ready_after_seconds": ready[name],
            }
            for name, got in samples.items()
        },
        "rps_ratio": report.share(large, small),
        "cpu_ratio": round(cpu_large / cpu_small, 4) if cpu_small and cpu_large else None,
    }


# --- cold burst ---------------------------------------------------------------------


def measure_bursts(world: World, failures: list[str]) -> dict[str, Any]:
    emu = world.emulator.base_url
    human = login(emu, "customer", "carol@acme.example", "carol-password")
    machine = client_token(emu, "dealer", "partner-inventory", "partner-inventory-secret", scope="inventory:read")
    results = {
        "human": cold_burst(world.gateway.url, emu, "/customer/bench/small", human),
        "machine": cold_burst(world.gateway.url, emu, "/dealer/partner-api/inventory", machine),
    }
    for kind, got in results.items():
        if got["ok"] != got["requests"]:
            failures.append(f"cold burst {kind}: {got['ok']}/{got['requests']} ok, statuses {got['statuses']}")
        log(f"cold burst {kind}: {got['ok']}/{got['requests']} ok, {got['ory_calls']} Ory call(s) {got['calls']}")
    return results


# --- main ---------------------------------------------------------------------------


def run(plan: Plan, skip_extras: bool, count_instructions: bool = False) -> dict[str, Any]:
    failures: list[str] = []
    results: dict[str, Any] = {"meta": _meta(plan)}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-bench-")))
        backends = stack.enter_context(start_backends(tmp))
        # quick mode: the 10,000-route gateway loads while the world starts
        early = spawn_scaling(backends, tmp, stack) if plan.quick and not skip_extras else None
        world = stack.enter_context(start_world(tmp, backends))
        log("world started")
        for gateway in early.gateways.values() if early else ():
            wait_ready(gateway, timeout=300)  # loaded before the matrix, which it would slow down
        results["skipped"] = world.skipped
        for name, why in world.skipped.items():
            log(f"skipped {name}: {why}")
        targets = world.targets()
        failures += preflight(targets)
        configs = configurations(targets, plan.connections)
        world.emulator.reset()
        samples = measure(configs, plan, failures)
        results["ory_calls_during_measurement"] = world.emulator.control("GET", "stats").json()["total"]
        results["configurations"] = report.summarise(configs, samples)
        failures += row_failures(results["configurations"])
        if not skip_extras:
            spawned = early or spawn_scaling(backends, tmp, stack)
            results["scaling"] = measure_scaling(world, plan, spawned, failures)
            results["cold_burst"] = measure_bursts(world, failures)
            results["workers"] = measure_workers(world, plan.high, plan.duration, plan.rounds, failures)
            log(f"workers: {results['workers']}")
    if not skip_extras:
        log("memory: filling the decision cache ...")
        results["memory"] = cache_memory(plan.memory_decisions, plan.memory_overflow)
    if count_instructions:
        results["instructions"] = instructions.measure(
            [scaling.SMALL, scaling.LARGE], 1000, instructions.BASE_REQUESTS, cache_sim=True
        )
    results["targets"] = report.targets(results["configurations"], results) if plan.high == 32 else []
    results["failures"] = failures
    results["ok"] = not failures
    return results


def _meta(plan: Plan) -> dict[str, Any]:
    return {
        "quick": plan.quick,
        "duration_s": plan.duration,
        "rounds": plan.rounds,
        "connections": list(plan.connections),
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pinning": "wrk + upstream nginx + emulator on cpu0; gateway / nginx proxy_pass on cpu1",
    }


def print_results(results: dict[str, Any]) -> None:
    sys.stderr.flush()
    print(report.table(results["configurations"]))
    for name, why in results.get("skipped", {}).items():
        print(f"skipped {name}: {why}")
    print(f"Ory calls during the measurement (cache refreshes): {results['ory_calls_during_measurement']}")
    if "scaling" in results:
        s = results["scaling"]
        shapes = ", ".join(
            f"{n}: {v['rps']:.0f} rps, {v['cpu_us_per_request']} us/req, ready after {v['ready_after_seconds']} s"
            for n, v in s["shapes"].items()
        )
        print(
            f"configuration size (c{s['connections']}): {shapes}; rps ratio {s['rps_ratio']}, "
            f"CPU ratio {s['cpu_ratio']}"
        )
    if "workers" in results:
        w = results["workers"]
        each = ", ".join(f"{n}: {v['rps']:.0f} rps, {v['cpu_us_per_request']} us/req" for n, v in w["gateways"].items())
        print(f"workers (c{w['connections']}): {each}; rps ratio {w['rps_ratio']}, CPU ratio {w['cpu_ratio']}")
    for kind, b in results.get("cold_burst", {}).items():
        print(f"cold burst ({kind}): {b['ok']}/{b['requests']} ok, {b['ory_calls']} Ory call(s) {b['calls']}")
    if "memory" in results:
        m = results["memory"]
        print(
            f"decision cache: {m['decisions']} decisions = {m['bytes'] / 2**20:.1f} MiB "
            f"({m['bytes_per_decision']:.0f} B each); after {m['inserted']} inserts: {m['entries_after']} "
            f"entries, {m['bytes_after'] / 2**20:.1f} MiB"
        )
    if "instructions" in results:
        i = results["instructions"]
        each = ", ".join(f"{n}: {v['Ir']:,.0f}" for n, v in i["per_request"].items())
        print(f"instructions per request (callgrind, event-loop thread): {each}; ratio {i.get('instructions_ratio')}")
    for t in results.get("targets", []):
        print(f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']}")
    for failure in results["failures"]:
        print(f"FAILED {failure}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = plan_from(args)
    results = run(plan, args.skip_extras, args.instructions)
    print_results(results)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
