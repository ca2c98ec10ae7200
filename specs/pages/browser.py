"""Open the pages in the system's Chromium through Playwright (tests and screenshots).

Playwright's own browser builds are never downloaded: it drives the browser
the system package installs (``apt-get install -y chromium``), headless, with
a fresh profile, no network services and every console error collected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
"""Where the system browser is looked for, in order (``MEMORY_LIFECYCLE_CHROMIUM`` first)."""

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

INSTALL_HELP = (
    "install the browser with `apt-get install -y chromium` (Debian, Ubuntu) and Playwright "
    "with `pip install -e '.[dev]'`; Playwright's own browser download is not needed"
)


def find_chromium() -> str | None:
    """The path of the system's Chromium, or None."""
    chosen = os.environ.get("MEMORY_LIFECYCLE_CHROMIUM")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    return found


def why_no_browser() -> str | None:
    """Why the pages cannot be opened here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"Playwright is not installed; {INSTALL_HELP}"
    if find_chromium() is None:
        return f"no Chromium found at {', '.join(CHROMIUM_CANDIDATES)}; {INSTALL_HELP}"
    return None


@contextmanager
def chromium(width: int = 1366, height: int = 900) -> Iterator[BrowserContext]:
    """A headless Chromium context with a new, empty profile; raises RuntimeError when
    there is no browser (the message says what to install)."""
    reason = why_no_browser()
    if reason is not None:
        raise RuntimeError(reason)
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    with (
        tempfile.TemporaryDirectory(prefix="memory-lifecycle-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()


def file_url(path: str | Path) -> str:
    """The ``file://`` address of a page."""
    return Path(path).resolve().as_uri()
