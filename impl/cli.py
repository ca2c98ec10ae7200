"""The ``memory-lifecycle`` command line: one entry, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "memory_lifecycle.specs.checker.cli",
        "explore every reachable state of the model and check the properties",
    ),
    "conform": (
        "memory_lifecycle.specs.conformance.cli",
        "check another implementation of the lifecycle API against the properties",
    ),
    "interleave": (
        "memory_lifecycle.specs.interleave.cli",
        "explore the real thread schedules of an implementation, deterministically",
    ),
    "diagrams": (
        "memory_lifecycle.specs.diagrams.cli",
        "render the state diagrams (.dot, .svg, .png, .mmd)",
    ),
}
"""Subcommand name -> (module with ``main(argv) -> int``, one-line help)."""


def _parser() -> argparse.ArgumentParser:
    lines = [f"  {name:<12} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    parser = argparse.ArgumentParser(
        prog="memory-lifecycle",
        description="Formally modeled memory-provider session lifecycle: "
        "model checker, conformance suite and state diagrams.",
        epilog="subcommands:\n"
        + "\n".join(lines)
        + "\n\nRun 'memory-lifecycle SUBCOMMAND --help' for its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("subcommand", nargs="?", metavar="SUBCOMMAND", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not args or args[0].startswith("-"):
        parser.parse_args(args)
        parser.print_help()
        return 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        parser.print_usage(sys.stderr)
        known = ", ".join(SUBCOMMANDS)
        print(
            f"memory-lifecycle: unknown subcommand {name!r}; choose one of: {known}",
            file=sys.stderr,
        )
        return 2
    module_name = SUBCOMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        print(
            f"memory-lifecycle: subcommand {name!r} is not available in this version",
            file=sys.stderr,
        )
        return 2
    status: int = module.main(rest)
    return status
