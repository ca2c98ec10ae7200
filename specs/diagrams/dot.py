"""Graphviz DOT text for the abstract machines, byte for byte deterministic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..machine import ANY_STATE, AbstractEdge
from .style import EDGE_FONT_SIZE, FONT, STATE_COLOURS


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string (newlines become centred line breaks)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def html_escape(text: str) -> str:
    """``text`` safe inside a DOT HTML-like label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attributes(values: Mapping[str, str | int | float]) -> str:
    """A DOT attribute list; string values are quoted unless they are HTML labels."""
    parts = []
    for key, value in values.items():
        if isinstance(value, str) and not (value.startswith("<") and value.endswith(">")):
            parts.append(f"{key}={quote(value)}")
        else:
            parts.append(f"{key}={value}")
    return "[" + ", ".join(parts) + "]"


def edge_label(edge: AbstractEdge) -> str:
    """An edge's text: the trigger, then its guards in brackets and ``/ note``."""
    details = []
    if edge.guards:
        details.append("[" + ", ".join(name.replace("_", " ") for name in edge.guards) + "]")
    if edge.note:
        details.append("/ " + edge.note)
    return "\n".join([edge.trigger, *([" ".join(details)] if details else [])])


def group_by_ends(edges: Iterable[AbstractEdge]) -> dict[tuple[str, str], list[AbstractEdge]]:
    """Rows keyed by ``(source, dest)`` in first-appearance order, wildcard rows left out."""
    groups: dict[tuple[str, str], list[AbstractEdge]] = {}
    for edge in edges:
        if edge.source != ANY_STATE:
            groups.setdefault((edge.source, edge.dest), []).append(edge)
    return groups


def legend_table(title: str, rows: Iterable[tuple[str, str, str]]) -> str:
    """An HTML-like table label: one row per ``(colour, name, meaning)``."""
    cells = [f'<TR><TD COLSPAN="2"><B>{html_escape(title)}</B></TD></TR>']
    for colour, name, meaning in rows:
        cells.append(
            f'<TR><TD BGCOLOR="{colour}">{html_escape(name)}</TD>'
            f'<TD ALIGN="LEFT">{html_escape(meaning)}</TD></TR>'
        )
    return (
        '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
        + "".join(cells)
        + "</TABLE>>"
    )


def machine_to_dot(
    name: str,
    title: str,
    states: Sequence[str],
    edges: Sequence[AbstractEdge],
    meanings: Mapping[str, str],
    *,
    rankdir: str = "TB",
    same_rank: Sequence[Sequence[str]] = (),
) -> str:
    """A state machine as DOT: coloured states, labelled edges, a legend.

    The first state is initial. Rows between the same two states share one
    arrow (their labels stacked, in table order). Rows with source
    ``ANY_STATE`` are drawn once, dashed, from an "any state" marker.
    ``same_rank`` lists groups of states laid out side by side.
    """
    lines = [
        f"digraph {name} {{",
        "  graph "
        + attributes(
            {
                "rankdir": rankdir,
                "label": title,
                "labelloc": "t",
                "fontname": FONT,
                "fontsize": 16,
                "nodesep": 0.5,
                "ranksep": 0.8,
                "newrank": "true",
            }
        )
        + ";",
        "  node " + attributes({"shape": "box", "style": "rounded,filled", "fontname": FONT}) + ";",
        "  edge " + attributes({"fontname": FONT, "fontsize": EDGE_FONT_SIZE}) + ";",
        "  __start [shape=point, width=0.15];",
    ]
    for state in states:
        lines.append(f"  {state} " + attributes({"fillcolor": STATE_COLOURS[state]}) + ";")
    lines.append(f"  __start -> {states[0]};")
    wildcard = [edge for edge in edges if edge.source == ANY_STATE]
    for group in same_rank:
        lines.append("  { rank=same; " + " ".join(f"{state};" for state in group) + " }")
    for (source, dest), rows in group_by_ends(edges).items():
        label = "\n\n".join(edge_label(edge) for edge in rows)
        lines.append(f"  {source} -> {dest} " + attributes({"label": label}) + ";")
    for index, edge in enumerate(wildcard):
        marker = f"__any{index}"
        lines.append(
            f"  {marker} "
            + attributes({"shape": "plaintext", "style": "", "label": "any state", "fontsize": 10})
            + ";"
        )
        lines.append(
            f"  {marker} -> {edge.dest} "
            + attributes({"label": edge_label(edge), "style": "dashed", "color": "#777777"})
            + ";"
        )
    legend = legend_table(
        "State", [(STATE_COLOURS[state], state, meanings[state]) for state in states]
    )
    lines.append(
        "  __legend " + attributes({"shape": "plaintext", "style": "", "label": legend}) + ";"
    )
    lines.append("}")
    return "\n".join(lines) + "\n"
