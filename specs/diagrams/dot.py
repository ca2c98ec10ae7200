"""Graphviz DOT for the abstract machines, built with the ``graphviz`` package.

The text is byte for byte deterministic: states, edges and attributes are
added in table order, and nothing depends on hashing or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import graphviz  # type: ignore[import-untyped]

from ..machine import ANY_STATE, AbstractEdge
from .style import EDGE_FONT_SIZE, FONT, STATE_COLOURS


def dot_text(text: str) -> str:
    """``text`` as a DOT label: backslashes literal, each line centred."""
    return str(graphviz.escape(text)).replace("\n", "\\n")


def html_escape(text: str) -> str:
    """``text`` safe inside a DOT HTML-like label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def edge_label(edge: AbstractEdge) -> str:
    """An edge's text: the trigger, then its guards in brackets and ``/ note``."""
    details = []
    if edge.guards:
        details.append("[" + ", ".join(name.replace("_", " ") for name in edge.guards) + "]")
    if edge.note:
        details.append("/ " + edge.note)
    return "\n".join([edge.trigger, *([" ".join(details)] if details else [])])


def legend_table(title: str, rows: Iterable[tuple[str, str, str]]) -> str:
    """An HTML-like table label: one row per ``(colour, name, meaning)``.

    A row with an empty colour has a plain first cell.
    """
    cells = [f'<TR><TD COLSPAN="2"><B>{html_escape(title)}</B></TD></TR>']
    for colour, name, meaning in rows:
        fill = f' BGCOLOR="{colour}"' if colour else ""
        cells.append(
            f"<TR><TD{fill}>{html_escape(name)}</TD>"
            f'<TD ALIGN="LEFT">{html_escape(meaning)}</TD></TR>'
        )
    return (
        '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
        + "".join(cells)
        + "</TABLE>>"
    )


def new_graph(name: str, title: str, rankdir: str, **graph: str) -> graphviz.Digraph:
    """A directed graph with the shared fonts, a title on top and rounded, filled boxes."""
    return graphviz.Digraph(
        name,
        graph_attr={
            "rankdir": rankdir,
            "label": dot_text(title),
            "labelloc": "t",
            "fontname": FONT,
            "fontsize": "16",
            "newrank": "true",
            **graph,
        },
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT},
        edge_attr={"fontname": FONT, "fontsize": str(EDGE_FONT_SIZE)},
    )


def as_text(graph: graphviz.Digraph) -> str:
    """The DOT source, indented with two spaces, ending in one newline."""
    source: str = graph.source
    return source.replace("\t", "  ").rstrip("\n") + "\n"


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
    """A state machine as DOT: coloured states, one labelled arrow per row, a legend.

    The first state is initial. Every row is its own arrow, so each label sits
    by its arrow (``decorate`` ties it on with a thin line). Rows with source
    ``ANY_STATE`` are drawn dashed from an "any state" marker. ``same_rank``
    lists groups of states laid out side by side.
    """
    graph = new_graph(name, title, rankdir, nodesep="0.6", ranksep="0.9")
    graph.node("__start", shape="point", width="0.15", style="")
    for state in states:
        graph.node(state, fillcolor=STATE_COLOURS[state])
    graph.edge("__start", states[0])
    for group in same_rank:
        with graph.subgraph() as row:
            row.attr(rank="same")
            for state in group:
                row.node(state)
    for edge in edges:
        if edge.source == ANY_STATE:
            continue
        graph.edge(edge.source, edge.dest, label=dot_text(edge_label(edge)), decorate="true")
    for index, edge in enumerate(item for item in edges if item.source == ANY_STATE):
        marker = f"__any{index}"
        graph.node(marker, label="any state", shape="plaintext", style="", fontsize="10")
        graph.edge(
            marker,
            edge.dest,
            label=dot_text(edge_label(edge)),
            style="dashed",
            color="#777777",
        )
    legend = legend_table(
        "State", [(STATE_COLOURS[state], state, meanings[state]) for state in states]
    )
    graph.node("__legend", label=legend, shape="plaintext", style="")
    return as_text(graph)
