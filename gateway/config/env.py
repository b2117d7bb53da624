"""Reads environment variables, collecting every problem instead of raising on the first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from gateway.config.settings import parse_listen


class EnvReader:
    """Reads variables, collecting problems instead of raising on the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{name}: {message}")

    def url(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name, default)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problem(name, f"malformed URL {value!r} (want http(s)://host[:port][/path])")
            return None
        if parts.query or parts.fragment or parts.username:
            self.problem(name, f"URL {value!r} must not carry credentials, a query or a fragment")
            return None
        return value.rstrip("/")

    def number(self, name: str, default: float, check: Callable[[float], bool] = lambda v: v > 0) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problem(name, f"not a number: {raw!r}")
            return default
        if not check(value):
            self.problem(name, f"out of range: {raw!r}")
        return value

    def listen(self, name: str, default: str | None) -> tuple[str, int] | None:
        raw = self.get(name, default)
        if raw is None:
            return None
        parsed = parse_listen(raw)
        if parsed is None:
            self.problem(name, f"want host:port, got {raw!r}")
        return parsed
