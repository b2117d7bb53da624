"""The live policy set: swapped whole on reload, never edited in place.

Requests read `PolicyStore.current` once and keep that `PolicySet` for their
whole life, so a reload never changes the rules under a request in flight. A
new set that does not load is rejected: the old one stays and the errors are
logged (logger ``gateway.policy``). SIGHUP runs `reload()` in a worker thread; `watch()`
polls the folder's file contents every `interval` seconds and reloads on change. The
server loads through `gateway.policy.isolated` (a child process).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from gateway.config.problems import ConfigError
from gateway.config.settings import Settings
from gateway.policy.loader import load_policies, policy_files
from gateway.policy.policy_set import PolicySet

log = logging.getLogger("gateway.policy")
Loader = Callable[[Path, Settings], PolicySet]


def fingerprint(directory: Path) -> str:
    """A digest of the policy files' names and contents."""
    digest = hashlib.sha256()
    try:
        files = policy_files(directory)
    except OSError as exc:
        return f"unreadable: {exc}"
    for path in files:
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as exc:
            digest.update(str(exc).encode())
    return digest.hexdigest()


class PolicyStore:
    def __init__(
        self,
        directory: Path,
        settings: Settings,
        *,
        initial: PolicySet | None = None,
        loader: Loader = load_policies,
    ) -> None:
        self.directory, self.settings, self._loader = directory, settings, loader
        self._lock = threading.Lock()
        self._fingerprint = fingerprint(directory)
        #: the one attribute requests read; replaced whole by `reload`
        self.current: PolicySet = initial if initial is not None else loader(directory, settings)

    def reload(self) -> list[str]:
        """Load the folder again; on problems keep the current set and return them."""
        with self._lock:
            self._fingerprint = fingerprint(self.directory)
            try:
                fresh = self._loader(self.directory, self.settings)
            except ConfigError as exc:
                problems = exc.problems
            except Exception as exc:  # a bug must not take the serving set down with it
                log.exception("policy reload failed")
                problems = [f"{self.directory}: reload failed: {exc!r}"]
            else:
                self.current = fresh
                log.info("policies reloaded: %d routes", fresh.route_count)
                return []
        for problem in problems:
            log.error("policy reload rejected, keeping the previous set: %s", problem)
        return problems

    def reload_in_background(self) -> None:
        """What SIGHUP calls: the reload runs in a worker thread, the event loop keeps serving."""
        asyncio.get_running_loop().run_in_executor(None, self.reload)

    def changed(self) -> bool:
        return fingerprint(self.directory) != self._fingerprint

    async def poll_once(self) -> list[str] | None:
        """Reload if the files changed since the last attempt; None if they did not."""
        if not await asyncio.to_thread(self.changed):
            return None
        return await asyncio.to_thread(self.reload)

    async def watch(self, interval: float = 1.0) -> None:
        """Poll forever (cancel the task to stop)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.poll_once()
            except Exception:  # keep watching; the serving set is untouched
                log.exception("policy watcher poll failed")
