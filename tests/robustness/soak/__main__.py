"""`python -m tests.robustness.soak --minutes 30 [--out soak.json] [--tracemalloc DIR]`: the soak with faults.

Prints the report (JSON) and exits 1 when an invariant or a bound did not hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.robustness.soak.runner import Plan, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.robustness.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0, help="traffic time (default 30)")
    parser.add_argument("--down", type=float, default=10.0, help="seconds each fault lasts (default 10)")
    parser.add_argument("--gap", type=float, default=35.0, help="quiet seconds after each fault (default 35)")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--tracemalloc",
        type=Path,
        metavar="DIR",
        help="gateway heap snapshots here, once a minute; report what grew",
    )
    args = parser.parse_args()
    plan = Plan(seconds=args.minutes * 60, down=args.down, gap=args.gap, tracemalloc=args.tracemalloc)
    report = run(plan, args.out)
    print(json.dumps(report, indent=2))
    return 0 if report["violation_count"] == 0 and report["bounds_held"] else 1


if __name__ == "__main__":
    sys.exit(main())
