"""Child processes for the benchmark: spawn pinned, wait until they answer, CPU time, stop.

Unlike tests.support.processes.spawn, `spawn` returns at once: the benchmark starts slow
gateways early and waits for them later (`wait_http`), each log kept in the run's folder."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.cli.processes import stop_process
from tests.support.polling import poll
from tests.support.processes import answers

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        stop_process(self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def pinned(cpu: int, args: Sequence[str]) -> list[str]:
    """`taskset -c CPU args...` when the machine has that CPU, else `args` unchanged."""
    return ["taskset", "-c", str(cpu), *args] if cpu < (os.cpu_count() or 1) else list(args)


def spawn(name: str, args: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> Child:
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(args), cwd=ROOT, env=dict(env) if env is not None else None, stdout=out, stderr=subprocess.STDOUT
        )
    return Child(name, process, log)


def wait_http(child: Child, url: str, timeout: float = 60.0) -> None:
    """Poll `url` until anything answers; fail early if the child exits."""
    answered = answers(url)

    def up() -> bool:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{child.output()}")
        return answered()

    if not poll(up, timeout=timeout):
        raise RuntimeError(f"{child.name} did not answer at {url} within {timeout:.0f} s:\n{child.output()}")


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of every process in `pids` (whole thread groups), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total / CLK_TCK


def children(pid: int) -> list[int]:
    """Direct children of `pid` (nginx workers of a master)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found
