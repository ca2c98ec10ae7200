"""Turning DOT text into SVG and PNG with whichever Graphviz program is installed.

Looked for in order: the program named by ``MEMORY_LIFECYCLE_DOT`` (``none``
disables rendering), Graphviz's ``dot`` on PATH, then ``graphviz-pure`` (a
self-contained port of ``dot`` on PyPI) on PATH or beside the running Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

ENVIRONMENT_VARIABLE = "MEMORY_LIFECYCLE_DOT"
PROGRAMS = ("dot", "graphviz-pure")
TIMEOUT_SECONDS = 120

MISSING_HELP = (
    "no Graphviz renderer found, so only the text diagrams (.dot, .mmd) were written.\n"
    "To also write .svg and .png, install one of:\n"
    "  - Graphviz:      apt-get install graphviz  |  brew install graphviz  |  "
    "https://graphviz.org/download/\n"
    "  - graphviz-pure: pip install graphviz-pure   (a self-contained dot, no system libraries)\n"
    f"or point {ENVIRONMENT_VARIABLE} at a dot-compatible program."
)


class Renderer(NamedTuple):
    """A dot-compatible program: ``program -Tsvg`` reads DOT on stdin."""

    name: str
    path: str


def find_renderer() -> Renderer | None:
    """The renderer to use, or None when none is installed (or it is disabled)."""
    chosen = os.environ.get(ENVIRONMENT_VARIABLE)
    if chosen is not None:
        if chosen.strip().lower() in ("", "none"):
            return None
        path = shutil.which(chosen)
        if path is None:
            raise FileNotFoundError(
                f"{ENVIRONMENT_VARIABLE}={chosen!r} is not an executable program; "
                f"set it to a dot-compatible program, or to 'none' to skip rendering"
            )
        return Renderer(Path(chosen).name, path)
    for program in PROGRAMS:
        path = shutil.which(program)
        if path is None:
            beside = Path(sys.executable).parent / program
            path = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
        if path is not None:
            return Renderer(program, path)
    return None


def version(renderer: Renderer) -> str:
    """The renderer's own version line."""
    done = subprocess.run(
        [renderer.path, "-V"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )
    return (
        (done.stderr or done.stdout).strip().splitlines()[0] if (done.stderr or done.stdout) else ""
    )


def render(renderer: Renderer, dot_text: str, output_format: str) -> bytes:
    """``dot_text`` laid out and drawn as ``output_format`` (``svg`` or ``png``)."""
    done = subprocess.run(
        [renderer.path, f"-T{output_format}"],
        input=dot_text.encode("utf-8"),
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(
            f"{renderer.name} failed to draw {output_format} (exit {done.returncode}): {message}"
        )
    return done.stdout
