"""Medians, ratios against the references, the printed table and the performance targets."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.wrk import Sample


@dataclass(frozen=True)
class Config:
    target: str
    role: str
    size: str
    connections: int
    url: str
    headers: tuple[tuple[str, str], ...]
    cpu_pids: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.target}/{self.size}/c{self.connections}"

    def reference(self, role: str) -> str:
        name = {"direct": "upstream-direct", "proxy_pass": "nginx-proxy_pass"}[role]
        return f"{name}/{self.size}/c{self.connections}"


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def share(samples: Sequence[Sample], reference: Sequence[Sample]) -> float | None:
    """Median over rounds of rps / the reference's rps in the same round."""
    ratios = [s.rps / r.rps for s, r in zip(samples, reference, strict=False) if r.rps > 0]
    return round(statistics.median(ratios), 4) if ratios else None


def cpu_share(samples: Sequence[Sample], reference: Sequence[Sample]) -> float | None:
    """nginx proxy_pass CPU per request / ours: the share of its throughput on a core of our own."""
    ours, theirs = median([s.cpu_us for s in samples]), median([s.cpu_us for s in reference])
    return round(theirs / ours, 4) if ours and theirs else None


def summarise(configs: Sequence[Config], samples: Mapping[str, list[Sample]]) -> list[dict[str, Any]]:
    rows = []
    for cfg in configs:
        got = samples.get(cfg.key, [])
        rows.append(
            {
                "name": cfg.key,
                "target": cfg.target,
                "role": cfg.role,
                "size": cfg.size,
                "connections": cfg.connections,
                "rounds": len(got),
                "rps": median([s.rps for s in got]) or 0.0,
                "p50_ms": median([s.p50_ms for s in got]),
                "p99_ms": median([s.p99_ms for s in got]),
                "cpu_us_per_request": median([s.cpu_us for s in got]),
                "share_of_proxy_pass": share(got, samples.get(cfg.reference("proxy_pass"), [])),
                "share_of_direct": share(got, samples.get(cfg.reference("direct"), [])),
                "cpu_share_of_proxy_pass": cpu_share(got, samples.get(cfg.reference("proxy_pass"), [])),
                "errors": sum(s.errors for s in got),
                "non_2xx": sum(s.non_2xx for s in got),
                "samples": [s.as_dict() for s in got],
            }
        )
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f"{'configuration':<22} {'body':>6} {'conn':>4} {'rps':>9} {'%proxy':>7} {'%direct':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} {'%proxy CPU':>10} {'err':>4}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['target']:<22} {r['size']:>6} {r['connections']:>4} {r['rps']:>9.0f} "
            f"{_pct(r['share_of_proxy_pass']):>7} {_pct(r['share_of_direct']):>7} "
            f"{_fmt(r['p50_ms'], '.3f'):>7} {_fmt(r['p99_ms'], '.2f'):>7} "
            f"{_fmt(r['cpu_us_per_request'], '.0f'):>10} {_pct(r['cpu_share_of_proxy_pass']):>10} "
            f"{r['errors'] + r['non_2xx']:>4}"
        )
    return "\n".join(lines)


def _row(rows: Sequence[Mapping[str, Any]], target: str, size: str, conns: int) -> Mapping[str, Any] | None:
    return next((r for r in rows if (r["target"], r["size"], r["connections"]) == (target, size, conns)), None)


def _check(what: str, value: float | None, ok: bool) -> dict[str, Any]:
    return {"target": what, "value": value, "met": ok}


def targets(rows: Sequence[Mapping[str, Any]], extra: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The performance targets (docs/performance.md, "Targets"), evaluated on this run (only meaningful at c32)."""
    out: list[dict[str, Any]] = []
    for name in ("gateway-human", "gateway-machine", "gateway-durably"):
        hi, lo, big = _row(rows, name, "200B", 32), _row(rows, name, "200B", 1), _row(rows, name, "64KiB", 32)
        if hi is not None:
            s, p99 = hi["share_of_proxy_pass"], hi["p99_ms"]
            out.append(_check(f"{name} 200B c32 >= 12% of proxy_pass", s, s is not None and s >= 0.12))
            out.append(_check(f"{name} 200B c32 p99 < 25 ms", p99, p99 is not None and p99 < 25))
        if lo is not None:
            p50 = lo["p50_ms"]
            out.append(_check(f"{name} 200B c1 p50 < 0.4 ms", p50, p50 is not None and p50 < 0.4))
        if big is not None:
            s = big["share_of_proxy_pass"]
            out.append(_check(f"{name} 64KiB c32 >= 30% of proxy_pass", s, s is not None and s >= 0.30))
    out += _edge_targets(rows)
    auth = _row(rows, "nginx-auth_request", "200B", 32)
    if auth is not None:
        s = auth["share_of_proxy_pass"]
        out.append(_check("nginx auth_request 200B c32 >= 25% of proxy_pass", s, s is not None and s >= 0.25))
    scaling = extra.get("scaling") or {}
    if scaling.get("rps_ratio") is not None:
        ratio = scaling["rps_ratio"]
        out.append(_check("10,000 routes + 100 tenants within 5% of 3 + 3 (rps)", ratio, ratio >= 0.95))
    if scaling.get("cpu_ratio") is not None:
        ratio = scaling["cpu_ratio"]
        out.append(_check("10,000 routes + 100 tenants within 5% of 3 + 3 (CPU per request)", ratio, ratio <= 1.05))
    counted = (extra.get("instructions") or {}).get("instructions_ratio")
    if counted is not None:
        what = "10,000 routes + 100 tenants within 5% of 3 + 3 (instructions per request, callgrind)"
        out.append(_check(what, counted, counted <= 1.05))
    workers = extra.get("workers") or {}
    if workers.get("cpu_ratio") is not None:
        ratio = workers["cpu_ratio"]
        out.append(
            _check("2 workers: CPU per request within 10% of 1 worker (scales with cores)", ratio, ratio <= 1.10)
        )
    for kind, burst in (extra.get("cold_burst") or {}).items():
        calls = burst.get("ory_calls")
        out.append(_check(f"cold burst of 100 ({kind}): exactly one Ory call", calls, calls == 1))
    return out


def _edge_targets(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Edge mode (docs/performance.md, "Edge mode"): cached plain routes close to nginx proxy_pass,
    the label route as fast as through the gateway."""
    out: list[dict[str, Any]] = []
    reference = _row(rows, "nginx-proxy_pass", "200B", 32)
    for name in ("edge-human", "edge-machine"):
        row = _row(rows, name, "200B", 32)
        if row is None or reference is None:
            continue
        s, p99, ref = row["share_of_proxy_pass"], row["p99_ms"], reference["p99_ms"]
        out.append(_check(f"{name} 200B c32 >= 55% of proxy_pass (goal 60%)", s, s is not None and s >= 0.55))
        ratio = round(p99 / ref, 3) if p99 and ref else None
        out.append(_check(f"{name} 200B c32 p99 within 1.5x of proxy_pass", ratio, ratio is not None and ratio <= 1.5))
    durably, alone = _row(rows, "edge-durably", "200B", 32), _row(rows, "gateway-durably", "200B", 32)
    if durably is not None and alone is not None and alone["share_of_proxy_pass"]:
        ratio = round(durably["share_of_proxy_pass"] / alone["share_of_proxy_pass"], 3)
        out.append(_check("edge-durably 200B c32 within 10% of the gateway alone", ratio, ratio >= 0.9))
    return out
