"""GATEWAY_DECISIONS_HEADERS: which headers describe a bare /decisions (docs/forwarding.md)."""

from __future__ import annotations

import subprocess

import pytest

from gateway.config.problems import ConfigError
from gateway.config.view import redacted
from gateway.load import load_settings
from tests.support.processes import run_gateway
from tests.support.seed import gateway_env

SEED = gateway_env(8080, "http://127.0.0.1:4455", "http://127.0.0.1:3001", "http://127.0.0.1:3002")
PROXIES = {"GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8"}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return caught.value.problems


def test_none_by_default_and_each_family_when_proxies_are_trusted() -> None:
    assert load_settings(SEED).decisions_headers == "none"
    for family in ("none", "original", "forwarded", "Forwarded"):
        settings = load_settings(SEED | PROXIES | {"GATEWAY_DECISIONS_HEADERS": family})
        assert settings.decisions_headers == family.lower()
        assert redacted(settings)["decisions_headers"] == family.lower()


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"GATEWAY_DECISIONS_HEADERS": "x-original-uri"},
            "GATEWAY_DECISIONS_HEADERS: want none, original or forwarded, got 'x-original-uri'",
        ),
        (
            {"GATEWAY_DECISIONS_HEADERS": "original,forwarded"},
            "GATEWAY_DECISIONS_HEADERS: want none, original or forwarded, got 'original,forwarded'",
        ),
        (
            {"GATEWAY_DECISIONS_HEADERS": "forwarded"},
            "GATEWAY_DECISIONS_HEADERS: headers are believed only from GATEWAY_TRUSTED_PROXIES: set it too",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(env: dict[str, str], problem: str) -> None:
    assert problems(SEED | env) == [problem]


def test_gateway_check_shows_it_and_names_a_bad_one() -> None:
    def check(**extra: str) -> subprocess.CompletedProcess[str]:
        return run_gateway("check", env=SEED | PROXIES | extra)

    shown = check(GATEWAY_DECISIONS_HEADERS="original")
    assert shown.returncode == 0, shown.stderr
    assert 'decisions_headers: "original"' in shown.stdout.splitlines()
    bad = check(GATEWAY_DECISIONS_HEADERS="nginx")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: GATEWAY_DECISIONS_HEADERS: want none, original or forwarded, got 'nginx'"
    ]
