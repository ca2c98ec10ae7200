"""Screenshots of the three pages for the README, taken in headless Chromium.

Usage, from the repository root (needs the dev extra and ``apt-get install -y chromium``)::

    python -m memory_lifecycle.specs.pages.screenshots [--out diagrams/pages]

It writes ``explorer.png`` (a few steps taken, one abstract state opened),
``conformance-report.png`` (``conform tests/broken/busy_request_dropped.py
--quick``, at its violating step) and ``check-report.png`` (``check --mutant
follow-up-dropped``, at its violating step), at laptop width.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..checker import explore
from ..checker.mutants import MUTANTS
from ..conformance.runner import run_conformance
from ..properties import ALL
from .browser import chromium, file_url
from .explorer import explorer_html
from .reports import check_page, conformance_page, write_page

DEFAULT_OUT = Path("diagrams/pages")
REPORT_TARGET = Path("tests/broken/busy_request_dropped.py")
CHECK_MUTANT = "follow-up-dropped"
WIDTH = 1366
EXPLORER_STEPS = (
    "RegisterAgent('s1', agent=A)",
    "TurnCompleted('s1')",
    "CommitRequested('s1')",
    "TurnCompleted('s1')",
)
"""Events taken in the explorer before its screenshot: a call in flight, then a new turn."""


def _open(context: Any, path: Path) -> tuple[Any, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(file_url(path))
    page.wait_for_load_state("load")
    return page, errors


def _finish(page: Any, errors: list[str], path: Path, full_page: bool) -> None:
    if errors:
        raise RuntimeError(f"{path.name}: the page reported errors: {errors}")
    page.screenshot(path=str(path), full_page=full_page)
    page.close()
    print(f"wrote {path} ({path.stat().st_size:,} bytes)", file=sys.stderr)


def shoot(out: Path, target: Path = REPORT_TARGET) -> list[Path]:
    """Write the three screenshots into ``out``; return their paths."""
    if not target.is_file():
        raise FileNotFoundError(
            f"{target} not found: run from the repository root, or pass --target FILE"
        )
    out.mkdir(parents=True, exist_ok=True)
    print(f"conform {target} --quick (about half a minute)", file=sys.stderr)
    report = run_conformance(str(target), budget="quick")
    mutant = MUTANTS[CHECK_MUTANT]
    result = explore(mutant.bounds, mutant.step)
    written = []
    with tempfile.TemporaryDirectory() as folder, chromium(width=WIDTH, height=980) as context:
        pages = Path(folder)
        write_page(pages / "explorer.html", explorer_html())
        write_page(pages / "conformance.html", conformance_page(report))
        write_page(
            pages / "check.html",
            check_page(
                result,
                ALL,
                mutant.step,
                ["--mutant", CHECK_MUTANT],
                f"the broken model {CHECK_MUTANT!r}",
            ),
        )
        page, errors = _open(context, pages / "explorer.html")
        for event in EXPLORER_STEPS:
            page.locator("#step-panel ul.events li", has_text=event).filter(
                has=page.locator(f'.ev:text-is("{event}")')
            ).first.click()
        page.click('svg.machine .state[data-state="DIRTY"]')
        page.evaluate("window.scrollTo(0, 0)")
        _finish(page, errors, out / "explorer.png", full_page=False)
        written.append(out / "explorer.png")
        for name, file in (
            ("conformance-report.png", "conformance.html"),
            ("check-report.png", "check.html"),
        ):
            page, errors = _open(context, pages / file)
            page.keyboard.press("v")
            _finish(page, errors, out / name, full_page=True)
            written.append(out / name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Take the screenshots; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m memory_lifecycle.specs.pages.screenshots",
        description="Screenshot the state explorer and the two report pages for the README.",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"folder (default {DEFAULT_OUT})"
    )
    parser.add_argument("--target", type=Path, default=REPORT_TARGET, help="conformance target")
    args = parser.parse_args(argv)
    try:
        shoot(args.out, args.target)
    except (RuntimeError, FileNotFoundError) as error:
        print(f"screenshots: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
