"""The soak with faults (issue 17): mixed traffic through a real gateway while Ory, Keto,
Redis and the upstreams are stopped and restarted in turn. See docs/robustness.md.

    .venv/bin/python -m tests.robustness.soak --minutes 30 --out soak.json

tests/robustness/test_soak_faults.py runs the same code for about a minute in CI.
"""
