# ruff: noqa: E501  (the walkthrough is text to paste)
"""`gateway demo`: the emulator, the Durably sample and the gateway on one machine.

Everything runs from embedded defaults (the shipped `policies/` and `seed.yaml`
beside this file); the command prints curl commands to paste, then serves until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx

from gateway.cli.processes import stop_process
from gateway.demo.world import DemoWorld, demo_env, start_world, wait_until_up

HERE = Path(__file__).resolve().parent
#: erin's TOTP secret in seed.yaml (an authenticator app takes it as is)
ERIN_TOTP_SECRET = "ERINACMEDEMOTOTPSECRET2345ABCDEF"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="gateway port (default 8080)")
    parser.add_argument("--emulator-port", type=int, default=4455, help="Ory emulator port (default 4455)")
    parser.add_argument("--jobs-port", type=int, default=3001, help="Durably sample port (default 3001)")
    parser.add_argument("--inventory-port", type=int, default=3002, help="inventory sample port (default 3002)")
    parser.add_argument("--dashboard-port", type=int, default=3003, help="dashboard page's upstream (default 3003)")
    parser.add_argument("--policies", type=Path, default=None, help="policies folder (default: the shipped one)")
    parser.add_argument("--once", action="store_true", help="print the walkthrough, run it, and exit")


def run(args: argparse.Namespace) -> int:
    with start_world(args) as world:
        gateway = _start_gateway(world, args)
        try:
            wait_until_up(f"{world.gateway_url}/healthz", gateway, "the gateway")
            print(walkthrough(world))
            if args.once:
                return _run_walkthrough(world)
            print("Serving. Ctrl-C stops everything.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                gateway.wait()
        finally:
            stop_process(gateway)
    return 0


def _start_gateway(world: DemoWorld, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(demo_env(world, args.policies))
    return subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env)


def walkthrough(world: DemoWorld) -> str:
    gw, alice, bob, token = world.gateway_url, world.tokens["alice"], world.tokens["bob"], world.machine_token
    return f"""
Gateway demo is up.
  gateway          {gw}
  Ory emulator     {world.emulator_url}   (projects customer, admin, dealer)
  Durably sample   {world.jobs_url}/api/durably
  inventory sample {world.inventory_url}

In a browser: the jobs dashboard, Durably's own React client (sign in, see your organization's
runs live, trigger, retrigger, cancel, delete):
  {gw}/customer/
  people: alice@acme.example / alice-password   (org-acme, member: may trigger)
          bob@globex.example / bob-password     (org-globex, member)
          carol@acme.example / carol-password   (org-acme, viewer: the gateway refuses her trigger)
          dana@consult.example / dana-password  (member of org-acme, viewer of org-globex: she picks one,
                                                 or opens {gw}/customer/orgs/org-globex/)
          erin@acme.example / erin-password     (org-acme, member, with a second factor: TOTP secret
                                                 {ERIN_TOTP_SECRET}; the code now:
                                                 curl -s {world.emulator_url}/_emulator/projects/customer/identities/erin@acme.example/totp
                                                 or a recovery code: erin-recovery-1)

alice (customer tenant, org-acme, role member) and bob (customer tenant, org-globex) are logged in:
  export ALICE={alice}
  export BOB={bob}
dana (dana@consult.example) is a member of org-acme and a viewer of org-globex:
  export DANA={world.tokens["dana"]}

1. Allowed: alice triggers a job; the gateway stamps her organization into the labels
  curl -s -X POST {gw}/customer/api/durably/trigger -H "Authorization: Bearer $ALICE" \\
       -H 'content-type: application/json' -d '{{"jobName":"send-report","input":{{"reportId":"weekly"}}}}'
  curl -s "{gw}/customer/api/durably/runs" -H "Authorization: Bearer $ALICE"

2. Denied: alice labels a job with org-globex (403), and asks for org-globex's runs (she gets only her own)
  curl -s -X POST {gw}/customer/api/durably/trigger -H "Authorization: Bearer $ALICE" \\
       -H 'content-type: application/json' -d '{{"jobName":"send-report","input":{{}},"labels":{{"organizationId":"org-globex"}}}}'
  curl -s "{gw}/customer/api/durably/runs?label.organizationId=org-globex" -H "Authorization: Bearer $ALICE"

3. What the job service received (labels and identity headers set by the gateway), and a call that
   goes around the gateway (Durably checks the gateway's X-Identity-Assertion itself: 401):
  curl -s {world.jobs_url}/__recorder/requests | python3 -m json.tool | grep -E 'organizationId|x-org-id|"path"'
  curl -s {world.jobs_url}/api/durably/runs

4. A partner machine token from the gateway's token endpoint, then the partner API:
  export PARTNER=$(curl -s -u partner-inventory:partner-inventory-secret -d grant_type=client_credentials \\
       -d scope=inventory:read {gw}/dealer/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s {gw}/dealer/partner-api/inventory -H "Authorization: Bearer $PARTNER"

5. Explain a decision without calling anything (the demo's environment is in {world.env_file}):
  (set -a; . {world.env_file}; .venv/bin/gateway explain POST /customer/api/durably/trigger --as human --roles viewer --org org-acme)

6. Two organizations: dana chooses one per request (the URL, or X-Organization-Id), with that membership's role
  curl -s {gw}/customer/me -H "Authorization: Bearer $DANA"                                 # her memberships
  curl -s {gw}/customer/orgs/org-globex/api/durably/runs -H "Authorization: Bearer $DANA"   # org-globex's runs
  curl -s "{gw}/customer/api/durably/runs" -H "Authorization: Bearer $DANA"                  # 400 organization_required
  curl -s "{gw}/customer/api/durably/runs" -H "Authorization: Bearer $DANA" -H 'X-Organization-Id: org-globex'
  curl -s -X POST {gw}/customer/api/durably/trigger -H "Authorization: Bearer $DANA" -H 'X-Organization-Id: org-globex' \\
       -H 'content-type: application/json' -d '{{"jobName":"send-report","input":{{}}}}'     # 403: only a viewer there
  curl -s -X POST {gw}/customer/api/durably/trigger -H "Authorization: Bearer $DANA" -H 'X-Organization-Id: org-acme' \\
       -H 'content-type: application/json' -d '{{"jobName":"send-report","input":{{}}}}'     # allowed: a member there

7. Ory Permissions: reports are guarded by Keto (Report:<org>/<report>#view), the organization from the path
  curl -s {gw}/customer/orgs/org-globex/reports/forecast -H "Authorization: Bearer $DANA"    # allowed
  curl -s {gw}/customer/orgs/org-acme/reports/q3 -H "Authorization: Bearer $ALICE"           # allowed (Group:acme-finance)
  curl -s {gw}/customer/orgs/org-acme/reports/q3 -H "Authorization: Bearer $DANA"           # 403 permission_denied
  (set -a; . {world.env_file}; .venv/bin/gateway explain GET /customer/orgs/org-acme/reports/q3 --as human --roles member)

8. Sessions (docs/sessions.md): alice's session as a JWT, verified by the gateway without asking Ory,
   and her account behind a second factor ({gw}/customer/account in a browser: erin gives her TOTP code)
  export ALICE_JWT=$(curl -s "{world.emulator_url}/customer/sessions/whoami?tokenize_as=jwt" -H "X-Session-Token: $ALICE" \
       | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokenized"])')
  curl -s "{gw}/customer/api/durably/runs" -H "Authorization: Bearer $ALICE_JWT"
  curl -s "{gw}/customer/account" -H "Authorization: Bearer $ALICE"                       # 403 aal2_required

A ready machine token (dealer, partner-inventory): {token[:24]}...
"""


def _run_walkthrough(world: DemoWorld) -> int:
    """`--once`: run steps 1-3 and show what happened (used by the demo smoke test)."""
    gw = world.gateway_url
    alice = {"Authorization": f"Bearer {world.tokens['alice']}"}
    ok = httpx.post(f"{gw}/customer/api/durably/trigger", headers=alice, json={"jobName": "send-report", "input": {}})
    denied = httpx.post(
        f"{gw}/customer/api/durably/trigger",
        headers=alice,
        json={"jobName": "send-report", "input": {}, "labels": {"organizationId": "org-globex"}},
    )
    print(f"allowed trigger: {ok.status_code} {ok.text}")
    print(f"cross-org trigger: {denied.status_code} {denied.text}")
    seen = httpx.get(f"{world.jobs_url}/__recorder/requests").json()
    for item in seen:
        print(f"upstream received: {item.get('method')} {item.get('path')} body={item.get('body')}")
    return 0 if ok.status_code == 200 and denied.status_code == 403 else 1
