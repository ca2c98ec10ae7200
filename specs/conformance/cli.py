"""``memory-lifecycle conform TARGET``: check an implementation of the lifecycle API.

TARGET is ``compat`` (the drop-in), ``native`` (``SessionLifecycle`` through
its adapter), an importable module path or a ``.py`` file with the
hermes-webui lifecycle functions (or a ``conformance_adapter()``; see
``conformance.target``). Prints a table of every property with its kind,
status and evidence, and for each violation the shortest counterexample and
the command that replays it. ``--reference MODULE`` adds a call-by-call
comparison with another implementation (``conformance.differential``); a
difference no declared divergence explains also exits 1. Exit statuses:
``commandline.EXIT_STATUSES``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from ..commandline import (
    OK,
    USAGE,
    VIOLATED,
    OutputError,
    Progress,
    add_sequence_diagram_option,
    add_strict_option,
    check_output_file,
    exit_status_help,
    subcommand_parser,
    target_error_text,
)
from ..properties import ALL
from .differential import add_reference_options, reference_checks, run_reference, with_reference
from .divergences import DivergenceError
from .report import as_json, as_junit, table
from .runner import (
    BUDGETS,
    CHECKS,
    Report,
    named_checks,
    run_conformance,
    stateful_tool_missing,
)
from .target import TargetError

STATUS_HELP = """statuses:
  passed          a check ran to its stated budget and none saw a violation
  violated        a check found a counterexample (shown, with its replay command)
  not_applicable  the target lacks the calls the property needs
  not_checked     no check could decide it (the reason is given)

kinds: S9 and S10 are advisory (efficiency, hygiene); the others are required."""


def _parser() -> argparse.ArgumentParser:
    parser = subcommand_parser(
        "conform",
        "Check an implementation of the memory-provider session lifecycle API against the "
        "properties S1-S10 and L1-L4.",
        f"{STATUS_HELP}\n\n{exit_status_help()}",
    )
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="compat, native, an importable module path or a .py file to check",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help=f"small budget: {BUDGETS['quick'].describe()}"
    )
    size.add_argument(
        "--standard",
        action="store_true",
        help=f"the default budget: {BUDGETS['standard'].describe()}",
    )
    size.add_argument(
        "--thorough", action="store_true", help=f"long search: {BUDGETS['thorough'].describe()}"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--junit", metavar="FILE", type=Path, help="also write JUnit XML to FILE")
    parser.add_argument(
        "--html", metavar="FILE", type=Path, help="also write the report as a web page"
    )
    parser.add_argument(
        "--only",
        metavar="IDS",
        help="comma-separated property ids to check (e.g. S2,L1; default: all)",
    )
    parser.add_argument(
        "--checks",
        metavar="KINDS",
        default=",".join(CHECKS),
        help=f"comma-separated checks to run, of {', '.join(CHECKS)} (default: all)",
    )
    add_reference_options(parser)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the stateful search (default: 0)"
    )
    add_strict_option(parser)
    add_sequence_diagram_option(parser)
    return parser


def _usage(message: str) -> int:
    print(f"memory-lifecycle conform: {message}", file=sys.stderr)
    return USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; return the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    budget = "quick" if args.quick else "thorough" if args.thorough else "standard"
    known = [item.id for item in ALL]
    only = None
    if args.only is not None:
        only = {part.strip().upper() for part in args.only.split(",") if part.strip()}
        unknown = sorted(only - set(known))
        if unknown or not only:
            return _usage(
                f"--only: unknown property id(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(known)}"
            )
    checks = named_checks(args.checks)
    if not args.reference and (args.divergences or "differential" in checks):
        given = "--divergences" if args.divergences else "--checks differential"
        return _usage(f"{given} compares with another implementation: add --reference MODULE")
    checks, differential = reference_checks(args, checks)
    if (not checks and not differential) or any(item not in CHECKS for item in checks):
        return _usage(f"--checks takes some of {', '.join(CHECKS)} (got {args.checks!r})")
    missing = stateful_tool_missing(checks)
    if missing:
        return _usage(f"{missing} (or leave it out: --checks probes,interleave)")
    try:
        if args.junit is not None:
            check_output_file(args.junit, "--junit")
        if args.sequence_diagram is not None:
            check_output_file(args.sequence_diagram, "--sequence-diagram")
        if args.html is not None:
            check_output_file(args.html, "--html")
    except OutputError as error:
        return _usage(str(error))

    with Progress("conform") as progress:

        def show(done: int, total: int, current: str) -> None:
            progress.update(done, total, current)

        def say(text: str) -> None:
            progress.update(current=text)

        try:
            # What the target prints goes to stderr: stdout carries only the report.
            with contextlib.redirect_stdout(sys.stderr):
                compared = run_reference(args, budget, say) if differential else None
                report = (
                    run_conformance(
                        args.target,
                        budget=budget,
                        only=only,
                        seed=args.seed,
                        checks=checks,
                        progress=show,
                    )
                    if checks
                    else None
                )
        except DivergenceError as error:
            progress.clear()
            return _usage(str(error))
        except TargetError as error:
            progress.clear()
            return _usage(target_error_text(error))
    if report is not None and progress.interrupted and not report.interrupted:
        report.interrupted = True  # a Ctrl-C that something in the target swallowed
    differs = compared is not None and not compared.passed
    if report is None:
        print(with_reference("", compared, args.json), flush=True)
        return VIOLATED if differs else OK
    # The files first, so that the status printed (--json) is the one the command exits
    # with; the results are printed even when a file cannot be written.
    unwritten = None
    try:
        _write_outputs(report, args)
    except OSError as error:
        unwritten = f"cannot write an output: {error}"
        report.errors.append(unwritten)
    status = report.exit_status(args.strict)
    status = USAGE if unwritten else VIOLATED if differs and status == OK else status
    output = as_json(report, args.strict, status) if args.json else table(report, args.strict)
    print(with_reference(output, compared, args.json), flush=True)
    if unwritten:
        print(f"memory-lifecycle conform: {unwritten}", file=sys.stderr)
    return status


def _write_outputs(report: Report, args: argparse.Namespace) -> None:
    if args.junit is not None:
        args.junit.write_text(as_junit(report, args.strict), encoding="utf-8")
        print(f"JUnit XML written to {args.junit}", file=sys.stderr)
    if args.sequence_diagram is not None:
        from ..diagrams.sequence import write_sequence_diagrams

        traces = [item.counterexample for item in report.violated if item.counterexample]
        if not traces:
            print("no counterexample, so no sequence diagram written", file=sys.stderr)
        for written in write_sequence_diagrams(traces, args.sequence_diagram):
            print(f"sequence diagram written to {written}", file=sys.stderr)
    if args.html is not None:
        from ..pages import write_conformance_page

        write_conformance_page(args.html, report)


__all__ = ["BUDGETS", "main"]
