"""The abstract machines drawn as inline SVG, from the same tables as the static diagrams.

States sit at fixed places chosen for reading (``LAYOUT``); a state the
layout does not know is placed on an extra row, so a new state still draws.
Edges come from ``machine.SESSION_EDGES``/``PROCESS_EDGES``: rows with the
same source and destination share one arrow labelled with each trigger, an
edge with a partner in the other direction bends away from it, and self-loops
sit above their state. ``Reset`` (from any state) is a note, as in the static
diagrams. Every state and arrow carries ``data-`` attributes the pages'
scripts use to highlight and open them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from ..diagrams.style import STATE_COLOURS
from ..machine import ANY_STATE, AbstractEdge

LAYOUT: dict[str, tuple[float, float]] = {
    "ABSENT": (420, 56),
    "CLEAN": (420, 166),
    "COMMITTING": (420, 296),
    "COMMITTING_DIRTY": (420, 416),
    "DIRTY": (110, 236),
    "ORPHANED": (730, 236),
    "RUNNING": (90, 84),
    "DRAINING": (330, 84),
    "DRAINED": (570, 84),
}
"""Centre of each known abstract state, in SVG units. DIRTY and ORPHANED are the two
poles every other session state joins, so the arrows fan out without crossing."""

BENDS: dict[tuple[str, str], float] = {
    ("DIRTY", "ORPHANED"): 215,
    ("ORPHANED", "DIRTY"): 215,
}
"""Sideways bend of an arrow's middle (positive: to the left of its direction), where the
default (straight, or apart from a partner in the other direction) would cross others."""

PAIR_BEND = 22.0
"""Bend of each of two arrows that join the same states in opposite directions."""

LABEL_NUDGE: dict[tuple[str, str], tuple[float, float]] = {
    ("COMMITTING", "DIRTY"): (-28, -6),
    ("DIRTY", "COMMITTING_DIRTY"): (38, 22),
    ("COMMITTING_DIRTY", "DIRTY"): (-6, 6),
}
"""Offset of an arrow's label from the middle of its curve, where one would cover another."""

NODE_HEIGHT = 34.0
CHAR_WIDTH = 8.2
FONT = "Helvetica, Arial, sans-serif"


def _width(name: str) -> float:
    return max(84.0, len(name) * CHAR_WIDTH + 26)


def _positions(states: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Known states at their layout place; others on a row below the lowest one."""
    known = {name: LAYOUT[name] for name in states if name in LAYOUT}
    lowest = max((y for _, y in known.values()), default=0.0)
    extra = [name for name in states if name not in LAYOUT]
    for index, name in enumerate(extra):
        known[name] = (110 + 200 * (index % 4), lowest + 120 * (1 + index // 4))
    return known


Point = tuple[float, float]


def _border(centre: Point, name: str, towards: Point) -> Point:
    """Where the ray from a state's centre towards a point leaves its box."""
    x, y = centre
    dx, dy = towards[0] - x, towards[1] - y
    if dx == 0 and dy == 0:
        return centre
    half_w, half_h = _width(name) / 2 + 2, NODE_HEIGHT / 2 + 2
    scale = min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)
    return (x + dx * scale, y + dy * scale)


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _Arrow:
    """One drawn arrow: the rows it stands for."""

    def __init__(self, source: str, dest: str) -> None:
        self.source = source
        self.dest = dest
        self.rows: list[tuple[int, AbstractEdge]] = []

    @property
    def triggers(self) -> list[str]:
        seen: list[str] = []
        for _, edge in self.rows:
            if edge.trigger not in seen:
                seen.append(edge.trigger)
        return seen

    def title(self) -> str:
        lines = []
        for _, edge in self.rows:
            guards = f" [{', '.join(edge.guards).replace('_', ' ')}]" if edge.guards else ""
            note = f" / {edge.note}" if edge.note else ""
            lines.append(f"{edge.source} → {edge.dest}: {edge.trigger}{guards}{note}")
        return "\n".join(lines)


def machine_svg(
    machine: str,
    title: str,
    states: Sequence[str],
    edges: Sequence[AbstractEdge],
    meanings: dict[str, str],
) -> str:
    """The machine as one ``<svg>`` element, states clickable (``data-state``)."""
    places = _positions(states)
    arrows: dict[tuple[str, str], _Arrow] = {}
    notes: list[AbstractEdge] = []
    for index, edge in enumerate(edges):
        if edge.source == ANY_STATE:
            notes.append(edge)
            continue
        key = (edge.source, edge.dest)
        arrows.setdefault(key, _Arrow(*key)).rows.append((index, edge))
    drawn = [(arrow, *_arrow_path(arrow, places, arrows)) for arrow in arrows.values()]
    xs: list[float] = []
    ys: list[float] = []
    for name, (x, y) in places.items():
        xs.extend((x - _width(name) / 2, x + _width(name) / 2))
        ys.extend((y - NODE_HEIGHT / 2 - 12, y + NODE_HEIGHT / 2))
    for arrow, _, label_at, extent in drawn:
        xs.extend(point[0] for point in extent)
        ys.extend(point[1] for point in extent)
        half = max(len(text) for text in arrow.triggers) * 3.3
        xs.extend((label_at[0] - half, label_at[0] + half))
        ys.extend((label_at[1] - 7 * len(arrow.triggers), label_at[1] + 7 * len(arrow.triggers)))
    left, top = min(xs) - 8, min(ys) - 8
    width = max(max(xs) + 8, 300 + left) - left
    height = max(ys) + 14 + 18 * len(notes) - top
    parts = [
        f'<svg class="machine" data-machine="{machine}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="{_fmt(left)} {_fmt(top)} {_fmt(width)} {_fmt(height)}" '
        f'width="{_fmt(width)}" height="{_fmt(height)}" role="img" '
        f'aria-label="{escape(title)}" font-family="{FONT}">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow-' + machine + '" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    ]
    labels: list[str] = []
    for arrow, path, label_at, _ in drawn:
        indexes = ",".join(str(index) for index, _ in arrow.rows)
        parts.append(
            f'<g class="edge" data-source="{arrow.source}" data-dest="{arrow.dest}" '
            f'data-triggers="{" ".join(arrow.triggers)}" data-rows="{indexes}">'
            f"<title>{escape(arrow.title())}</title>"
            f'<path d="{path}" marker-end="url(#arrow-{machine})"/></g>'
        )
        lines = arrow.triggers
        first_dy = -(len(lines) - 1) * 6.5
        spans = "".join(
            f'<tspan x="{_fmt(label_at[0])}" dy="{_fmt(first_dy if n == 0 else 13)}">'
            f"{escape(text)}</tspan>"
            for n, text in enumerate(lines)
        )
        labels.append(
            f'<text class="edge-label" data-source="{arrow.source}" data-dest="{arrow.dest}" '
            f'x="{_fmt(label_at[0])}" y="{_fmt(label_at[1] + 4)}" text-anchor="middle">'
            f"{spans}</text>"
        )
    parts.extend(labels)
    for name in states:
        parts.append(_state_node(machine, name, places[name], meanings.get(name, "")))
    for number, edge in enumerate(notes):
        note = f" / {edge.note}" if edge.note else ""
        parts.append(
            f'<text class="machine-note" x="{_fmt(left + 8)}" '
            f'y="{_fmt(top + height - 8 - 18 * number)}">'
            f"{escape(edge.trigger)} from any state → {escape(edge.dest)}{escape(note)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _state_node(machine: str, name: str, centre: tuple[float, float], meaning: str) -> str:
    x, y = centre
    width = _width(name)
    colour = STATE_COLOURS.get(name, "#FFFFFF")
    return (
        f'<g class="state" data-machine="{machine}" data-state="{name}" tabindex="0" '
        f'role="button" aria-label="{escape(name)}: {escape(meaning)}">'
        f"<title>{escape(name)}: {escape(meaning)} (click: the concrete states it stands for)"
        "</title>"
        f'<rect x="{_fmt(x - width / 2)}" y="{_fmt(y - NODE_HEIGHT / 2)}" width="{_fmt(width)}" '
        f'height="{_fmt(NODE_HEIGHT)}" rx="9" fill="{colour}"/>'
        f'<text x="{_fmt(x)}" y="{_fmt(y + 5)}" text-anchor="middle">{escape(name)}</text>'
        f'<g class="badges" data-x="{_fmt(x + width / 2)}" data-y="{_fmt(y - NODE_HEIGHT / 2)}">'
        "</g></g>"
    )


def _arrow_path(
    arrow: _Arrow,
    places: dict[str, tuple[float, float]],
    arrows: dict[tuple[str, str], _Arrow],
) -> tuple[str, tuple[float, float], list[tuple[float, float]]]:
    """The arrow's SVG path, where its label goes, and points along it (for the extent)."""
    start, end = places[arrow.source], places[arrow.dest]
    key = (arrow.source, arrow.dest)
    nudge = LABEL_NUDGE.get(key, (0.0, 0.0))
    if arrow.source == arrow.dest:
        x, y = start
        top = y - NODE_HEIGHT / 2
        path = (
            f"M{_fmt(x - 18)},{_fmt(top)} C{_fmt(x - 40)},{_fmt(top - 46)} "
            f"{_fmt(x + 40)},{_fmt(top - 46)} {_fmt(x + 18)},{_fmt(top)}"
        )
        extent = [(x - 40, top - 46), (x + 40, top - 46)]
        return path, (x + nudge[0], top - 40 + nudge[1]), extent
    if key in BENDS:
        bend = BENDS[key]
    elif (arrow.dest, arrow.source) in arrows:
        bend = PAIR_BEND
    else:
        bend = 0.0
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy) or 1.0
    normal = (dy / length, -dx / length)
    control = (mx + normal[0] * bend * 2, my + normal[1] * bend * 2)
    begin = _border(start, arrow.source, control)
    finish = _border(end, arrow.dest, control)
    path = (
        f"M{_fmt(begin[0])},{_fmt(begin[1])} Q{_fmt(control[0])},{_fmt(control[1])} "
        f"{_fmt(finish[0])},{_fmt(finish[1])}"
    )
    middle = (
        0.25 * begin[0] + 0.5 * control[0] + 0.25 * finish[0] + nudge[0],
        0.25 * begin[1] + 0.5 * control[1] + 0.25 * finish[1] + nudge[1],
    )
    extent = [
        (
            (1 - t) ** 2 * begin[0] + 2 * t * (1 - t) * control[0] + t**2 * finish[0],
            (1 - t) ** 2 * begin[1] + 2 * t * (1 - t) * control[1] + t**2 * finish[1],
        )
        for t in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    return path, middle, extent
