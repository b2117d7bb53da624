"""First requests with a tokenized session: what one costs, and that it asks Ory nothing.

    .venv/bin/python -m bench.tokenized [--requests 200] [--out results.json]

The benchmark's gateway (shipped + bench policies, the demo's wiring: the customer tenant
takes session JWTs of the template `jwt`, `GATEWAY_TENANT_CUSTOMER_SESSION_JWKS_URL`) runs
under callgrind, and `GET /customer/bench/small` is asked with credentials it has never seen:

- `session-jwt`: a new session JWT per request (every `whoami?tokenize_as=jwt` signs a new
  one), decided by local verification (ES256) with the memberships from its claims;
- `session-token`: a new session token per request (a native login each), decided by a
  whoami call to the emulator.

Each request is a cache miss. Counted per request after a warm-up of `--base` requests (the
template's keys are fetched then): instructions of the event-loop thread (callgrind's Ir,
counters zeroed and dumped around the counted requests, as `bench.instructions --routes`
does), and the Ory calls the emulator counted during them (its statistics reset just before):
0 for session JWTs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.gw import BENCH_POLICIES, HUMAN, SHIPPED_POLICIES, bench_env, merge_policies
from bench.instructions import QUIET_SERVE, _control, _totals, _wait_for
from bench.procs import pinned, spawn, wait_http
from bench.world import start_backends
from tests.support.processes import clean_env, free_port
from tests.support.seed import login

PATH = "/customer/bench/small"


def session_jwt(emulator_url: str) -> Callable[[], str]:
    """A maker of new session JWTs of alice (one native login, then one whoami each)."""
    token = login(emulator_url, *HUMAN)
    client = httpx.Client(timeout=30, headers={"X-Session-Token": token})

    def make() -> str:
        answer = client.get(f"{emulator_url}/customer/sessions/whoami", params={"tokenize_as": "jwt"})
        answer.raise_for_status()
        return str(answer.json()["tokenized"])

    return make


def session_token(emulator_url: str) -> Callable[[], str]:
    """A maker of new session tokens of alice (a native login each)."""
    return lambda: login(emulator_url, *HUMAN)


MAKERS = {"session-jwt": session_jwt, "session-token": session_token}


def count(requests: int, base: int, workdir: Path) -> dict[str, dict[str, Any]]:
    with contextlib.ExitStack() as stack:
        backends = stack.enter_context(start_backends(workdir))
        emulator = backends.emulator.base_url
        policies = merge_policies(workdir / "policies", (SHIPPED_POLICIES, BENCH_POLICIES))
        port = free_port()
        env = clean_env({**bench_env(port, emulator, backends.upstream.url, policies), "PYTHONHASHSEED": "0"})
        out = workdir / "callgrind-tokenized.out"
        tool = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--cache-sim=no"]
        args = pinned(1, [*tool, f"--callgrind-out-file={out}", sys.executable, "-c", QUIET_SERVE])
        child = spawn("gateway-tokenized", args, workdir / "g.log", env)
        stack.callback(child.stop)
        url = f"http://127.0.0.1:{port}"
        wait_http(child, url + "/healthz", timeout=2400)
        found: dict[str, dict[str, Any]] = {}
        for dump, (name, maker) in enumerate(MAKERS.items(), start=1):
            make = maker(emulator)
            credentials = [make() for _ in range(base + requests)]  # made before any counting
            with httpx.Client(base_url=url, timeout=120) as client:
                _send(client, credentials[:base])
                httpx.post(emulator + "/_emulator/stats/reset").raise_for_status()
                _control(child.pid, "--zero")
                started = time.monotonic()
                _send(client, credentials[base:])
                _control(child.pid, "--dump")
                took = time.monotonic() - started
            ory_calls = int(httpx.get(emulator + "/_emulator/stats").json()["total"])
            totals = _totals(_wait_for(Path(f"{out}.{dump}-01")))  # the event loop's thread
            found[name] = {"Ir": round(totals["Ir"] / requests, 1), "ory_calls": ory_calls, "seconds": round(took, 1)}
            print(
                f"{name:14s} {found[name]['Ir']:>11,.0f} instructions per first request, "
                f"{ory_calls} Ory calls for {requests} requests",
                flush=True,
            )
    return found


def _send(client: httpx.Client, credentials: Sequence[str]) -> None:
    for credential in credentials:
        answer = client.get(PATH, headers={"Authorization": f"Bearer {credential}"})
        if answer.status_code != 200:
            raise RuntimeError(f"{PATH} answered {answer.status_code}: {answer.text[:200]}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tokenized", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=200, help="first requests counted per credential (default 200)")
    p.add_argument("--base", type=int, default=20, help="warm-up requests before counting (default 20)")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gateway-tokenized-") as tmp:
        result = {"path": PATH, "requests": args.requests, "per_credential": count(args.requests, args.base, Path(tmp))}
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
