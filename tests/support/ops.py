"""Real processes for the operations tests (health, limits and shutdown, logs, metrics,
trusted proxies, Redis scale-out): an emulator, a recording upstream, a redis-server, and
gateways built from one environment with per-test overrides.

Fixtures (registered for every suite by tests/conftest.py, all started once per session):
`ops` (emulator + recorder + the shipped policies plus OPS_POLICY), `redis_server`, and two
gateway replicas sharing that Redis, `replica_a` and `replica_b`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.processes import (
    ROOT,
    Proc,
    Recorder,
    RedisServer,
    free_port,
    gateway_process,
    redis_process,
    start_recorder,
)
from tests.support.seed import SEED, TENANTS, gateway_env, login

ADMIN_TOKEN = "ops-admin-token-0123456789"
OPS_POLICY = """\
# Routes for the operations suites only.
tenant: customer

routes:
  - id: ops-healthz-shadow          # must never shadow the gateway's own /healthz
    path: /healthz
    methods: [GET]
    allow: anonymous
    forward: {upstream: inventory}

  - id: ops-sse
    path: /sse/**
    methods: [GET]
    allow: anonymous
    forward: {upstream: inventory}
    stream: true
    idle_timeout: 30

  - id: ops-dead
    path: /dead/**
    methods: [GET]
    allow: anonymous
    forward: {upstream: dead}

  - id: ops-limited                 # counted per person, across replicas when Redis is up
    path: /limited/**
    methods: [GET]
    allow:
      human: {roles: {any: [viewer, member]}}
    forward: {upstream: inventory}
    rate_limit: {requests: 6, per: 1m, key: principal}

  - id: ops-echo
    path: /echo/**
    methods: [GET, POST]
    allow:
      human: {roles: {any: [viewer, member]}}
    forward: {upstream: inventory}
"""


@dataclass
class Ops:
    emulator: RunningEmulator
    upstream: Recorder
    policies: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = gateway_env(free_port(), self.emulator.base_url, self.upstream.url, self.upstream.url)
        env |= {
            "GATEWAY_POLICIES_DIR": str(self.policies),
            "GATEWAY_TENANT_ADMIN_HOSTS": "admin.example",
            "GATEWAY_UPSTREAM_DEAD_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        }
        return env | extra

    def session(self, email: str = "alice@acme.example", password: str = "alice-password") -> str:
        return login(self.emulator.base_url, "customer", email, password)

    def whoami_calls(self) -> int:
        stats = self.emulator.control("GET", "stats").json()
        return int(stats["projects"].get("customer", {}).get("whoami", 0))

    def session_id(self, token: str) -> str:
        resp = httpx.get(self.emulator.project_url("customer") + "/sessions/whoami", headers={"X-Session-Token": token})
        resp.raise_for_status()
        return str(resp.json()["id"])

    def revoke_at_ory(self, session_id: str) -> None:
        resp = httpx.delete(
            self.emulator.project_url("customer") + f"/admin/sessions/{session_id}",
            headers={"Authorization": "Bearer ory_pat_customer_demo"},
        )
        assert resp.status_code == 204, resp.text


@pytest.fixture(scope="session")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    policies = tmp_path_factory.mktemp("policies")
    for source in (ROOT / "policies").glob("*.yaml"):
        shutil.copy(source, policies / source.name)
    (policies / "ops.yaml").write_text(OPS_POLICY)
    with start_emulator(TENANTS, seed=SEED) as emulator:
        recorder = start_recorder()
        try:
            yield Ops(emulator, Recorder(recorder.url), policies)
        finally:  # killed: its SSE loops outlive their clients, so a polite stop waits 10 s
            recorder.kill()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with redis_process() as server:
        yield server


@dataclass
class Replica:
    proc: Proc
    env: dict[str, str]
    metrics_url: str | None = None

    @property
    def url(self) -> str:
        return self.proc.url

    def output(self) -> str:
        return self.proc.output()


@pytest.fixture(scope="session")
def replica_a(ops: Ops, redis_server: RedisServer) -> Iterator[Replica]:
    """Trusts 127.0.0.1 as a proxy; Redis; admin endpoint; /metrics on the main port."""
    env = ops.env(
        GATEWAY_TRUSTED_PROXIES="127.0.0.1/32",
        GATEWAY_REDIS_URL=redis_server.url,
        GATEWAY_ADMIN_TOKEN=ADMIN_TOKEN,
        GATEWAY_TOKEN_RATE_PER_MINUTE="4",
    )
    with gateway_process(env) as proc:
        yield Replica(proc, env)


@pytest.fixture(scope="session")
def replica_b(ops: Ops, redis_server: RedisServer) -> Iterator[Replica]:
    """Trusts no proxy; Redis; no admin token; /metrics on its own port."""
    port = free_port()
    env = ops.env(
        GATEWAY_REDIS_URL=redis_server.url,
        GATEWAY_METRICS_LISTEN=f"127.0.0.1:{port}",
        GATEWAY_TOKEN_RATE_PER_MINUTE="4",
    )
    with gateway_process(env) as proc:
        yield Replica(proc, env, f"http://127.0.0.1:{port}")


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text output (0 if absent)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def access_lines(output: str) -> list[dict[str, object]]:
    """The JSON access-log lines of a gateway's output."""
    lines = []
    for line in output.splitlines():
        if line.startswith("{") and '"request_id"' in line and '"duration_ms"' in line:
            lines.append(json.loads(line))
    return lines
