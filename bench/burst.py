"""Cold burst: 100 concurrent requests carrying one credential the gateway has never seen.

Connections are opened first (on /healthz), then every request goes out at once; the
emulator's statistics (reset just before) count the Ory calls the burst caused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx


async def _get(session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]) -> int:
    async with session.get(url, headers=dict(headers)) as resp:
        await resp.read()
        return resp.status


async def _burst(base: str, path: str, headers: Mapping[str, str], n: int) -> list[int]:
    connector = aiohttp.TCPConnector(limit=n, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(_get(session, base + "/healthz", {}) for _ in range(n)))
        return list(await asyncio.gather(*(_get(session, base + path, headers) for _ in range(n))))


def cold_burst(gateway_url: str, emulator_url: str, path: str, credential: str, n: int = 100) -> dict[str, Any]:
    """Reset the emulator's counters, fire `n` requests at once with `credential`, count Ory calls."""
    httpx.post(emulator_url + "/_emulator/stats/reset").raise_for_status()
    statuses = asyncio.run(_burst(gateway_url, path, {"Authorization": f"Bearer {credential}"}, n))
    stats = httpx.get(emulator_url + "/_emulator/stats").json()
    calls = {
        f"{project}.{op}": count for project, ops in stats["projects"].items() for op, count in ops.items() if count
    }
    return {
        "requests": n,
        "ok": sum(1 for s in statuses if 200 <= s < 300),
        "statuses": sorted(set(statuses)),
        "ory_calls": int(stats["total"]),
        "calls": calls,
    }
