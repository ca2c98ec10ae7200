"""Mermaid ``stateDiagram-v2`` text for the abstract machines, deterministic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..machine import ANY_STATE, AbstractEdge
from .style import STATE_COLOURS


def label_text(text: str) -> str:
    """``text`` safe after a Mermaid ``:`` (no colon, semicolon or line break)."""
    return text.replace(":", ",").replace(";", ",").replace("\n", " ").strip()


def edge_text(edge: AbstractEdge) -> str:
    """One line for an edge: trigger, guards in brackets, then ``/ note``."""
    text = edge.trigger
    if edge.guards:
        text += " [" + ", ".join(name.replace("_", " ") for name in edge.guards) + "]"
    if edge.note:
        text += " / " + edge.note
    return label_text(text)


def machine_to_mermaid(
    title: str,
    states: Sequence[str],
    edges: Sequence[AbstractEdge],
    *,
    direction: str = "TB",
) -> str:
    """A state machine as a Mermaid state diagram, coloured like the DOT one.

    The first state is initial; a row with source ``ANY_STATE`` becomes a note
    on its destination. Mermaid would show a state description instead of the
    state's name, so the meanings go in ``state_table`` beside the diagram.
    """
    lines = [
        "---",
        f"title: {label_text(title)}",
        "---",
        "stateDiagram-v2",
        f"    direction {direction}",
    ]
    for state in states:
        lines.append(f"    classDef {state.lower()} fill:{STATE_COLOURS[state]},color:#000000")
    lines.append(f"    [*] --> {states[0]}")
    for edge in edges:
        if edge.source != ANY_STATE:
            lines.append(f"    {edge.source} --> {edge.dest}: {edge_text(edge)}")
    for edge in edges:
        if edge.source == ANY_STATE:
            lines.append(f"    note left of {edge.dest}")
            lines.append(
                f"        {edge_text(edge._replace(trigger=edge.trigger + ' from any state'))}"
            )
            lines.append("    end note")
    for state in states:
        lines.append(f"    class {state} {state.lower()}")
    return "\n".join(lines) + "\n"


def state_table(states: Sequence[str], meanings: Mapping[str, str]) -> str:
    """A Markdown table of the states and their meanings (the diagram's legend)."""
    rows = ["| State | Meaning |", "| --- | --- |"]
    rows += [f"| `{state}` | {meanings[state]} |" for state in states]
    return "\n".join(rows) + "\n"
