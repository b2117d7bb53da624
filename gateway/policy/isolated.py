"""Loading policies in a child process, for the long-running server.

Loading parses YAML, checks the JSON Schema and compiles matchers: for a large policy folder
seconds of CPU and many times more short-lived objects than the ones that stay. Done in the
serving process, a reload holds the GIL for those seconds while requests wait for it, and
the garbage stays in the heap as free-but-kept memory. Here a child does the loading and
the server only unpickles the finished `PolicySet`, a small part of the load's time
(figures: docs/performance.md).

The child is this same interpreter running this module: it reads the folder and the
settings (pickled, on stdin) and writes back, pickled, either the policy set or the list of
problems. It is trusted as the serving process is: same code, same user."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import gateway
from gateway.config.problems import ConfigError
from gateway.config.settings import Settings
from gateway.policy.loader import load_policies
from gateway.policy.policy_set import PolicySet

#: a large load takes seconds; this only stops a hung child
TIMEOUT_SECONDS = 300.0


def load_isolated(directory: Path, settings: Settings) -> PolicySet:
    """`load_policies(directory, settings)`, run in a child process."""
    package_root = str(Path(gateway.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__],
            input=pickle.dumps((directory, settings)),
            env=env,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError([f"{directory}: the policy loader did not finish: {exc}"]) from exc
    if done.returncode != 0 or not done.stdout:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ConfigError([f"{directory}: the policy loader failed (exit {done.returncode}): {last}"])
    result: PolicySet | list[str] = pickle.loads(done.stdout)
    if isinstance(result, list):
        raise ConfigError(result)
    return result


def _child() -> None:
    directory, settings = pickle.loads(sys.stdin.buffer.read())
    result: PolicySet | list[str]
    try:
        result = load_policies(directory, settings)
    except ConfigError as exc:
        result = exc.problems
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    _child()
