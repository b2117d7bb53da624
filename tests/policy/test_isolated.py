"""Policies loaded in a child process (what `gateway serve` does) are the policies loaded here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gateway.config.problems import ConfigError
from gateway.policy import match
from gateway.policy.isolated import load_isolated
from gateway.policy.loader import load_policies
from gateway.policy.reload import PolicyStore
from tests.support.builders import SEED_DIR, make_settings, write_policies

ROUTE = """
    tenant: customer
    routes:
      - id: {id}
        path: /a/{{item}}
        methods: [GET]
        allow: anonymous
        forward: {{upstream: jobs}}
"""


def test_the_child_loads_the_same_policy_set() -> None:
    settings = make_settings()
    here, there = load_policies(SEED_DIR, settings), load_isolated(SEED_DIR, settings)
    assert there.routes == here.routes
    assert there.label_profiles == here.label_profiles
    for tenant, method, path in [
        ("customer", "POST", "/api/durably/trigger"),
        ("customer", "GET", "/api/durably/runs"),
        ("dealer", "GET", "/partner-api/inventory"),
        ("admin", "GET", "/customers/id-1"),
        ("customer", "DELETE", "/api/durably/run"),
    ]:
        assert match(there, tenant, method, path) == match(here, tenant, method, path)


def test_problems_come_back_one_line_each_as_in_process(tmp_path: Path) -> None:
    write_policies(
        tmp_path,
        {
            "a.yaml": ROUTE.format(id="one").replace("jobs", "nope"),
            "b.yaml": "tenant: [broken\n",
        },
    )
    settings = make_settings()
    with pytest.raises(ConfigError) as here:
        load_policies(tmp_path, settings)
    with pytest.raises(ConfigError) as there:
        load_isolated(tmp_path, settings)
    assert there.value.problems == here.value.problems
    assert len(there.value.problems) == 2


def test_a_missing_folder_is_the_usual_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_isolated(tmp_path / "absent", make_settings())
    assert error.value.problems == [f"{tmp_path / 'absent'}: policy folder not found (GATEWAY_POLICIES_DIR)"]


def test_a_child_that_dies_is_a_config_error_naming_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying = tmp_path / "python"
    dying.write_text("#!/bin/sh\necho 'loading...' >&2\necho 'MemoryError: out of memory' >&2\nexit 3\n")
    dying.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(dying))
    with pytest.raises(ConfigError) as error:
        load_isolated(SEED_DIR, make_settings())
    assert error.value.problems == [f"{SEED_DIR}: the policy loader failed (exit 3): MemoryError: out of memory"]


def test_a_store_reloading_through_the_child_swaps_and_keeps_sets(tmp_path: Path) -> None:
    write_policies(tmp_path, {"a.yaml": ROUTE.format(id="one")})
    settings = make_settings()
    store = PolicyStore(tmp_path, settings, initial=load_isolated(tmp_path, settings), loader=load_isolated)
    write_policies(tmp_path, {"a.yaml": ROUTE.format(id="two")})
    assert store.reload() == []
    assert [r.id for r in store.current.routes["customer"]] == ["customer:two"]
    write_policies(tmp_path, {"a.yaml": ROUTE.format(id="three").replace("jobs", "nope")})
    problems = store.reload()
    assert len(problems) == 1 and "unknown upstream 'nope'" in problems[0]
    assert [r.id for r in store.current.routes["customer"]] == ["customer:two"]
