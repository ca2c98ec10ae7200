"""Colours and fonts shared by every diagram, so a state looks the same everywhere."""

from __future__ import annotations

STATE_COLOURS: dict[str, str] = {
    "ABSENT": "#EEEEEE",
    "CLEAN": "#B8E0C2",
    "DIRTY": "#FFE18F",
    "ORPHANED": "#F5A9A3",
    "COMMITTING": "#A8CBEA",
    "COMMITTING_DIRTY": "#CDB6E8",
    "RUNNING": "#B8E0C2",
    "DRAINING": "#FFE18F",
    "DRAINED": "#D0D0D0",
}
"""Fill colour of every abstract state (light, distinguishable, dark text stays legible)."""

FONT = "Helvetica"
EDGE_FONT_SIZE = 10
