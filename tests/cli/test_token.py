"""`gateway token` (gateway.cli.token): a client-credentials token as JSON from the live
world's Hydra, and bad input as one clear line."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.processes import run_gateway
from tests.support.world import World


def gateway_token(world: World, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_gateway("token", *args, env=env or world.env, timeout=30)


def test_cli_prints_the_token_json(world: World) -> None:
    result = gateway_token(world, "--tenant", "dealer", "--scope", "inventory:read", "--scope", "jobs:read")
    assert result.returncode == 0, result.stderr
    token = json.loads(result.stdout)
    assert set(token) == {"access_token", "token_type", "expires_in", "scope"}
    assert token["scope"] == "inventory:read jobs:read"


@pytest.mark.parametrize(
    ("args", "env_change", "message"),
    [
        (["--tenant", "nowhere", "--scope", "x"], {}, "error: tenant 'nowhere': unknown_tenant"),
        (["--tenant", "customer"], {}, "GATEWAY_TENANT_CUSTOMER_CLIENT_ID"),
        (["--tenant", "dealer"], {"GATEWAY_TENANT_DEALER_CLIENT_SECRET": ""}, "GATEWAY_TENANT_DEALER_CLIENT_SECRET"),
        (["--tenant", "dealer", "--scope", "admin:all"], {}, "error: tenant 'dealer': invalid_scope"),
        (["--tenant", "dealer"], {"GATEWAY_TENANT_DEALER_CLIENT_SECRET": "wrong"}, "tenant 'dealer': invalid_client"),
    ],
    ids=["unknown-tenant", "no-client", "no-secret", "invalid-scope", "wrong-secret"],
)
def test_cli_bad_input_is_one_clear_line(
    world: World, args: list[str], env_change: dict[str, str], message: str
) -> None:
    result = gateway_token(world, *args, env=world.env | env_change)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr and result.stdout == ""
