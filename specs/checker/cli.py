"""``memory-lifecycle check``: explore the model in a bounded world, check every property.

Exit status: 0 when every property holds, 1 on a violation (each shown with
its shortest counterexample), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from memory_lifecycle import model
from memory_lifecycle.specs.properties import ALL, BY_ID, StepFn

from .explore import CheckResult, Progress, explore
from .mutants import MUTANTS
from .world import AGENTS, CHECK_BOUNDS, FAMILIES, SESSION_IDS, THOROUGH_BOUNDS, Bounds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memory-lifecycle check",
        description="Explore every reachable state of the lifecycle model in a bounded "
        "world (breadth-first, symmetry-reduced) and check the safety properties S1-S10 "
        "and the progress properties L1-L4 on every state and transition.",
    )
    parser.add_argument(
        "--thorough",
        action="store_true",
        help=f"explore the large world ({_bounds_text(THOROUGH_BOUNDS)}; over a million states)",
    )
    parser.add_argument("--sessions", type=int, help=f"sessions (1-{len(SESSION_IDS)})")
    parser.add_argument("--agents", type=int, help=f"agent handles (1-{len(AGENTS)})")
    parser.add_argument("--max-generation", type=int, help="turns each session may complete")
    for name, text in FAMILIES.items():
        parser.add_argument(
            f"--no-{name.replace('_', '-')}",
            dest=name,
            action="store_false",
            default=None,
            help=f"leave out {text}",
        )
    parser.add_argument(
        "--property",
        action="append",
        metavar="ID",
        help="check only this property (repeatable); default: all of "
        + ", ".join(item.id for item in ALL),
    )
    parser.add_argument(
        "--no-symmetry", action="store_true", help="store every state, not one per renaming"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "product", "sessions"),
        default="auto",
        help="product: step whole processes; sessions: step each session alone and cache "
        "(fast); auto: sessions for the model (default)",
    )
    parser.add_argument("--max-states", type=int, help="stop after this many distinct states")
    parser.add_argument(
        "--stop-at-first", action="store_true", help="stop at the first violation found"
    )
    parser.add_argument(
        "--mutant",
        choices=sorted(MUTANTS),
        help="check a deliberately broken model instead, in a small world that shows the "
        "break unless sizes are given (shows what a counterexample looks like)",
    )
    parser.add_argument(
        "--sequence-diagram",
        metavar="FILE",
        type=Path,
        help="on a violation, write the first counterexample as a Mermaid sequence diagram",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _bounds_text(bounds: Bounds) -> str:
    text = (
        f"{bounds.sessions} sessions, {bounds.agents} agents, "
        f"{bounds.max_generation} turns per session"
    )
    off = [name for name in FAMILIES if not getattr(bounds, name)]
    return text + (f", without {', '.join(off)}" if off else "")


def bounds_from(args: argparse.Namespace) -> Bounds:
    """The bounds the options ask for (a mutant's own small world by default)."""
    bounds = THOROUGH_BOUNDS if args.thorough else CHECK_BOUNDS
    if args.mutant and not args.thorough:
        bounds = MUTANTS[args.mutant].bounds
    changes: dict[str, object] = {}
    for name in ("sessions", "agents", "max_generation"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    for name in FAMILIES:
        if getattr(args, name) is False:
            changes[name] = False
    return dataclasses.replace(bounds, **changes)  # type: ignore[arg-type]


def _report(progress: Progress) -> None:
    rate = progress.states / progress.elapsed if progress.elapsed > 0 else 0.0
    print(
        f"  ... {progress.states:,} states, {progress.transitions:,} transitions, "
        f"depth {progress.depth}, {progress.elapsed:.1f} s ({rate:,.0f} states/s)",
        file=sys.stderr,
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checker; return the exit status."""
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        bounds = bounds_from(args)
    except ValueError as error:
        parser.error(str(error))
    unknown = [name for name in args.property or () if name not in BY_ID]
    if unknown:
        parser.error(f"unknown property {', '.join(unknown)}; choose from {', '.join(BY_ID)}")
    properties = [BY_ID[name] for name in args.property] if args.property else list(ALL)
    step_fn: StepFn = model.step
    if args.mutant:
        mutant = MUTANTS[args.mutant]
        step_fn = mutant.step
        print(f"checking the broken model {args.mutant!r}: {mutant.description}")
    print(f"exploring {_bounds_text(bounds)}; checking {', '.join(p.id for p in properties)}")
    result = explore(
        bounds,
        step_fn,
        properties,
        None if args.quiet else _report,
        symmetry=not args.no_symmetry,
        stop_at_first=args.stop_at_first,
        max_states=args.max_states,
        engine=args.engine,
    )
    return _finish(result, properties, args.sequence_diagram)


def _finish(result: CheckResult, properties: Sequence[object], diagram: Path | None) -> int:
    reduction = "one per renaming of agents and sessions" if result.symmetry else "no reduction"
    print(f"{result.summary()} ({reduction})")
    if not result.complete:
        print("exploration stopped early: the state space was not covered")
    if result.ok:
        print(f"all {len(properties)} properties hold in this bound")
        return 0
    for violation in result.violations:
        print()
        print(violation.trace.format())
    if diagram is not None:
        from memory_lifecycle.specs.diagrams.sequence import trace_to_mermaid

        diagram.write_text(trace_to_mermaid(result.violations[0].trace), encoding="utf-8")
        print(f"\nsequence diagram of the {result.violations[0].property_id} trace: {diagram}")
    ids = ", ".join(violation.property_id for violation in result.violations)
    print(f"\nviolated: {ids}")
    return 1
