"""Durably jobs through the gateway, for the end-to-end tests: trigger a run, wait for its
status, and read a live SSE stream (`SseStream`) as a browser tab would."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from tests.support.polling import eventually

JOBS = "/api/durably"


class SseStream:
    """Reads an SSE response incrementally in a thread; events (parsed `data:` JSON, or the
    raw text) arrive in `events` as they come. `ended` is set when the server ends the stream."""

    def __init__(self, base_url: str, path: str, headers: Mapping[str, str], params: Any = None) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, read=None))
        self.events: queue.Queue[Any] = queue.Queue()
        self.seen: list[Any] = []
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._opened = threading.Event()
        self.response: httpx.Response | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, args=(path, dict(headers), params), daemon=True)
        self._thread.start()
        if not self._opened.wait(10):
            raise AssertionError("the stream did not open within 10 s")
        if self.error is not None:
            raise self.error

    def _run(self, path: str, headers: dict[str, str], params: Any) -> None:
        try:
            with self.client.stream("GET", path, headers=headers, params=params) as resp:
                self.response = resp
                self._opened.set()
                if resp.status_code != 200:
                    resp.read()
                    return
                for line in resp.iter_lines():
                    if line.startswith("data:"):
                        raw = line[5:].strip()
                        try:
                            self.events.put(json.loads(raw))
                        except ValueError:
                            self.events.put(raw)
        except BaseException as exc:
            if not self._closing:
                self.error = exc
        finally:
            self._opened.set()
            self.ended.set()

    @property
    def status(self) -> int:
        assert self.response is not None
        return self.response.status_code

    def next(self, timeout: float = 10.0) -> Any:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s (seen: {self.seen})") from None
        self.seen.append(event)
        return event

    def until(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """Events until one matches `predicate` (all are kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if predicate(event):
                return event

    def drain(self) -> list[Any]:
        while True:
            try:
                self.seen.append(self.events.get_nowait())
            except queue.Empty:
                return self.seen

    def close(self) -> None:
        """Close the connection the way a browser tab does (FIN now, not when a read returns)."""
        self._closing = True
        if self.response is not None:
            stream = self.response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:  # a blocked reader thread would otherwise keep the socket open
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.response.close()
        self.client.close()
        self._thread.join(5)

    def __enter__(self) -> SseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def trigger(http: httpx.Client, tenant: str, auth: Mapping[str, str], body: Mapping[str, Any]) -> httpx.Response:
    return http.post(f"/{tenant}{JOBS}/trigger", headers=dict(auth), json=dict(body))


def run_id(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    return str(resp.json()["runId"])


def wait_status(
    http: httpx.Client, tenant: str, auth: Mapping[str, str], rid: str, statuses: set[str], timeout: float = 15.0
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        run: dict[str, Any] = http.get(f"/{tenant}{JOBS}/run", params={"runId": rid}, headers=dict(auth)).json()
        return run if run.get("status") in statuses else None

    return eventually(check, timeout=timeout, what=f"run {rid} in {statuses}")
