"""Real processes for tests: start one, wait until it answers, stop it.

    with gateway_process(env) as gateway:      # `gateway serve` under uvicorn
        httpx.get(gateway.url + "/healthz")
    with recording_upstream() as upstream:     # tests.support.recorder
        upstream.requests()
    with redis_process() as redis:             # a throw-away redis-server
        redis.kill(); redis.start()
    with websocket_gateway(world.env, tmp, POLICY) as gateway:   # upstream `live`: a WebSocket echo

`spawn` is the one way in: the command runs from the repository root with this process's
environment minus every `GATEWAY_*` variable (plus the caller's), its output goes to a log
file that failures quote, and it is handed back only once `ready()` is true (polled with
tests.support.polling). It is stopped with gateway.cli.processes.stop_process.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from gateway.cli.processes import stop_process
from tests.support.polling import eventually

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nothing listens on now (the OS's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL: for a crash, or a process whose polite stop would wait (open streams)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any GATEWAY_* variable, plus `extra`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | dict(extra or {})


def run_gateway(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m gateway ARGS` run to its end from the repository root, in `clean_env(env)`."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=clean_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def answers(url: str) -> Callable[[], bool]:
    """Ready when `url` answers HTTP at all (any status)."""

    def check() -> bool:
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            return False
        return True

    return check


def spawn(
    args: Sequence[str],
    url: str,
    ready: Callable[[], bool],
    env: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> Proc:
    """Start `args` and return it once `ready()`; if it exits or stays unready, stop it and fail."""
    log = Path(tempfile.mkstemp(prefix="proc-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(list(args), cwd=ROOT, env=clean_env(env), stdout=out, stderr=subprocess.STDOUT)
    proc = Proc(url, process, log)

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited with {process.returncode}:\n{proc.output()}")
        return ready()

    try:
        eventually(up, timeout=timeout, what=lambda: f"{args} to answer:\n{proc.output()}")
    except BaseException:
        proc.stop()
        raise
    return proc


@contextmanager
def running(
    args: Sequence[str], url: str, ready: Callable[[], bool], env: Mapping[str, str] | None = None
) -> Iterator[Proc]:
    """`spawn`, stopped when the block ends."""
    proc = spawn(args, url, ready, env)
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def gateway_process(env: Mapping[str, str], timeout: float = 60.0) -> Iterator[Proc]:
    """`gateway serve` with the shipped policies unless `env` names others, on a free port."""
    listen = env.get("GATEWAY_LISTEN") or f"127.0.0.1:{free_port()}"
    env = {"GATEWAY_POLICIES_DIR": str(ROOT / "policies"), **env, "GATEWAY_LISTEN": listen}
    url = f"http://{listen}"
    proc = spawn([sys.executable, "-m", "gateway", "serve"], url, answers(url + "/healthz"), env, timeout)
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def websocket_gateway(
    world_env: Mapping[str, str], policies: Path, policy: str, env: Mapping[str, str] | None = None
) -> Iterator[Proc]:
    """A gateway with the shipped policies plus `policy` (written to `policies`/live.yaml)
    whose upstream `live` is a WebSocket echo (`tests.support.wsecho`) started for it."""
    for path in (ROOT / "policies").glob("*.yaml"):
        shutil.copy(path, policies / path.name)
    (policies / "live.yaml").write_text(policy)
    port = free_port()
    health = f"http://127.0.0.1:{port}/health"
    echo = spawn([sys.executable, "-m", "tests.support.wsecho", "--port", str(port)], health, answers(health))
    settings = {k: v for k, v in world_env.items() if k != "GATEWAY_LISTEN"}
    settings |= {"GATEWAY_POLICIES_DIR": str(policies), "GATEWAY_UPSTREAM_LIVE_URL": f"http://127.0.0.1:{port}"}
    try:
        with gateway_process(settings | dict(env or {})) as proc:
            yield proc
    finally:
        echo.stop()


class Recorder:
    """Client for tests.support.recorder."""

    def __init__(self, url: str) -> None:
        self.url = url

    def requests(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = httpx.get(self.url + "/__recorder/requests").json()
        for item in items:
            item["body"] = base64.b64decode(item.pop("body_b64"))
        return items

    def clear(self) -> None:
        httpx.delete(self.url + "/__recorder/requests")


def start_recorder() -> Proc:
    """tests.support.recorder on a free port (stop it, or kill it if it served streams)."""
    url = f"http://127.0.0.1:{free_port()}"
    args = [sys.executable, "-m", "tests.support.recorder", "--port", url.rsplit(":", 1)[1]]
    return spawn(args, url, answers(url + "/__recorder/requests"))


@contextmanager
def recording_upstream() -> Iterator[Recorder]:
    proc = start_recorder()
    try:
        yield Recorder(proc.url)
    finally:
        proc.stop()


def header_values(recorded: dict[str, Any], name: str) -> list[str]:
    """Every value of `name` the upstream received, matched in every spelling."""
    want = name.lower().replace("_", "-").replace(".", "-")
    return [v for k, v in recorded["headers"] if k.lower().replace("_", "-").replace(".", "-") == want]


def pings(port: int) -> Callable[[], bool]:
    """Ready when a Redis server on `port` answers PING."""

    def check() -> bool:
        try:
            return bool(redis.Redis(port=port, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    return check


@dataclass
class RedisServer:
    """A redis-server on loopback without persistence; `kill()` it and `start()` it again."""

    port: int
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = spawn(args, self.url, pings(self.port), timeout=10)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()


@contextmanager
def redis_process(port: int | None = None) -> Iterator[RedisServer]:
    server = RedisServer(port or free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()
