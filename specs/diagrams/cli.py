"""``memory-lifecycle diagrams``: write the state diagrams (.dot, .mmd, .svg, .png).

Images are drawn from their ``.dot`` source, and only when that source
changed (or with ``--redraw``): a renderer other than the one that drew the
committed images (another Graphviz version, ``graphviz-pure``) then leaves a
fresh clone unchanged. Exit statuses: ``commandline.EXIT_STATUSES``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..commandline import (
    INTERRUPTED,
    OK,
    USAGE,
    VIOLATED,
    OutputError,
    check_output_folder,
    exit_status_help,
    subcommand_parser,
)
from .build import REFRESH_COMMAND, RENDERED, text_outputs
from .render import MISSING_HELP, Renderer, find_renderer, render, version

EXIT_STATUSES = {
    OK: "the diagrams were written (or, with --check, are current)",
    VIOLATED: "--check: a text diagram in DIR is stale or missing",
    USAGE: "bad usage, a folder that cannot be written, or a renderer that failed",
    INTERRUPTED: "interrupted (Ctrl-C)",
}
"""What the exit statuses of ``diagrams`` mean."""

DEFAULT_OUT = Path("diagrams")
IMAGE_FORMATS = ("svg", "png")


def _parser() -> argparse.ArgumentParser:
    parser = subcommand_parser(
        "diagrams",
        "Render the abstract session and process machines and the reachable states of a "
        "small world as Graphviz (.dot, .svg, .png) and Mermaid (.mmd). Images are drawn "
        "only when their .dot source changed (or with --redraw).",
        exit_status_help(EXIT_STATUSES),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"folder to write into (default: {DEFAULT_OUT}/)",
    )
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="write only the text outputs (.dot, .mmd, .md); draw no images",
    )
    parser.add_argument(
        "--redraw",
        action="store_true",
        help="draw the images even when their .dot source is unchanged",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a text output in DIR differs from a fresh one",
    )
    return parser


def _fail(message: str) -> int:
    print(f"memory-lifecycle diagrams: {message}", file=sys.stderr)
    return USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the diagrams; return the exit status."""
    args = _parser().parse_args(argv)
    out: Path = args.out
    texts = text_outputs()
    if args.check:
        return _check(out, texts)
    try:
        check_output_folder(out, "--out")
        renderer = None if args.text_only else find_renderer()
    except (OutputError, FileNotFoundError) as error:
        return _fail(str(error))
    try:
        if renderer is not None:
            print(f"drawing with {renderer.path} ({version(renderer)})", file=sys.stderr)
            for stem in RENDERED:
                _draw(out, stem, texts[f"{stem}.dot"], renderer, args.redraw)
        for name, text in texts.items():
            _write(out / name, text.encode("utf-8"))
        if not args.text_only:
            from ..pages import EXPLORER_FILE, explorer_html  # the interactive explorer page

            _write(out / EXPLORER_FILE, explorer_html().encode("utf-8"))
    except OSError as error:
        return _fail(f"cannot write into {out}: {error}")
    except (RuntimeError, subprocess.SubprocessError) as error:
        return _fail(f"the renderer failed: {error}")
    if renderer is None and not args.text_only:
        print(f"memory-lifecycle diagrams: {MISSING_HELP}", file=sys.stderr)
    return OK


def _draw(out: Path, stem: str, source: str, renderer: Renderer, redraw: bool) -> None:
    """Draw ``stem`` as every image format, unless its .dot is unchanged and drawn.

    The .dot is written after its images, so it marks them as drawn from it.
    """
    images = [out / f"{stem}.{output_format}" for output_format in IMAGE_FORMATS]
    dot = out / f"{stem}.dot"
    current = dot.is_file() and dot.read_bytes() == source.encode("utf-8")
    if current and not redraw and all(image.is_file() for image in images):
        print(f"kept {stem}.svg/.png: drawn from this .dot already", file=sys.stderr)
        return
    for image, output_format in zip(images, IMAGE_FORMATS, strict=True):
        started = time.perf_counter()
        data = render(renderer, source, output_format)
        image.write_bytes(data)
        took = time.perf_counter() - started
        print(f"wrote {image} ({len(data):,} bytes in {took:.2f} s)", file=sys.stderr)


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` unless ``path`` already holds exactly it."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.write_bytes(data)
    print(f"wrote {path} ({len(data):,} bytes)", file=sys.stderr)


def _check(out: Path, texts: dict[str, str]) -> int:
    """Exit status 1, naming the stale files, when ``out`` differs from ``texts``."""
    stale = [
        name
        for name, text in texts.items()
        if not (out / name).is_file() or (out / name).read_bytes() != text.encode("utf-8")
    ]
    if not stale:
        print(f"{out}/: {len(texts)} text diagrams are current", file=sys.stderr)
        return OK
    print(
        f"{out}/: stale or missing: {', '.join(stale)}\n"
        f"regenerate them with: {REFRESH_COMMAND} --out {out}",
        file=sys.stderr,
    )
    return VIOLATED
