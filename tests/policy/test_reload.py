"""Reload: a bad set is rejected and the old one kept; a change is picked up by polling."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway.config.problems import ConfigError
from gateway.policy.reload import PolicyStore
from tests.support.builders import make_settings, write_policies

ROUTE = """
    tenant: customer
    routes:
      - id: {id}
        path: /a
        methods: [GET]
        allow: anonymous
        forward: {{upstream: jobs}}
"""


def store(tmp_path: Path) -> PolicyStore:
    write_policies(tmp_path, {"a.yaml": ROUTE.format(id="one")})
    return PolicyStore(tmp_path, make_settings())


def test_initial_load_errors_raise(tmp_path: Path) -> None:
    write_policies(tmp_path, {"a.yaml": "tenant: nobody\n"})
    with pytest.raises(ConfigError):
        PolicyStore(tmp_path, make_settings())


def test_good_reload_swaps_the_whole_set(tmp_path: Path) -> None:
    s = store(tmp_path)
    before = s.current
    write_policies(tmp_path, {"a.yaml": ROUTE.format(id="two")})
    assert s.reload() == []
    assert s.current is not before
    assert [r.id for r in s.current.routes["customer"]] == ["customer:two"]
    assert [r.id for r in before.routes["customer"]] == ["customer:one"]  # in-flight requests keep theirs


def test_bad_reload_keeps_the_old_set_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = store(tmp_path)
    before = s.current
    write_policies(tmp_path, {"a.yaml": ROUTE.format(id="two").replace("jobs", "nope")})
    with caplog.at_level(logging.ERROR, logger="gateway.policy"):
        errors = s.reload()
    assert len(errors) == 1 and "unknown upstream 'nope'" in errors[0]
    assert s.current is before
    assert any("unknown upstream 'nope'" in r.getMessage() for r in caplog.records)


def test_unexpected_loader_failure_keeps_the_old_set(tmp_path: Path) -> None:
    s = store(tmp_path)
    before = s.current

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    s._loader = broken  # type: ignore[assignment]
    assert "boom" in s.reload()[0]
    assert s.current is before


async def test_poll_once_reloads_only_on_change(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert await s.poll_once() is None
    (tmp_path / "a.yaml").touch()  # same contents: not a change
    assert await s.poll_once() is None
    write_policies(tmp_path, {"a.yaml": ROUTE.format(id="three")})
    assert await s.poll_once() == []
    assert s.current.routes["customer"][0].id == "customer:three"
    write_policies(tmp_path, {"b.yaml": "tenant: [broken\n"})
    errors = await s.poll_once()
    assert errors and "YAML syntax error" in errors[0]
    assert await s.poll_once() is None  # the same bad files are not reported every second
    assert s.current.routes["customer"][0].id == "customer:three"


async def test_watcher_task_picks_up_changes(tmp_path: Path) -> None:
    s = store(tmp_path)
    task = asyncio.create_task(s.watch(interval=0.01))
    try:
        write_policies(tmp_path, {"a.yaml": ROUTE.format(id="four")})
        for _ in range(500):
            if s.current.routes["customer"][0].id == "customer:four":
                break
            await asyncio.sleep(0.01)
        assert s.current.routes["customer"][0].id == "customer:four"
    finally:
        task.cancel()
