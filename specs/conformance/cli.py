"""``memory-lifecycle conform TARGET``: check an implementation of the lifecycle API.

TARGET is an importable module path or a ``.py`` file with the hermes-webui
lifecycle functions (or a ``conformance_adapter()``; see ``conformance.target``).
Prints a table of every property with its status and evidence, and for each
violation the shortest counterexample and the command that replays it. Exit
status: 0 when nothing is violated, 1 on a violation, 2 for bad usage or a
target that cannot be loaded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..properties import ALL
from .differential import add_reference_options, reference_checks, run_reference, with_reference
from .divergences import DivergenceError
from .report import as_json, as_junit, table
from .runner import BUDGETS, Report, run_conformance
from .target import TargetError

CHECKS = ("probes", "stateful", "interleave")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memory-lifecycle conform",
        description="Check an implementation of the memory-provider session lifecycle API "
        "against the properties S1-S10 and L1-L4.",
    )
    parser.add_argument("target", help="importable module path or .py file under test")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small budget (a minute or less)")
    size.add_argument("--standard", action="store_true", help="the default budget")
    size.add_argument("--thorough", action="store_true", help="long search")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML to FILE")
    parser.add_argument(
        "--only",
        metavar="IDS",
        help="comma-separated property ids to report (e.g. S2,L1)",
    )
    parser.add_argument(
        "--checks",
        metavar="KINDS",
        default=",".join(CHECKS),
        help=f"comma-separated checks to run, of {', '.join(CHECKS)} (default: all)",
    )
    add_reference_options(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the stateful search")
    parser.add_argument(
        "--sequence-diagram",
        metavar="FILE",
        help="write the counterexamples as Mermaid sequence diagrams to FILE",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; return the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    budget = "quick" if args.quick else "thorough" if args.thorough else "standard"
    known = {item.id for item in ALL}
    only = None
    if args.only:
        only = {part.strip().upper() for part in args.only.split(",") if part.strip()}
        unknown = sorted(only - known)
        if unknown:
            print(f"conform: unknown property id(s) {unknown}; use S1-S10, L1-L4", file=sys.stderr)
            return 2
    checks = tuple(part.strip() for part in args.checks.split(",") if part.strip())
    checks, differential = reference_checks(args, checks)
    if (not checks and not differential) or any(item not in CHECKS for item in checks):
        print(f"conform: --checks takes some of {', '.join(CHECKS)}", file=sys.stderr)
        return 2

    def progress(text: str) -> None:
        print(f"conform: {text}", file=sys.stderr, flush=True)

    try:
        compared = run_reference(args, budget, progress) if differential else None
        report = checks and run_conformance(
            args.target, budget=budget, only=only, seed=args.seed, checks=checks, progress=progress
        )
    except (TargetError, DivergenceError) as error:
        print(f"conform: {error}", file=sys.stderr)
        return 2
    if not report:
        print(with_reference("", compared, args.json))
        return 0 if compared is None or compared.passed else 1
    print(with_reference(as_json(report) if args.json else table(report), compared, args.json))
    if args.junit:
        Path(args.junit).write_text(as_junit(report), encoding="utf-8")
    if args.sequence_diagram:
        for written in _write_diagrams(report, Path(args.sequence_diagram)):
            progress(f"sequence diagram written to {written}")
    progress(f"done in {report.duration_s:.1f} s")
    return 1 if report.violated or (compared is not None and not compared.passed) else 0


def _write_diagrams(report: Report, path: Path) -> list[Path]:
    """One Mermaid sequence diagram per violated property.

    With one violation it goes to ``path``; with several, to ``path`` with the
    property id before the suffix (``seq.S2.mmd``).
    """
    from ..diagrams.sequence import trace_to_mermaid

    traces = [item.counterexample for item in report.violated if item.counterexample]
    written = []
    for trace in traces:
        target = (
            path if len(traces) == 1 else path.with_suffix(f".{trace.property_id}{path.suffix}")
        )
        target.write_text(trace_to_mermaid(trace), encoding="utf-8")
        written.append(target)
    return written


__all__ = ["BUDGETS", "main"]
