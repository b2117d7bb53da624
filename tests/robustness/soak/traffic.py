"""The soak's callers, all in one event loop: HTTP workers drawing from the cases, SSE
subscribers holding Durably's live stream open, WebSocket sessions, and tricklers sending
bodies a byte at a time. Each call is recorded (`Call`); what can be judged from the answer
alone (the body's organization, error shapes) is judged at once into `Call.problem`."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from tests.robustness.soak.cases import CASES, JOBS, MARKER, SUBJECTS, Case

MISSING_RUN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a well-formed ULID no run has
SPOOF = {"X-Org-Id": "org-evil", "X-User-Id": "someone-else", "X_Client_Id": "someone-else"}
#: streams: (kind, who, tenant, chosen organization, organization)
STREAMS = (
    ("alice", "customer", None, "org-acme"),
    ("bob", "customer", None, "org-globex"),
    ("dana", "customer", "org-globex", "org-globex"),
    ("partner", "dealer", None, "org-partner"),
)
#: pseudo-cases for what is not a plain request/answer
SSE = {
    who: Case(f"sse-{who}", who, "GET", f"/{t}{JOBS}/runs/subscribe", 200, (t, o), "durably")
    for who, t, _, o in STREAMS
}
WS = {who: Case(f"ws-{who}", who, "GET", f"/{t}/live/x", 200, (t, o), "live") for who, t, _, o in STREAMS}
WS_DENIED = (
    Case("ws-bob-chooses-acme", "bob", "GET", "/customer/live/x", 403, None, "live", choose="org-acme"),
    Case("ws-anonymous", None, "GET", "/customer/live/x", 403, None, "live"),  # a refused handshake is 403
)
TRICKLE = {
    chunked: Case(f"trickle-{'chunked' if chunked else 'length'}", "alice", "POST", "/customer/w/trickle", 408)
    for chunked in (False, True)
}


@dataclass(slots=True)
class Call:
    case: Case
    seq: int
    started: float
    ended: float
    status: int  # 0: no answer (transport error)
    problem: str | None = None
    events: int = 0  # SSE events or WebSocket echoes seen
    early_end: bool = False  # a stream that ended before the caller left it


@dataclass
class Traffic:
    url: str
    creds: Mapping[str, Mapping[str, str]]
    calls: list[Call] = field(default_factory=list)
    stopping: bool = False
    bob_runs: list[str] = field(default_factory=list)
    _seq: int = 0

    def seq(self) -> int:
        self._seq += 1
        return self._seq

    def headers(self, case: Case) -> dict[str, str]:
        headers = dict(self.creds[case.who]) if case.who else {}
        if case.choose:
            headers["X-Organization-Id"] = case.choose
        if case.spoof:
            headers |= SPOOF
        return headers

    def target(self, case: Case, seq: int) -> str:
        path = (
            case.path + (self.bob_runs[-1] if self.bob_runs else MISSING_RUN) if case.path.endswith("=") else case.path
        )
        return f"{path}{'&' if '?' in path else '?'}who={case.who or 'anon'}&seq={seq}"


def body_problem(case: Case, status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """What is wrong with an answer, judged from the answer alone."""
    if status >= 400:
        if not headers.get("content-type", "").startswith("application/json"):
            return f"{status} without a JSON body"
        if status in (429, 503) and not headers.get("retry-after"):
            return f"{status} without Retry-After"
        return None
    markers = {(t.decode(), o.decode()) for t, o in MARKER.findall(body)}
    if markers - ({case.org} if case.org else set()):
        return f"another organization's marker: {sorted(markers)}"
    if case.upstream in ("faulty", "keto"):
        echo = json.loads(body)
        subject = SUBJECTS.get(case.who or "")
        seen = (echo["tenant"], echo["org"], echo["user"] or echo["client"])
        want = (*case.org, subject) if case.org else (case.path.split("/")[1], None, None)
        return None if seen == want else f"the upstream saw {seen}, not {want}"
    if case.upstream == "durably" and "/runs" in case.path:
        labels = {(r["labels"].get("tenant"), r["labels"].get("organizationId")) for r in json.loads(body)}
        return None if labels <= {case.org} else f"runs of {sorted(labels)}"
    return None


async def http_worker(traffic: Traffic, http: aiohttp.ClientSession, rng: random.Random) -> None:
    while not traffic.stopping:
        case = rng.choice(CASES)
        seq = traffic.seq()
        data = None
        if case.trigger and case.org:
            marker = f"MK.{case.org[0]}.{case.org[1]}.{seq}"
            doc = {"jobName": "echo", "input": {"marker": marker, "who": case.who, "seq": seq}, "labels": {"soak": "1"}}
            data = json.dumps(doc).encode()
        elif case.method == "POST":
            data = b"{}"
        headers = traffic.headers(case) | ({"Content-Type": "application/json"} if data else {})
        started = time.monotonic()
        try:
            async with http.request(
                case.method, traffic.url + traffic.target(case, seq), headers=headers, data=data
            ) as r:
                status, got, body = r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            traffic.calls.append(Call(case, seq, started, time.monotonic(), 0, f"no answer: {exc!r}"))
            continue
        call = Call(case, seq, started, time.monotonic(), status)
        try:
            call.problem = body_problem(case, status, got, body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            call.problem = f"unreadable answer {body[:200]!r}: {exc!r}"
        if case.name == "bob-trigger" and status == 200:
            traffic.bob_runs[-50:] = [*traffic.bob_runs[-49:], json.loads(body)["runId"]]
        traffic.calls.append(call)


def _event_problem(case: Case, line: bytes) -> str | None:
    markers = {(t.decode(), o.decode()) for t, o in MARKER.findall(line)}
    if case.org and markers - {case.org}:
        return f"another organization's marker in an event: {sorted(markers)}"
    with contextlib.suppress(ValueError):
        labels = json.loads(line[5:]).get("labels") or {}
        if labels and case.org and (labels.get("tenant"), labels.get("organizationId")) != case.org:
            return f"an event of {labels}"
    return None


async def sse_subscriber(
    traffic: Traffic, http: aiohttp.ClientSession, who: str, choose: str | None, hold: float
) -> None:
    case = SSE[who]
    while not traffic.stopping:
        seq, started = traffic.seq(), time.monotonic()
        headers = dict(traffic.creds[who]) | ({"X-Organization-Id": choose} if choose else {})
        call = Call(case, seq, started, started, 0)
        try:
            async with http.get(traffic.url + traffic.target(case, seq), headers=headers) as resp:
                call.status = resp.status
                if resp.status != 200:
                    call.problem = body_problem(
                        case, resp.status, {k.lower(): v for k, v in resp.headers.items()}, await resp.read()
                    )
                else:
                    await _read_events(resp, call, started + hold)
        except (TimeoutError, aiohttp.ClientError) as exc:
            call.early_end = True
            call.problem = None if call.status else f"no answer: {exc!r}"
        call.ended = time.monotonic()
        traffic.calls.append(call)
        if call.status != 200:
            await asyncio.sleep(0.5)


async def _read_events(resp: aiohttp.ClientResponse, call: Call, until: float) -> None:
    while (left := until - time.monotonic()) > 0:
        try:
            line = await asyncio.wait_for(resp.content.readline(), timeout=left)
        except TimeoutError:
            return
        if not line:
            call.early_end = True
            return
        if line.startswith(b"data:"):
            call.events += 1
            call.problem = call.problem or _event_problem(call.case, line)


async def ws_session(traffic: Traffic, http: aiohttp.ClientSession, who: str, choose: str | None, hold: float) -> None:
    denied = itertools.cycle(WS_DENIED)
    while not traffic.stopping:
        await _ws_once(traffic, http, WS[who], choose, hold)
        if who == "alice":  # one refused handshake per alice session
            await _ws_once(traffic, http, next(denied), None, 0)


async def _ws_once(traffic: Traffic, http: aiohttp.ClientSession, case: Case, choose: str | None, hold: float) -> None:
    seq, started = traffic.seq(), time.monotonic()
    headers = traffic.headers(case) | ({"X-Organization-Id": choose} if choose else {})
    call = Call(case, seq, started, started, 0)
    url = traffic.url.replace("http://", "ws://") + traffic.target(case, seq)
    try:
        async with http.ws_connect(url, headers=headers, heartbeat=None) as ws:
            call.status = 200
            hello = json.loads(await ws.receive_str(timeout=10))["headers"]
            seen = (hello.get("x-tenant"), hello.get("x-org-id"), hello.get("x-user-id") or hello.get("x-client-id"))
            want = (*case.org, SUBJECTS[case.who]) if case.org and case.who else None
            if seen != want:
                call.problem = f"the WebSocket upstream saw {seen}, not {want}"
            while time.monotonic() < started + hold:
                await ws.send_str(f"ping {call.events}")
                if await ws.receive_str(timeout=10) != f"echo:ping {call.events}":
                    call.problem = call.problem or "a wrong echo"
                call.events += 1
                await asyncio.sleep(0.5)
    except aiohttp.WSServerHandshakeError as exc:
        call.status = exc.status
    except (TimeoutError, aiohttp.ClientError, TypeError, ConnectionError) as exc:
        call.early_end = True  # TypeError: receive_str got a close frame
        call.problem = None if call.status else f"no answer: {exc!r}"
    call.ended = time.monotonic()
    traffic.calls.append(call)
    if call.status != 200:
        await asyncio.sleep(0.5)


async def trickler(traffic: Traffic, chunked: bool, every: float = 0.5) -> None:
    """A body announced and sent a byte every `every` s: the gateway must answer 408 (after
    GATEWAY_BODY_TIMEOUT) and forward nothing complete."""
    case = TRICKLE[chunked]
    host, port = traffic.url.removeprefix("http://").split(":")
    while not traffic.stopping:
        seq, started = traffic.seq(), time.monotonic()
        auth = "".join(f"{k}: {v}\r\n" for k, v in traffic.creds["alice"].items())
        framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 64"
        head = f"POST {traffic.target(case, seq)} HTTP/1.1\r\nHost: {host}\r\n{auth}{framing}\r\n"
        call = Call(case, seq, started, started, 0)
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError as exc:
            traffic.calls.append(Call(case, seq, started, time.monotonic(), 0, f"no connection: {exc!r}"))
            await asyncio.sleep(1)
            continue
        try:
            writer.write((head + "Content-Type: application/json\r\n\r\n").encode())
            answer = asyncio.ensure_future(reader.read(65536))
            for _ in range(int(20 / every)):
                writer.write(b"1\r\n \r\n" if chunked else b" ")
                done, _ = await asyncio.wait({answer}, timeout=every)
                if done:
                    break
            data = await asyncio.wait_for(answer, timeout=5)
            call.status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
            call.problem = None if call.status else f"no answer: {data[:100]!r}"
        except (TimeoutError, OSError, ValueError, IndexError) as exc:
            call.problem = f"no answer: {exc!r}"
        finally:
            writer.close()
        call.ended = time.monotonic()
        traffic.calls.append(call)
        if call.status != case.status:
            await asyncio.sleep(0.5)
