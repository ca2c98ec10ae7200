"""Review pages: self-contained HTML files to read the lifecycle and its verdicts in a browser.

- ``explorer_html()`` / ``write_explorer(folder)``: the state explorer that
  ``memory-lifecycle diagrams`` writes as ``explorer.html``;
- ``conformance_page(report)``: what ``memory-lifecycle conform --html`` writes;
- ``check_page(result, properties, step_fn, argv)``: what ``memory-lifecycle
  check --html`` writes.

Every page is one file with inline CSS, JavaScript, SVG and data; it loads
nothing and opens from ``file://``.
"""

from .explorer import EXPLORER_FILE, explorer_html, write_explorer
from .reports import (
    check_page,
    conformance_page,
    write_check_page,
    write_conformance_page,
    write_page,
)

__all__ = [
    "EXPLORER_FILE",
    "check_page",
    "conformance_page",
    "explorer_html",
    "write_check_page",
    "write_conformance_page",
    "write_explorer",
    "write_page",
]
