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

from ..conformance.target import TargetError, target_factory
from .explore import (
    DEFAULT_BUDGET,
    DEFAULT_PREEMPTION_BOUND,
    INTERRUPT_PREEMPTION_BOUND,
    MODES,
    explore,
)
from .runner import run_scenario
from .scenarios import CANONICAL, INTERRUPTED, SCENARIOS
from .schedules import ScheduleDiverged


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
        default=None,
        help=f"dfs: most preemptions per schedule (default {DEFAULT_PREEMPTION_BOUND}, "
        f"{INTERRUPT_PREEMPTION_BOUND} with --inject-interrupts)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random/pct: first seed")
    parser.add_argument(
        "--inject-interrupts",
        action="store_true",
        help="dfs: raise KeyboardInterrupt at every interrupt site of the interrupted actors "
        f"(default scenarios: {', '.join(INTERRUPTED)})",
    )
    parser.add_argument(
        "--replay",
        metavar="SCHEDULE",
        help="run one schedule string (needs exactly one --scenario) and print its trace",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the explorer; return the exit status."""
    args = _parser().parse_args(argv)
    names = args.scenario or list(INTERRUPTED if args.inject_interrupts else CANONICAL)
    try:
        factory = target_factory(args.target)
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
                interrupts=args.inject_interrupts,
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
    except (TargetError, ScheduleDiverged) as error:
        print(f"interleave: {error}", file=sys.stderr)
        return 2
