"""The frame every page shares: one self-contained HTML file, inline CSS, JS and data.

Nothing is loaded from anywhere: the stylesheet and scripts beside this
module are copied in, and data goes in ``<script type="application/json">``
blocks the scripts read. The colours of abstract states and of statuses come
from ``diagrams.style`` so a state looks the same on every page and diagram.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import Any

from ..diagrams.style import STATE_COLOURS

STATUS_COLOURS: dict[str, str] = {
    "passed": STATE_COLOURS["CLEAN"],
    "violated": STATE_COLOURS["ORPHANED"],
    "not_applicable": STATE_COLOURS["ABSENT"],
    "not_checked": "#FFFFFF",
}
"""Fill of each verdict: a passed property looks like a clean session, a violated one
like an orphaned one."""

STATUS_TEXT: dict[str, str] = {
    "passed": "passed",
    "violated": "violated",
    "not_applicable": "not applicable",
    "not_checked": "not checked",
}

MARK_COLOURS: dict[str, str] = {
    "provider": STATE_COLOURS["COMMITTING"],
    "wait": STATE_COLOURS["DIRTY"],
    "interrupt": STATE_COLOURS["ORPHANED"],
    "violation": "#C0392B",
}
"""Timeline colours: a provider call is drawn like a committing session, a wait like
dirty work waiting, an interrupt like orphaned work."""


def asset(name: str) -> str:
    """The text of a stylesheet or script shipped beside this module."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def json_block(element_id: str, data: Any) -> str:
    """``data`` as a JSON script block (id ``data-ELEMENT_ID``) the scripts read."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    text = text.replace("</", "<\\/").replace("<!--", "<\\u0021--")
    return f'<script type="application/json" id="data-{element_id}">{text}</script>'


def colour_rules() -> str:
    """CSS custom properties and classes for every state, status and timeline mark."""
    rules = [":root {"]
    for name, colour in STATE_COLOURS.items():
        rules.append(f"  --state-{name.lower().replace('_', '-')}: {colour};")
    for name, colour in STATUS_COLOURS.items():
        rules.append(f"  --status-{name.replace('_', '-')}: {colour};")
    for name, colour in MARK_COLOURS.items():
        rules.append(f"  --mark-{name}: {colour};")
    rules.append("}")
    for name, colour in STATE_COLOURS.items():
        rules.append(f'.chip[data-state="{name}"] {{ background: {colour}; }}')
    for name, colour in STATUS_COLOURS.items():
        rules.append(f'.status[data-status="{name}"] {{ background: {colour}; }}')
    return "\n".join(rules)


def page(title: str, body: str, *, script: str, data: dict[str, Any]) -> str:
    """A complete HTML document: ``body`` plus the shared style, ``script`` and ``data``."""
    blocks = "\n".join(json_block(element_id, value) for element_id, value in data.items())
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            "<style>",
            colour_rules(),
            asset("pages.css"),
            "</style>",
            "</head>",
            "<body>",
            body,
            blocks,
            "<script>",
            asset("common.js"),
            asset(script),
            "</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def chip(state: str) -> str:
    """An abstract state as a small coloured label."""
    return f'<span class="chip" data-state="{escape(state)}">{escape(state)}</span>'


def status_pill(status: str) -> str:
    """A verdict as a coloured label."""
    text = STATUS_TEXT.get(status, status)
    return f'<span class="status" data-status="{escape(status)}">{escape(text)}</span>'


def copy_field(label: str, text: str) -> str:
    """A labelled, selectable line of code with a copy button."""
    return (
        '<div class="copy-field">'
        f'<span class="copy-label">{escape(label)}</span>'
        f"<code>{escape(text)}</code>"
        f'<button type="button" class="copy" data-copy="{escape(text)}" '
        f'aria-label="copy the {escape(label)}">copy</button>'
        "</div>"
    )
