"""The model checker: distinct states per second, and what symmetry reduction saves.

Rows:
- symmetry: the same bound explored with and without reduction (states stored
  once per renaming of agents and sessions, or every raw state);
- engines: the product engine (whole processes) against the session-compositional
  engine (each session stepped once and cached) on one bound;
- default: the bound ``memory-lifecycle check`` explores;
- thorough (``--thorough``): the bound of ``check --thorough`` (over a million states).

Wall-clock time depends on what else the machine runs; CPU time does not.

    python benchmarks/bench_checker.py              # ~1 minute
    python benchmarks/bench_checker.py --thorough   # adds the million-state run
"""

from __future__ import annotations

import argparse
import sys

from _common import header, progress, table
from memory_lifecycle.specs.checker.explore import CheckResult, explore
from memory_lifecycle.specs.checker.world import CHECK_BOUNDS, THOROUGH_BOUNDS, Bounds

SYMMETRY_BOUNDS = Bounds(sessions=2, agents=2, max_generation=2)
ENGINE_BOUNDS = Bounds(sessions=2, agents=2, max_generation=1)


def _bounds_text(bounds: Bounds) -> str:
    return f"{bounds.sessions}s/{bounds.agents}a/{bounds.max_generation}t"


def _row(label: str, result: CheckResult, engine: str) -> list[object]:
    cpu_rate = result.states / result.cpu if result.cpu > 0 else float("inf")
    return [
        label,
        _bounds_text(result.bounds),
        engine,
        "on" if result.symmetry else "off",
        f"{result.states:,}",
        f"{result.transitions:,}",
        result.depth,
        f"{result.elapsed:.1f}",
        f"{result.cpu:.1f}",
        f"{result.states_per_second:,.0f}",
        f"{cpu_rate:,.0f}",
        "yes" if result.ok else "NO",
    ]


def _run(
    label: str, bounds: Bounds, *, engine: str = "auto", symmetry: bool = True
) -> list[object]:
    progress(f"{label}: {_bounds_text(bounds)}, engine {engine}, symmetry {symmetry} ...")
    result = explore(bounds, engine=engine, symmetry=symmetry)
    return _row(label, result, "sessions" if engine == "auto" else engine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thorough", action="store_true", help="add the million-state run")
    args = parser.parse_args(argv)
    print(header("Model checker: exploration speed and symmetry reduction"))
    print("bounds: sessions/agents/turns per session; every event family on\n")
    rows = [
        _run("symmetry", SYMMETRY_BOUNDS, symmetry=True),
        _run("symmetry", SYMMETRY_BOUNDS, symmetry=False),
        _run("engines", ENGINE_BOUNDS, engine="product"),
        _run("engines", ENGINE_BOUNDS, engine="sessions"),
        _run("default", CHECK_BOUNDS),
    ]
    if args.thorough:
        rows.append(_run("thorough", THOROUGH_BOUNDS))
    headers = [
        "run",
        "bound",
        "engine",
        "symmetry",
        "distinct states",
        "transitions",
        "depth",
        "wall s",
        "CPU s",
        "states/s (wall)",
        "states/s (CPU)",
        "all hold",
    ]
    print(table(headers, rows))
    reduced, plain = rows[0][4], rows[1][4]
    print(f"\nsymmetry reduction on {_bounds_text(SYMMETRY_BOUNDS)}: {plain} -> {reduced} states")
    return 0


if __name__ == "__main__":
    sys.exit(main())
