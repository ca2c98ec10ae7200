"""Shared helpers of the benchmark scripts: the original module, tables, the header.

The scripts run from a clone with only the project installed; the original
hermes-webui module is optional and loaded from a file path when present.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shlex
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "hermes_webui_session_lifecycle.py"
"""Where a checkout beside the shared folder finds the original module."""


class InstantAgent:
    """An agent whose provider call returns at once."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0

    def commit_memory_session(self) -> None:
        """Count the call and return."""
        self.calls += 1


def load_reference(path: Path, name: str = "hermes_webui_session_lifecycle") -> ModuleType | None:
    """Import the original module from ``path`` as a fresh module; None when absent."""
    if not path.is_file():
        print(
            f"original module not found at {path}: its columns are skipped "
            f"(pass --reference PATH to include it)",
            file=sys.stderr,
        )
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path} as a module; pass a .py file to --reference")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def comparison_parser(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """The options of a script that compares with the original: ``--quick`` (described
    by ``quick_help``) and ``--reference PATH``; the description is ``doc``'s first paragraph."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--reference",
        type=Path,
        default=DEFAULT_REFERENCE,
        help="path of the original hermes_webui_session_lifecycle.py (skipped when absent)",
    )
    return parser


def header(title: str) -> str:
    """The lines every script prints first: what, where, and the command that ran."""
    command = " ".join(shlex.quote(part) for part in [Path(sys.executable).name, *sys.argv])
    return "\n".join(
        [
            f"# {title}",
            f"command: {command}",
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.system()} {platform.release()}",
        ]
    )


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, numbers right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(headers[column]), *(len(row[column]) for row in cells))
        for column in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "| "
        + " | ".join("-" * (w - 1) + ":" if column else "-" * w for column, w in enumerate(widths))
        + " |",
    ]
    for row in cells:
        lines.append(
            "| "
            + " | ".join(
                cell.rjust(w) if column else cell.ljust(w)
                for column, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )
    return "\n".join(lines)


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)
