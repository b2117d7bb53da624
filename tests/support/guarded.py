"""A Durably service that trusts only the gateway, and a gateway in front of it, on the
session world's emulator:

    with guarded_jobs(world, tmp_path) as guarded:      # tests.support.world.World
        httpx.get(guarded.url + "/customer/api/durably/runs", headers=world.bearer("alice"))
        guarded.durably.recorder.requests()

Durably (tests/durably/server.mjs) runs its auth hooks on the gateway's
`X-Identity-Assertion` (tests/durably/assertion.mjs: verified against the gateway's
`/.well-known/jwks.json`, `iss` the gateway's public URL, `aud` `jobs`). The gateway's
signing keys are PEM files in `keys` (`GATEWAY_ASSERTION_KEYS_DIR`), so a test can sign
assertions with the gateway's own key (`signer`) and show what else the service checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import ECKey

from gateway.forward.assertion import AssertionSigner
from tests.support.durably import DurablyServer, durably_server
from tests.support.processes import Proc, free_port, gateway_process
from tests.support.seed import TENANTS
from tests.support.world import World


@dataclass
class Guarded:
    durably: DurablyServer
    gateway: Proc
    keys: Path

    @property
    def url(self) -> str:
        return self.gateway.url

    def signer(self, issuer: str | None = None, clock: Callable[[], float] | None = None) -> AssertionSigner:
        """An assertion signer with the gateway's own keys (another issuer or clock if given)."""
        if clock is None:
            return AssertionSigner(issuer or self.url, TENANTS, self.keys)
        return AssertionSigner(issuer or self.url, TENANTS, self.keys, clock=clock)


def write_keys(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for tenant in TENANTS:
        (folder / f"{tenant}.pem").write_bytes(ECKey.generate_key("P-256", private=True).as_pem(private=True))
    return folder


@contextmanager
def guarded_jobs(
    world: World,
    tmp: Path,
    gateway_env: Mapping[str, str] | None = None,
    durably_env: Mapping[str, str] | None = None,
) -> Iterator[Guarded]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    keys = write_keys(tmp / "assertion-keys")
    guard = {
        "DURABLY_GATEWAY_JWKS_URL": f"{url}/.well-known/jwks.json",
        "DURABLY_GATEWAY_ISSUER": url,
        "DURABLY_GATEWAY_AUDIENCE": "jobs",
        "DURABLY_SSE_THROTTLE_MS": "0",
    }
    with durably_server(env=guard | dict(durably_env or {})) as durably:
        env = world.env | {
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "GATEWAY_PUBLIC_URL": url,
            "GATEWAY_UPSTREAM_JOBS_URL": durably.base_url,
            "GATEWAY_ASSERTION_KEYS_DIR": str(keys),
        }
        with gateway_process(env | dict(gateway_env or {})) as gateway:
            yield Guarded(durably, gateway, keys)
