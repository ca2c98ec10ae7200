"""``memory-lifecycle check``: explore the model in a bounded world, check every property.

Exit statuses: ``commandline.EXIT_STATUSES`` (1: a property is violated, each
shown with its shortest counterexample).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from memory_lifecycle import model
from memory_lifecycle.specs.commandline import (
    INTERRUPTED,
    OK,
    USAGE,
    VIOLATED,
    OutputError,
    add_sequence_diagram_option,
    add_strict_option,
    check_output_file,
    exit_status_help,
    subcommand_parser,
)
from memory_lifecycle.specs.commandline import Progress as Live
from memory_lifecycle.specs.properties import ALL, BY_ID, StepFn

from .explore import CheckResult, Progress, explore
from .mutants import MUTANTS
from .watchdog import DEFAULT_STEP_TIMEOUT
from .world import (
    AGENTS,
    CHECK_BOUNDS,
    FAMILIES,
    PROCESS_BOUNDS,
    SEGMENT_BOUNDS,
    SESSION_IDS,
    THOROUGH_BOUNDS,
    Bounds,
)


def _parser() -> argparse.ArgumentParser:
    parser = subcommand_parser(
        "check",
        "Explore every reachable state of the lifecycle model in a bounded "
        "world (breadth-first, symmetry-reduced) and check the safety properties S1-S10 "
        "and the progress properties L1-L4 on every state and transition.",
        exit_status_help(
            {
                OK: "every property holds in the bound",
                VIOLATED: "a required property is violated (any property with --strict); "
                "its shortest counterexample is printed",
                USAGE: "bad usage, or an output that cannot be written",
                INTERRUPTED: "interrupted (Ctrl-C); the states explored and the violations "
                "found so far are printed",
            }
        ),
    )
    parser.add_argument(
        "--thorough",
        action="store_true",
        help=f"explore the large world ({_bounds_text(THOROUGH_BOUNDS)}; over a million states)",
    )
    parser.add_argument(
        "--sessions",
        type=int,
        help=f"sessions (1-{len(SESSION_IDS)}; default: {CHECK_BOUNDS.sessions})",
    )
    parser.add_argument(
        "--agents",
        type=int,
        help=f"agent handles (1-{len(AGENTS)}; default: {CHECK_BOUNDS.agents})",
    )
    parser.add_argument(
        "--max-generation",
        type=int,
        help=f"turns each session may complete (default: {CHECK_BOUNDS.max_generation})",
    )
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
        "--step-timeout",
        type=float,
        default=DEFAULT_STEP_TIMEOUT,
        metavar="SECONDS",
        help="a step of the step function still running after SECONDS is a STEP violation "
        f"(default: {DEFAULT_STEP_TIMEOUT:g})",
    )
    parser.add_argument(
        "--mutant",
        choices=sorted(MUTANTS),
        help="check a deliberately broken model instead, in a small world that shows the "
        "break unless sizes are given (shows what a counterexample looks like)",
    )
    add_sequence_diagram_option(parser)
    add_strict_option(parser)
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no live progress line (there is none unless stderr is a terminal)",
    )
    parser.add_argument("--html", metavar="FILE", help="also write the result as a web page")
    return parser


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _bounds_text(bounds: Bounds) -> str:
    text = (
        f"{_count(bounds.sessions, 'session')}, {_count(bounds.agents, 'agent')}, "
        f"{_count(bounds.max_generation, 'turn')} per session"
    )
    off = [name for name in FAMILIES if not getattr(bounds, name)]
    return text + (f", without {', '.join(off)}" if off else "")


def _world_text(bounds: Bounds, engine: str) -> str:
    text = _bounds_text(bounds)
    return f"{text} (whole processes)" if engine == "product" else text


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


def worlds_from(args: argparse.Namespace) -> list[tuple[Bounds, str]]:
    """The worlds to explore, each with its engine: the one the options ask for; by
    default also the single-session world with three turns (``SEGMENT_BOUNDS``).
    A world of several sessions that the sessions engine explores is followed by two
    sessions stepped as whole processes (``PROCESS_BOUNDS``), since only whole
    steps show a session event changing another session (S6)."""
    bounds = bounds_from(args)
    worlds = [(bounds, args.engine)]
    if bounds == CHECK_BOUNDS and not args.mutant and args.max_states is None:
        worlds.append((SEGMENT_BOUNDS, args.engine))
    whole = args.engine == "product" or (args.engine == "auto" and args.mutant)
    if bounds.sessions > 1 and not whole:
        worlds.append((PROCESS_BOUNDS, "product"))
    return worlds


def _combined(results: list[CheckResult]) -> CheckResult:
    """One result for several worlds: counts added, each property's first violation."""
    first = results[0]
    violations = list(first.violations)
    for result in results[1:]:
        seen = {item.property_id for item in violations}
        violations += [item for item in result.violations if item.property_id not in seen]
    return dataclasses.replace(
        first,
        states=sum(item.states for item in results),
        transitions=sum(item.transitions for item in results),
        depth=max(item.depth for item in results),
        elapsed=sum(item.elapsed for item in results),
        cpu=sum(item.cpu for item in results),
        probes=sum(item.probes for item in results),
        beyond_bounds=sum(item.beyond_bounds for item in results),
        unfollowed=sum(item.unfollowed for item in results),
        violations=tuple(violations),
        complete=all(item.complete for item in results),
        interrupted=any(item.interrupted for item in results),
    )


def _progress_text(progress: Progress) -> str:
    rate = progress.states / progress.elapsed if progress.elapsed > 0 else 0.0
    return (
        f"{progress.states:,} states, {progress.transitions:,} transitions, "
        f"depth {progress.depth} ({rate:,.0f} states/s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checker; return the exit status."""
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        worlds = worlds_from(args)
    except ValueError as error:
        parser.error(str(error))
    args.property = [name.upper() for name in args.property or ()]
    unknown = [name for name in args.property if name not in BY_ID]
    if unknown:
        parser.error(f"unknown property {', '.join(unknown)}; choose from {', '.join(BY_ID)}")
    if args.max_states is not None and args.max_states < 1:
        parser.error(f"--max-states must be at least 1, got {args.max_states}")
    if not args.step_timeout > 0 or args.step_timeout == float("inf"):
        parser.error(
            f"--step-timeout must be a positive number of seconds, got {args.step_timeout}"
        )
    properties = [BY_ID[name] for name in args.property] if args.property else list(ALL)
    outputs = [(args.sequence_diagram, "--sequence-diagram"), (args.html, "--html")]
    for path, option in outputs:
        if path is None:
            continue
        try:
            check_output_file(Path(path), option)
        except OutputError as error:
            print(f"memory-lifecycle check: {error}", file=sys.stderr)
            return USAGE
    step_fn: StepFn = model.step
    if args.mutant:
        mutant = MUTANTS[args.mutant]
        step_fn = mutant.step
        print(f"checking the broken model {args.mutant!r}: {mutant.description}")
    shown = "; then ".join(_world_text(bounds, engine) for bounds, engine in worlds)
    print(f"exploring {shown}; checking {', '.join(p.id for p in properties)}")
    last: list[Progress] = []
    with Live("check", live=False if args.quiet else None) as live:

        def report(progress: Progress) -> None:
            last[:] = [progress]
            live.update(current=_progress_text(progress))

        live.update(current="starting")
        results: list[CheckResult] = []
        try:
            for bounds, engine in worlds:
                results.append(
                    explore(
                        bounds,
                        step_fn,
                        properties,
                        report,
                        symmetry=not args.no_symmetry,
                        stop_at_first=args.stop_at_first,
                        max_states=args.max_states,
                        engine=engine,
                        step_timeout=args.step_timeout,
                    )
                )
                if results[-1].interrupted or (args.stop_at_first and not results[-1].ok):
                    break
        except KeyboardInterrupt:
            if not results:
                live.close()
                so_far = _progress_text(last[0]) if last else "fewer states than the first report"
                print(f"interrupted after {so_far}; the search was incomplete")
                return INTERRUPTED
            results[-1] = dataclasses.replace(results[-1], interrupted=True, complete=False)
        result = _combined(results)
    if result.interrupted:
        print("interrupted (Ctrl-C): what was found until then follows", file=sys.stderr)
        _finish(result, properties, args.sequence_diagram, args.strict)
        return INTERRUPTED
    if args.html:
        from memory_lifecycle.specs.pages import write_check_page

        target = f"the broken model {args.mutant!r}" if args.mutant else "the model"
        words = sys.argv[1:] if argv is None else argv
        write_check_page(args.html, result, properties, step_fn, words, target)
    return _finish(result, properties, args.sequence_diagram, args.strict)


def _finish(
    result: CheckResult, properties: Sequence[object], diagram: Path | None, strict: bool = False
) -> int:
    reduction = "one per renaming of agents and sessions" if result.symmetry else "no reduction"
    print(f"{result.summary()} ({reduction})")
    if result.interrupted:
        print("interrupted: the state space was not covered")
    elif result.unfollowed:
        print("the states past the transitions not followed were not explored")
    elif not result.complete:
        print("exploration stopped early: the state space was not covered")
    if result.ok and result.complete:
        print(f"all {len(properties)} properties hold in this bound")
        return OK
    if result.ok:
        print(
            f"no violation in the states explored; the {len(properties)} properties were not "
            f"checked on the rest of the bound"
        )
        return OK
    for violation in result.violations:
        print()
        print(f"[{_kind(violation.property_id)}] {violation.trace.format()}")
    if diagram is not None:
        from memory_lifecycle.specs.diagrams.sequence import write_sequence_diagrams

        traces = [violation.trace for violation in result.violations]
        try:
            written = write_sequence_diagrams(traces, diagram)
        except OSError as error:
            print(f"memory-lifecycle check: cannot write {diagram}: {error}", file=sys.stderr)
            return USAGE
        for path in written:
            print(f"sequence diagram written to {path}", file=sys.stderr)
    ids = ", ".join(
        f"{violation.property_id} ({_kind(violation.property_id)})"
        for violation in result.violations
    )
    print(f"\nviolated: {ids}")
    failing = [v for v in result.violations if strict or _kind(v.property_id) == "required"]
    if not failing:
        print("only advisory properties are violated: exit status 0 (1 with --strict)")
        return OK
    return VIOLATED


def _kind(property_id: str) -> str:
    known = BY_ID.get(property_id)
    return "advisory" if known is not None and not known.required else "required"
