"""Everything the measurements need, started once: emulator, nginx upstream and proxy, gateway."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import nginx
from bench.gw import (
    BENCH_POLICIES,
    SHIPPED_POLICIES,
    Credentials,
    Gateway,
    bench_env,
    has_decisions,
    merge_policies,
    obtain_credentials,
    start_gateway,
)
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.seed import SEED, TENANTS

SIZES = ("200B", "64KiB")


@dataclass(frozen=True)
class Target:
    """One thing under load: a URL per body size, the headers to send, whose CPU to count."""

    name: str
    #: "direct" and "proxy_pass" are the references; everything else is compared against them
    role: str
    urls: dict[str, str]
    expect: dict[str, bytes]
    headers: tuple[tuple[str, str], ...] = ()
    cpu_pids: tuple[int, ...] = ()


@dataclass
class World:
    emulator: RunningEmulator
    upstream: nginx.Nginx
    proxy: nginx.Nginx
    gateway: Gateway
    credentials: Credentials
    workdir: Path
    #: nginx auth_request in front of the gateway's /decisions (None: the gateway has none)
    front: nginx.Nginx | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def targets(self) -> list[Target]:
        up, px, gw = self.upstream.url, self.proxy.url, self.gateway.url
        small, large = nginx.small_body(), nginx.large_body()
        runs = {"200B": nginx.runs_body(nginx.SMALL), "64KiB": nginx.runs_body(nginx.LARGE)}
        plain = {"200B": small, "64KiB": large}
        human = (("Authorization", f"Bearer {self.credentials.human}"),)
        machine = (("Authorization", f"Bearer {self.credentials.machine}"),)
        gw_pids = (self.gateway.pid,)
        found = [
            Target("upstream-direct", "direct", _sized(up + "/bench"), plain),
            Target("nginx-proxy_pass", "proxy_pass", _sized(px + "/bench"), plain, (), tuple(self.proxy.workers)),
            Target("gateway-human", "gateway", _sized(gw + "/customer/bench"), plain, human, gw_pids),
            Target(
                "gateway-machine",
                "gateway",
                {"200B": gw + "/dealer/partner-api/inventory", "64KiB": gw + "/dealer/bench/large"},
                plain,
                machine,
                gw_pids,
            ),
            Target(
                "gateway-durably",
                "gateway",
                {"200B": gw + "/customer/api/durably/runs", "64KiB": gw + "/customer/api/durably/runs?bench=large"},
                runs,
                human,
                gw_pids,
            ),
        ]
        if self.front is not None:
            auth = self.front.url + "/customer/bench"
            pids = (*self.front.workers, self.gateway.pid)
            found.append(Target("nginx-auth_request", "gateway", _sized(auth), plain, human, pids))
        return found

    def decisions_target(self) -> Target:
        """The gateway's forward-auth endpoint alone (what nginx auth_request calls): no upstream call."""
        human = (("Authorization", f"Bearer {self.credentials.human}"),)
        urls = _sized(self.gateway.url + "/decisions/customer/bench")
        return Target("gateway-decisions", "gateway", urls, {}, human, (self.gateway.pid,))


def _sized(base: str) -> dict[str, str]:
    return {"200B": base + "/small", "64KiB": base + "/large"}


@dataclass
class Backends:
    emulator: RunningEmulator
    upstream: nginx.Nginx


@contextlib.contextmanager
def start_backends(workdir: Path) -> Iterator[Backends]:
    """The Ory emulator (seeded) and the nginx upstream, both on cpu0."""
    with contextlib.ExitStack() as stack:
        emulator = stack.enter_context(start_emulator(TENANTS, seed=SEED))
        with contextlib.suppress(OSError):
            os.sched_setaffinity(emulator.process.pid, {0})
        upstream = nginx.start_upstream(workdir / "nginx-upstream")
        stack.callback(upstream.stop)
        yield Backends(emulator, upstream)


@contextlib.contextmanager
def start_world(workdir: Path, backends: Backends) -> Iterator[World]:
    """The gateway (shipped + bench policies), credentials, and the nginx proxy references."""
    emulator, upstream = backends.emulator, backends.upstream
    with contextlib.ExitStack() as stack:
        policies = merge_policies(workdir / "policies", (SHIPPED_POLICIES, BENCH_POLICIES))
        env = bench_env(0, emulator.base_url, upstream.url, policies)
        env.pop("GATEWAY_LISTEN")
        gateway = start_gateway("gateway", env, workdir / "gateway.log")
        stack.callback(gateway.stop)
        credentials = obtain_credentials(emulator.base_url)
        skipped: dict[str, str] = {}
        decisions = has_decisions(gateway, credentials.human)
        if not decisions:
            skipped["nginx-auth_request"] = (
                "the gateway has no forward-auth /decisions route family (gateway/app.py); configuration skipped"
            )
        proxy = nginx.start_proxy(workdir / "nginx-proxy", upstream)
        stack.callback(proxy.stop)
        front = nginx.start_front(workdir / "nginx-front", upstream, gateway.port) if decisions else None
        if front is not None:
            stack.callback(front.stop)
        yield World(emulator, upstream, proxy, gateway, credentials, workdir, front, skipped)
