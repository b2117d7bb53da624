"""GATEWAY_EDGE_CACHE_TTL: how long nginx in edge mode may reuse a decision (docs/edge.md)."""

from __future__ import annotations

import pytest

from gateway.config.load import EDGE_CACHE_TTL_MAX
from gateway.config.problems import ConfigError
from gateway.config.view import redacted
from gateway.forward.assertion import LIFETIME
from gateway.load import load_settings
from tests.support.seed import gateway_env

SEED = gateway_env(8080, "http://127.0.0.1:4455", "http://127.0.0.1:3001", "http://127.0.0.1:3002")


def test_two_seconds_by_default_and_whole_seconds_up_to_the_gateways_own_bound() -> None:
    assert load_settings(SEED).edge_cache_ttl == 2
    for value, expected in (("0", 0), ("5", 5), ("30", 30)):
        settings = load_settings(SEED | {"GATEWAY_EDGE_CACHE_TTL": value})
        assert settings.edge_cache_ttl == expected
        assert redacted(settings)["edge_cache_ttl"] == expected


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"GATEWAY_EDGE_CACHE_TTL": "1.5"}, "want whole seconds (0: nginx reuses no decision), got '1.5'"),
        ({"GATEWAY_EDGE_CACHE_TTL": "-1"}, "want whole seconds (0: nginx reuses no decision), got '-1'"),
        ({"GATEWAY_EDGE_CACHE_TTL": "2s"}, "want whole seconds (0: nginx reuses no decision), got '2s'"),
        (
            {"GATEWAY_EDGE_CACHE_TTL": "10", "GATEWAY_CACHE_MAX_TTL": "5"},
            "10 s is longer than GATEWAY_CACHE_MAX_TTL (5 s)",
        ),
        ({"GATEWAY_EDGE_CACHE_TTL": "31"}, "at most 30 s: a reused answer's identity assertion must stay valid"),
    ],
)
def test_a_bad_value_is_one_line(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(SEED | env)
    assert caught.value.problems == [f"GATEWAY_EDGE_CACHE_TTL: {problem}"]


def test_a_reused_answer_always_carries_a_valid_identity_assertion() -> None:
    """An assertion is reused while more than half its lifetime is left: nginx may keep it no
    longer than that half."""
    assert EDGE_CACHE_TTL_MAX <= LIFETIME / 2
