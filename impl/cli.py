"""The ``memory-lifecycle`` command line: one entry, one module per subcommand.

Every subcommand exits 0 when nothing required is violated, 1 on a violation,
2 on bad usage, an unusable target or an output it cannot write, and 130 when
interrupted. The subcommands need the verification tools (the ``verify``
extra); without them the command says what to install and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Sequence

from . import __version__
from .specs.commandline import OUTPUT_CLOSED, VERIFY_INSTALL, interrupts_seen

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

VERIFY_MODULES = frozenset({"hypothesis", "transitions", "graphviz", "pytest", "_pytest"})
"""Top-level modules of the ``verify`` extra."""


HASH_SEEDED = ("conform", "interleave")
"""Subcommands that print schedules to replay: run with a fixed string hash seed, so a
target that iterates a set of strings schedules the same in the replaying process."""

EXIT_STATUSES = """exit status (every subcommand):
  0    nothing required is violated
  1    a required property is violated (any property with conform --strict)
  2    bad usage, a target that cannot be loaded, an output that cannot be written,
       or the verification tools are not installed
  130  interrupted (Ctrl-C); what was found so far is printed"""


def _parser() -> argparse.ArgumentParser:
    lines = [f"  {name:<12} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    parser = argparse.ArgumentParser(
        prog="memory-lifecycle",
        usage=f"%(prog)s [-h] [--version] {{{','.join(SUBCOMMANDS)}}} ...",
        description="Formally modeled memory-provider session lifecycle: "
        "model checker, conformance suite, interleaving explorer and state diagrams.",
        epilog="subcommands:\n"
        + "\n".join(lines)
        + "\n\nRun 'memory-lifecycle SUBCOMMAND --help' for its options.\n\n"
        + EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("subcommand", nargs="?", metavar="SUBCOMMAND", help=argparse.SUPPRESS)
    return parser


def _rerun_hash_seeded(args: list[str]) -> int | None:
    """Run the command again with ``PYTHONHASHSEED=0`` unless it is set; None when it is."""
    if os.environ.get("PYTHONHASHSEED") is not None or not sys.executable:
        return None
    environment = dict(os.environ, PYTHONHASHSEED="0")
    command = [sys.executable, "-P", "-m", "memory_lifecycle", *args]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(sys.executable, command, environment)
    try:
        return subprocess.call(command, env=environment)
    except KeyboardInterrupt:
        return 130


def _look_in_current_folder() -> None:
    """Let a dotted TARGET name a module in the current folder, as ``python -m`` does.

    Appended, not prepended: an installed package of the same name wins.
    """
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)


def missing_tools_message(name: str, error: ModuleNotFoundError) -> str | None:
    """What to install when ``error`` is a missing verification tool; else None."""
    missing = (error.name or "").split(".")[0]
    if missing not in VERIFY_MODULES:
        return None
    return (
        f"memory-lifecycle {name} needs the verification tools, and {missing!r} is not "
        f"installed; install them with: {VERIFY_INSTALL}"
    )


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
    if argv is None and name in HASH_SEEDED and "-h" not in rest and "--help" not in rest:
        rerun = _rerun_hash_seeded(args)
        if rerun is not None:
            return rerun
    _look_in_current_folder()
    module_name = SUBCOMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
        status: int = module.main(rest)
    except ModuleNotFoundError as error:
        message = missing_tools_message(name, error)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"memory-lifecycle {name}: interrupted", file=sys.stderr)
        return 130
    return status


def run() -> None:
    """The ``memory-lifecycle`` command: ``main``, then exit with its status.

    A thread a target started and left running (not a daemon) would keep the
    interpreter from exiting after the report; the command says so and exits
    without waiting for it. A reader that stops reading the output (``| head``)
    ends the command quietly with status 141, as the shell's own tools do.
    """
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        status = _output_closed()
    if interrupts_seen() and status != 130:
        print("memory-lifecycle: interrupted", file=sys.stderr)
        status = 130  # a Ctrl-C that something swallowed on its way up
    sys.stderr.flush()
    current = threading.current_thread()
    left = [t.name for t in threading.enumerate() if t is not current and not t.daemon]
    if left:
        print(
            f"memory-lifecycle: not waiting for thread(s) the target left running: "
            f"{', '.join(left)}",
            file=sys.stderr,
            flush=True,
        )
        os._exit(status)
    sys.exit(status)


def _output_closed() -> int:
    """Point stdout at /dev/null (its reader went away) and return 141 (128 + SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return OUTPUT_CLOSED
