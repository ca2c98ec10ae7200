"""Command line of the interleaving explorer.

    python -m memory_lifecycle.specs.interleave --target TARGET [--scenario NAME ...]
        [--mode dfs|random|pct] [--budget N] [--bound B] [--seed S] [--replay SCHEDULE]

TARGET is ``compat`` (the drop-in), ``native`` (``SessionLifecycle`` through
an adapter), a dotted module name or a path to a ``.py`` file offering the
hermes-webui functions. Without ``--scenario`` every canonical scenario runs.
Progress goes to stderr; a violation prints its trace and replayable schedule
on stdout and the exit status is 1 (2 for bad usage).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .explore import DEFAULT_BUDGET, DEFAULT_PREEMPTION_BOUND, MODES, explore
from .loader import TargetLoadError
from .runner import run_scenario
from .scenarios import CANONICAL, SCENARIOS
from .schedules import ScheduleDiverged
from .target import target_factory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m memory_lifecycle.specs.interleave",
        description="Explore thread interleavings of a lifecycle implementation "
        "deterministically and check the properties on every schedule.",
    )
    parser.add_argument(
        "--target",
        required=True,
        help="compat, native, a dotted module name or a path to a .py file",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"scenario to explore (repeatable; default: all). One of: {', '.join(CANONICAL)}",
    )
    parser.add_argument("--mode", choices=MODES, default="dfs", help="exploration strategy")
    parser.add_argument(
        "--budget", type=int, default=DEFAULT_BUDGET, help="most schedules per scenario"
    )
    parser.add_argument(
        "--bound",
        type=int,
        default=DEFAULT_PREEMPTION_BOUND,
        help="dfs: most preemptions per schedule",
    )
    parser.add_argument("--seed", type=int, default=0, help="random/pct: first seed")
    parser.add_argument(
        "--replay",
        metavar="SCHEDULE",
        help="run one schedule string (needs exactly one --scenario) and print its trace",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the explorer; return the exit status."""
    args = _parser().parse_args(argv)
    names = args.scenario or list(CANONICAL)
    factory = target_factory(args.target)
    try:
        if args.replay is not None:
            if len(names) != 1:
                print("--replay needs exactly one --scenario", file=sys.stderr)
                return 2
            result = run_scenario(
                factory, SCENARIOS[names[0]], args.replay, target_name=args.target
            )
            if result.not_applicable is not None:
                print(f"{names[0]}: not applicable ({result.not_applicable})")
                return 0
            if result.violation is None:
                print(f"{names[0]}: ok under schedule {result.schedule} ({result.steps} steps)")
                return 0
            print(result.violation.format())
            return 1
        found = False
        for name in names:

            def progress(runs: int, name: str = name) -> None:
                if runs % 200 == 0:
                    print(f"  {name}: {runs} schedules...", file=sys.stderr)

            outcome = explore(
                SCENARIOS[name],
                factory,
                mode=args.mode,
                budget=args.budget,
                preemption_bound=args.bound,
                seed=args.seed,
                target_name=args.target,
                progress=progress,
            )
            print(outcome.summary(), file=sys.stderr)
            if outcome.violation is not None:
                found = True
                print(f"{name} on {args.target}:")
                print(outcome.violation.format())
                print(
                    f"  replay: python -m memory_lifecycle.specs.interleave --target {args.target}"
                    f" --scenario {name} --replay {outcome.violation.schedule}"
                )
        return 1 if found else 0
    except (TargetLoadError, ScheduleDiverged) as error:
        print(f"interleave: {error}", file=sys.stderr)
        return 2
