"""Time the conformance suite's quick profile on every shipped broken implementation.

    python benchmarks/bench_conform.py [--checks probes,stateful,interleave] [--budget quick]

For each module in tests/broken: the seconds the whole quick run took, whether
the property it breaks was flagged, and every property flagged; then the total,
and the same run on the compat module (which must flag nothing).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from memory_lifecycle.specs.conformance.runner import BUDGETS, run_conformance

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "broken"


def _expected() -> dict[str, str]:
    sys.path.insert(0, str(BROKEN.parent))
    from broken import EXPECTED

    return dict(EXPECTED)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="quick")
    parser.add_argument("--checks", default="probes,stateful,interleave")
    args = parser.parse_args()
    checks = tuple(part.strip() for part in args.checks.split(","))
    rows: list[tuple[str, str, str, str, float]] = []
    started = time.monotonic()
    for name, expected in sorted(_expected().items()):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        began = time.monotonic()
        report = run_conformance(str(BROKEN / f"{name}.py"), budget=args.budget, checks=checks)
        took = time.monotonic() - began
        flagged = [item.id for item in report.violated]
        rows.append(
            (name, expected, "yes" if expected in flagged else "NO", " ".join(flagged), took)
        )
    total = time.monotonic() - started
    print("bench: memory_lifecycle.compat ...", file=sys.stderr, flush=True)
    began = time.monotonic()
    compat = run_conformance("memory_lifecycle.compat", budget=args.budget, checks=checks)
    compat_time = time.monotonic() - began
    width = max(len(row[0]) for row in rows)
    print(f"{'broken module':<{width}}  expects  flagged  seconds  all flagged")
    for name, expected, hit, flagged, took in rows:
        print(f"{name:<{width}}  {expected:<7}  {hit:<7}  {took:7.1f}  {flagged}")
    print(f"{'total':<{width}}  {'':<7}  {'':<7}  {total:7.1f}")
    clean = "nothing flagged" if not compat.violated else [i.id for i in compat.violated]
    print(f"{'compat (must pass)':<{width}}  {'':<7}  {'':<7}  {compat_time:7.1f}  {clean}")
    missed = [row[0] for row in rows if row[2] != "yes"]
    return 1 if missed or compat.violated else 0


if __name__ == "__main__":
    sys.exit(main())
