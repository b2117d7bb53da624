"""A label profile from a policy file, through a real gateway process to a recording upstream.

Custom profiles used to be compiled on the first labelled request: one with an unknown field
loaded cleanly and then answered 500 on every labelled route. Now they are compiled when the
policies load: a good one labels requests from the first, a bad one stops `gateway serve`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, Proc, gateway_process, run_gateway
from tests.support.world import World

TEAMS = """
label_profiles:
  teams:
    label_key: team
    base_path: ""
    operations:
      - {method: POST, path: /trigger, kind: trigger}
"""
ROUTE = """
tenant: customer
routes:
  - id: teams-trigger
    path: /teams/trigger
    methods: [POST]
    allow: {human: {}}
    forward: {upstream: inventory, path_prefix: /trigger}
    labels: teams
"""


def policies_with(directory: Path, profile: str) -> Path:
    for path in (ROOT / "policies").glob("*.yaml"):
        shutil.copy(path, directory / path.name)
    (directory / "teams.yaml").write_text(profile + ROUTE)
    return directory


@pytest.fixture(scope="module")
def teams_gateway(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    policies = policies_with(tmp_path_factory.mktemp("policies"), TEAMS)
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_LISTEN"} | {"GATEWAY_POLICIES_DIR": str(policies)}
    with gateway_process(env) as proc:
        yield proc


def test_a_custom_profile_labels_the_first_request(world: World, teams_gateway: Proc) -> None:
    world.inventory.clear()
    resp = httpx.post(
        teams_gateway.url + "/customer/teams/trigger",
        headers={**world.bearer("alice"), "Content-Type": "application/json"},
        content=b'{"jobName": "report", "input": {}}',
    )
    assert resp.status_code == 200, resp.text
    [received] = world.inventory.requests()
    assert received["target"] == "/trigger"
    org = dict((k.lower(), v) for k, v in received["headers"])["x-org-id"]
    assert org and json.loads(received["body"])["labels"] == {"team": org, "tenant": "customer"}


def test_a_bad_custom_profile_stops_the_server_at_start(world: World, tmp_path: Path) -> None:
    policies = policies_with(tmp_path, TEAMS.replace("    label_key: team\n", "    label_key: team\n    lable: x\n"))
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_LISTEN"} | {"GATEWAY_POLICIES_DIR": str(policies)}
    done = run_gateway("serve", env=env)
    assert done.returncode != 0
    assert f"{policies}/teams.yaml:5: label profile 'teams': lable: unknown field" in done.stderr, done.stderr
