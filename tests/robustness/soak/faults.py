"""The fault schedule: Ory, Keto, Redis and the upstreams go down in turn and come back.

    ory       SIGSTOP the Ory emulator (Kratos and Hydra hang; the gateway's 2 s Ory timeout
              runs out), SIGCONT after
    keto      SIGKILL the Keto emulator (connections refused), start a fresh one on the same
              port after (seeded the same: the same relationships)
    redis     SIGKILL redis-server, start a fresh, empty one on the same port after
    upstream  SIGKILL the echo and WebSocket upstreams and SIGSTOP Durably; start the two
              again on their ports and SIGCONT Durably after

Only the processes the soak started are signalled (by PID).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass

from tests.robustness.soak.stack import Stack

KINDS = ("ory", "keto", "redis", "upstream")


@dataclass
class Fault:
    kind: str
    start: float  # monotonic: the signal was sent
    restored: float = 0.0  # monotonic: the process answers again (0 while down)

    def overlaps(self, started: float, ended: float, recovery: float) -> bool:
        """A call that was in flight between the fault and `recovery` s after its end."""
        end = (self.restored or float("inf")) + recovery
        return ended >= self.start and started <= end


def _down(stack: Stack, kind: str) -> None:
    if kind == "ory":
        os.kill(stack.ory.pid, signal.SIGSTOP)
    elif kind == "keto":
        stack.keto.kill()
    elif kind == "redis":
        stack.redis.kill()
    else:
        stack.echo.kill()
        stack.live.kill()
        os.kill(stack.durably.process.pid, signal.SIGSTOP)


def _up(stack: Stack, kind: str) -> None:
    if kind == "ory":
        os.kill(stack.ory.pid, signal.SIGCONT)
    elif kind == "keto":
        stack.keto.start()
    elif kind == "redis":
        stack.redis.start()
    else:
        os.kill(stack.durably.process.pid, signal.SIGCONT)
        stack.echo.start()
        stack.live.start()


async def inject(stack: Stack, kind: str, down: float, log: list[Fault]) -> None:
    fault = Fault(kind, time.monotonic())
    log.append(fault)
    await asyncio.to_thread(_down, stack, kind)
    await asyncio.sleep(down)
    await asyncio.to_thread(_up, stack, kind)
    fault.restored = time.monotonic()


async def schedule(stack: Stack, first: float, down: float, gap: float, until: float, log: list[Fault]) -> None:
    """From `first` (monotonic) on: each kind in turn, `down` s down then `gap` s up, while
    a whole fault and its gap still fit before `until`."""
    await asyncio.sleep(max(0.0, first - time.monotonic()))
    n = 0
    while time.monotonic() + down + gap <= until:
        await inject(stack, KINDS[n % len(KINDS)], down, log)
        await asyncio.sleep(gap)
        n += 1
