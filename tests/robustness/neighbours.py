"""Two tenants on separate Ory emulators behind one gateway: `alpha` (the noisy one) and `beta`.

Each tenant's Kratos is the `customer` project of its own emulator process, so alpha's Ory can
be frozen (SIGSTOP) or flooded while beta's is untouched. The upstream is the faulty upstream
(echo, and SSE that never ends); routes: `/r/**` (people), `/s/**` (a stream), `/limited/**`
(3 a minute per principal). Used by tests/robustness/test_isolation.py and bench/neighbours.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import string
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.processes import Proc, answers, free_port, gateway_process, spawn
from tests.support.seed import PASSWORDS, SEED, login

POLICY = """\
tenants: [alpha, beta]
routes:
  - id: read
    path: /r/**
    methods: [GET]
    allow: {human: {}}
    forward: {upstream: rec}
  - id: stream
    path: /s/**
    methods: [GET]
    allow: {human: {}}
    forward: {upstream: rec}
    stream: true
  - id: limited
    path: /limited/**
    methods: [GET]
    allow: {human: {}}
    forward: {upstream: rec}
    rate_limit: {requests: 3, per: 1m, key: principal}
"""
#: the people of the seeded `customer` project, as each tenant's users
PEOPLE = ("alice", "bob", "dana")
ALNUM = string.ascii_letters + string.digits


@dataclass
class Neighbours:
    alpha: RunningEmulator
    beta: RunningEmulator
    upstream: Proc
    gateway: Proc
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.gateway.url

    def emulator(self, tenant: str) -> RunningEmulator:
        return self.alpha if tenant == "alpha" else self.beta

    def session(self, tenant: str, person: str = "alice") -> dict[str, str]:
        """A fresh session of `person` in `tenant`, as request headers."""
        _, email, password = PASSWORDS[person]
        return {"Authorization": f"Bearer {login(self.emulator(tenant).base_url, 'customer', email, password)}"}

    def whoami_calls(self, tenant: str) -> int:
        stats = self.emulator(tenant).control("GET", "stats").json()
        return int(stats["projects"].get("customer", {}).get("whoami", 0))

    def freeze(self, tenant: str) -> None:
        os.kill(self.emulator(tenant).process.pid, signal.SIGSTOP)

    def thaw(self, tenant: str) -> None:
        os.kill(self.emulator(tenant).process.pid, signal.SIGCONT)


def junk_token() -> str:
    """A session token of the right shape that no Kratos issued."""
    return "ory_st_" + "".join(secrets.choice(ALNUM) for _ in range(32))


def settings(alpha: str, beta: str, upstream: str, policies: Path, **extra: str) -> dict[str, str]:
    env = {
        "GATEWAY_TENANTS": "alpha,beta",
        "GATEWAY_DEFAULT_TENANT": "alpha",
        "GATEWAY_POLICIES_DIR": str(policies),
        "GATEWAY_UPSTREAM_REC_URL": upstream,
        "GATEWAY_LOG_LEVEL": "ERROR",
    }
    for name, url in (("ALPHA", alpha), ("BETA", beta)):
        env |= {
            f"GATEWAY_TENANT_{name}_MODE": "self-hosted",
            f"GATEWAY_TENANT_{name}_KRATOS_PUBLIC_URL": f"{url}/customer",
            f"GATEWAY_TENANT_{name}_TRANSPORT": "bearer",
        }
    return env | extra


@contextmanager
def neighbours(**extra: str) -> Iterator[Neighbours]:
    """The two emulators, the upstream and a gateway with `extra` settings."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="neighbours-")))
        (folder / "neighbours.yaml").write_text(POLICY)
        alpha = stack.enter_context(start_emulator(("customer",), seed=SEED))
        stack.callback(_thawed, alpha)
        beta = stack.enter_context(start_emulator(("customer",), seed=SEED))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "tests.robustness.faulty_upstream", "--port", str(port)]
        upstream = spawn(args, url, answers(url + "/__faulty/stats"))
        stack.callback(upstream.stop)
        env = settings(alpha.base_url, beta.base_url, url, folder, **extra)
        gateway = stack.enter_context(gateway_process(env))
        yield Neighbours(alpha, beta, upstream, gateway, env)


def _thawed(emulator: RunningEmulator) -> None:
    """A frozen emulator cannot be stopped: resume it first."""
    with suppress(ProcessLookupError):
        os.kill(emulator.process.pid, signal.SIGCONT)


def get(url: str, headers: Mapping[str, str], timeout: float = 10.0) -> httpx.Response:
    return httpx.get(url, headers=dict(headers), timeout=timeout)
