"""``memory-lifecycle interleave TARGET``: explore an implementation's thread schedules.

TARGET is ``compat`` (the drop-in), ``native`` (``SessionLifecycle`` through
an adapter), a dotted module name or a path to a ``.py`` file offering the
hermes-webui functions. Without ``--scenario`` every canonical scenario runs.
Each scenario's result goes to stderr as it finishes (with a live progress
line on a terminal); each violation's trace and replay command go to stdout.
Exit statuses: ``commandline.EXIT_STATUSES``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from ..commandline import (
    INTERRUPTED,
    OK,
    USAGE,
    VIOLATED,
    Progress,
    add_strict_option,
    exit_status_help,
    subcommand_parser,
)
from ..conformance.target import TargetError, TargetFactory, target_factory
from ..properties import BY_ID
from .explore import (
    DEFAULT_BUDGET,
    DEFAULT_PREEMPTION_BOUND,
    INTERRUPT_PREEMPTION_BOUND,
    MODES,
    explore,
)
from .primitives import stand_in_modules
from .runner import run_scenario
from .scenarios import BASIC_API, CANONICAL, LARGE, SCENARIOS
from .scenarios import INTERRUPTED as INTERRUPTED_SCENARIOS
from .scheduler import AbortRun, Scheduler
from .schedules import ScheduleDiverged, parse_schedule, split_interrupt

PROG = "memory-lifecycle interleave"


def _parser() -> argparse.ArgumentParser:
    parser = subcommand_parser(
        "interleave",
        "Explore the thread interleavings of a lifecycle implementation "
        "deterministically and check the properties on every schedule.",
        exit_status_help(),
    )
    parser.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        help="compat, native, a dotted module name or a path to a .py file",
    )
    parser.add_argument("--target", dest="target_option", help=argparse.SUPPRESS)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help="scenario to explore (repeatable). Default: every canonical scenario, "
        f"{', '.join(CANONICAL)}. With --inject-interrupts: "
        f"{', '.join(INTERRUPTED_SCENARIOS)}. Also: {', '.join(LARGE)} (best sampled: --mode pct)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="dfs",
        help="dfs: every schedule within --bound preemptions, fewest first; random, pct: "
        "sampled, seeded by --seed (default: %(default)s)",
    )
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        help="most schedules per scenario (default: %(default)s)",
    )
    parser.add_argument(
        "--bound",
        type=int,
        default=None,
        help=f"dfs: most preemptions per schedule (default: {DEFAULT_PREEMPTION_BOUND}, "
        f"{INTERRUPT_PREEMPTION_BOUND} with --inject-interrupts)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random, pct: first seed (default: %(default)s)"
    )
    parser.add_argument(
        "--inject-interrupts",
        action="store_true",
        help="dfs: raise KeyboardInterrupt at every interrupt site of the interrupted actors, "
        "as a signal handler would",
    )
    add_strict_option(parser)
    parser.add_argument(
        "--replay",
        metavar="SCHEDULE",
        help="run one schedule string (needs exactly one --scenario) and print its trace",
    )
    return parser


def replay_command(target: str, scenario: str, schedule: str) -> str:
    """The command that replays one schedule."""
    return f"{PROG} {shlex.quote(target)} --scenario {scenario} --replay {shlex.quote(schedule)}"


def _usage(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the explorer; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.target is not None and args.target_option is not None:
        parser.error("give TARGET once (positionally)")
    target = args.target if args.target is not None else args.target_option
    if target is None:
        parser.error("the following arguments are required: TARGET")
    if args.budget < 1 or (args.bound is not None and args.bound < 0):
        parser.error("--budget must be at least 1 and --bound at least 0")
    names = args.scenario or list(INTERRUPTED_SCENARIOS if args.inject_interrupts else CANONICAL)
    if args.replay is not None and len(names) != 1:
        return _usage("--replay needs exactly one --scenario")
    if args.replay is not None:
        try:
            parse_schedule(split_interrupt(args.replay)[1])
        except ValueError as error:
            return _usage(f"--replay: {error}")
    try:
        factory = target_factory(target)
        check_loads(factory, target)
        if args.replay is not None:
            return _replay(factory, target, names[0], args.replay, args.strict)
        return _explore(factory, target, names, args)
    except (TargetError, ScheduleDiverged) as error:
        return _usage(str(error))


def failing(property_id: str, strict: bool) -> bool:
    """True when a violation of ``property_id`` fails the run (advisory ones only if strict)."""
    known = BY_ID.get(property_id)
    return strict or known is None or known.required


def _kind(property_id: str) -> str:
    known = BY_ID.get(property_id)
    return "advisory" if known is not None and not known.required else "required"


def check_loads(factory: TargetFactory, target: str) -> None:
    """Load ``target`` once under a scheduler; raise ``TargetError`` when the explorer cannot
    use it (it does not load, its import does not finish, or it lacks the basic API)."""
    loaded: dict[str, object] = {}
    scheduler = Scheduler()

    def load() -> None:
        try:
            loaded["target"] = factory(stand_in_modules(scheduler))
        except BaseException as error:  # reported below, whatever it is
            loaded["error"] = error

    try:
        scheduler.run(load)
    except RuntimeError as stuck:
        raise TargetError(f"loading target {target!r} did not finish: {stuck}") from None
    error = loaded.get("error")
    if isinstance(error, AbortRun):
        raise TargetError(
            f"loading target {target!r} did not finish within {scheduler.step} scheduling "
            f"steps: its import blocks or loops"
        ) from None
    if isinstance(error, TargetError):
        raise TargetError(str(error)) from None
    if isinstance(error, SyntaxError):
        raise TargetError(
            f"{error.filename}:{error.lineno}: syntax error: {error.msg} (target {target!r})"
        ) from None
    if isinstance(error, BaseException):
        raise TargetError(
            f"importing target {target!r} failed: {type(error).__name__}: {error}"
        ) from None
    built = loaded.get("target")
    if built is None:
        raise TargetError(f"loading target {target!r} did not finish: its import blocks or loops")
    missing = sorted(BASIC_API - getattr(built, "supports", frozenset()))
    if missing:
        raise TargetError(
            f"target {target!r} lacks {', '.join(missing)}; expose the hermes-webui "
            f"lifecycle functions"
        )


def _replay(factory: object, target: str, name: str, schedule: str, strict: bool) -> int:
    result = run_scenario(factory, SCENARIOS[name], schedule, target_name=target)  # type: ignore[arg-type]
    if result.not_applicable is not None:
        print(f"{name}: not applicable ({result.not_applicable})")
        return OK
    if result.violation is None:
        print(f"{name}: ok under schedule {result.schedule} ({result.steps} steps)")
        return OK
    print(f"[{_kind(result.violation.property_id)}] {result.violation.format()}")
    return VIOLATED if failing(result.violation.property_id, strict) else OK


def _explore(factory: object, target: str, names: list[str], args: argparse.Namespace) -> int:
    found: list[str] = []
    fails = False
    finished = 0
    with Progress("interleave") as progress:
        try:
            for index, name in enumerate(names):
                progress.update(index, len(names), name)

                def count(runs: int, name: str = name, index: int = index) -> None:
                    if runs % 10 == 0:
                        progress.update(
                            index, len(names), f"{name} ({runs}/{args.budget} schedules)"
                        )

                outcome = explore(
                    SCENARIOS[name],
                    factory,  # type: ignore[arg-type]
                    mode=args.mode,
                    budget=args.budget,
                    preemption_bound=args.bound,
                    seed=args.seed,
                    target_name=target,
                    progress=count,
                    interrupts=args.inject_interrupts,
                )
                progress.clear()
                print(outcome.summary(), file=sys.stderr, flush=True)
                finished += 1
                if outcome.violation is not None:
                    property_id = outcome.violation.property_id
                    found.append(f"{property_id} ({_kind(property_id)}) in {name}")
                    fails = fails or failing(property_id, args.strict)
                    print(f"{name} on {target}:")
                    print(f"[{_kind(property_id)}] {outcome.violation.format()}")
                    print(f"  replay: {replay_command(target, name, outcome.violation.schedule)}")
                    print(flush=True)
        except KeyboardInterrupt:
            progress.close()
            print(
                f"interrupted after {finished} of {len(names)} scenarios; "
                f"violations so far: {', '.join(found) or 'none'}"
            )
            return INTERRUPTED
    print(
        f"{len(names)} scenario{'s' if len(names) != 1 else ''} explored on {target}: "
        + (f"violated: {', '.join(found)}" if found else "no violation")
    )
    return VIOLATED if fails else OK
