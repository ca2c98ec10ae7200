"""``memory-lifecycle diagrams``: write the state diagrams (.dot, .mmd, .svg, .png)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .build import REFRESH_COMMAND, RENDERED, text_outputs
from .render import MISSING_HELP, Renderer, find_renderer, render, version

DEFAULT_OUT = Path("diagrams")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memory-lifecycle diagrams",
        description="Render the abstract session and process machines and the reachable "
        "states of a small world as Graphviz (.dot, .svg, .png) and Mermaid (.mmd).",
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
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a text output in DIR differs from a fresh one",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the diagrams; return the exit status."""
    args = _parser().parse_args(argv)
    out: Path = args.out
    texts = text_outputs()
    if args.check:
        return _check(out, texts)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        _write(out / name, text.encode("utf-8"))
    if args.text_only:
        return 0
    from ..pages import EXPLORER_FILE, explorer_html  # the interactive explorer page

    _write(out / EXPLORER_FILE, explorer_html().encode("utf-8"))
    try:
        renderer = find_renderer()
    except FileNotFoundError as error:
        print(f"memory-lifecycle diagrams: {error}", file=sys.stderr)
        return 2
    if renderer is None:
        print(f"memory-lifecycle diagrams: {MISSING_HELP}", file=sys.stderr)
        return 0
    _draw(out, texts, renderer)
    return 0


def _draw(out: Path, texts: dict[str, str], renderer: Renderer) -> None:
    """Draw every rendered diagram as .svg and .png with ``renderer``."""
    print(f"drawing with {renderer.path} ({version(renderer)})", file=sys.stderr)
    for stem in RENDERED:
        for output_format in ("svg", "png"):
            started = time.perf_counter()
            data = render(renderer, texts[f"{stem}.dot"], output_format)
            _write(out / f"{stem}.{output_format}", data, time.perf_counter() - started)


def _write(path: Path, data: bytes, seconds: float | None = None) -> None:
    path.write_bytes(data)
    took = "" if seconds is None else f" in {seconds:.2f} s"
    print(f"wrote {path} ({len(data):,} bytes{took})", file=sys.stderr)


def _check(out: Path, texts: dict[str, str]) -> int:
    """Exit status 1, naming the stale files, when ``out`` differs from ``texts``."""
    stale = [
        name
        for name, text in texts.items()
        if not (out / name).is_file() or (out / name).read_bytes() != text.encode("utf-8")
    ]
    if not stale:
        print(f"{out}/: {len(texts)} text diagrams are current", file=sys.stderr)
        return 0
    print(
        f"{out}/: stale or missing: {', '.join(stale)}\n"
        f"regenerate them with: {REFRESH_COMMAND} --out {out}",
        file=sys.stderr,
    )
    return 1
