"""The reachable concrete states of a small world, coloured by their abstract state.

The picture shows what the abstraction hides: each box is one state of
``model.step`` (a single session), filled with the colour of the abstract
state it maps to, and grouped with the other states of that abstract state.
Events that leave a state unchanged are not drawn; parallel events between
two states share one arrow.
"""

from __future__ import annotations

from collections.abc import Sequence

from memory_lifecycle.model import Process, Session

from ..abstraction import session_state
from ..checker.explore import Edge, ReachableGraph, reachable_graph
from ..checker.world import FAMILIES, Bounds
from ..machine import SESSION_STATE_MEANINGS, SESSION_STATES
from .dot import as_text, dot_text, legend_table, new_graph
from .style import EDGE_FONT_SIZE, STATE_COLOURS

DIAGRAM_FAMILIES = (
    "explicit_turn_agent",
    "provider_success",
    "provider_failure",
    "discard",
)
"""The event families the diagram's world keeps."""

DIAGRAM_BOUNDS = Bounds(sessions=1, agents=1, max_generation=2).without(
    *(name for name in FAMILIES if name not in DIAGRAM_FAMILIES)
)
"""One session, one agent, two turns; provider success and failure, discard; no
waiting, unregistering, adopting, follow-ups, fatal failures, drain or reset
(26 states)."""

SESSION_ID = "s1"


def session_label(session: Session | None) -> str:
    """A concrete session in a few short lines."""
    if session is None:
        return "no entry"
    lines = [f"gen {session.generation}, committed {session.committed}"]
    registered = "-" if session.registered is None else repr(session.registered)
    lines.append(f"registered {registered}")
    if session.segments:
        lines.append(
            " ".join(
                f"{s.start}..{s.end}:{'-' if s.owner is None else repr(s.owner)}"
                for s in session.segments
            )
        )
    if session.in_flight is not None:
        lines.append(
            f"calling {session.in_flight.agent!r}, captured {session.in_flight.captured_generation}"
        )
    if session.follow_up_through:
        lines.append(f"follow-up owed to {session.follow_up_through}")
    return "\n".join(lines)


def concrete_graph(bounds: Bounds = DIAGRAM_BOUNDS) -> ReachableGraph:
    """The reachable graph the picture draws (one session only)."""
    if bounds.sessions != 1:
        raise ValueError(f"the concrete picture draws one session; got sessions={bounds.sessions}")
    return reachable_graph(bounds)


LABEL_LEGEND: tuple[tuple[str, str], ...] = (
    ("gen G, committed C", "turns completed (G) and committed (C)"),
    ("registered A", "the agent registered for the session (-: none)"),
    ("1..2:A", "a segment: dirty turns 1 to 2, owned by agent A (-: no owner yet)"),
    ("calling A, captured N", "a provider call through A is running; it commits up to turn N"),
    ("follow-up owed to N", "a commit asked for while busy: turns up to N are committed next"),
)
"""What each line of a state's box says (the notation of ``session_label``)."""


def concrete_to_dot(graph: ReachableGraph, title: str) -> str:
    """DOT text: one box per state, coloured by abstract state, and two legends."""
    number = {state: index for index, state in enumerate(graph.states)}
    groups: dict[str, list[Process]] = {state: [] for state in SESSION_STATES}
    for state in graph.states:
        groups[session_state(state.session(SESSION_ID))].append(state)
    dot = new_graph("reachable_states", title, "TB", nodesep="0.25", ranksep="0.6")
    dot.attr("node", fontsize="10")
    dot.attr("edge", fontsize=str(EDGE_FONT_SIZE - 1), color="#555555")
    for state in graph.states:
        abstract = session_state(state.session(SESSION_ID))
        extra = {"penwidth": "2.5"} if state == graph.initial else {}
        dot.node(
            f"n{number[state]}",
            label=dot_text(session_label(state.session(SESSION_ID))),
            fillcolor=STATE_COLOURS[abstract],
            **extra,
        )
    for (before, after), triggers in _arrows(graph.edges).items():
        dot.edge(f"n{number[before]}", f"n{number[after]}", label=dot_text("\n".join(triggers)))
    colours = legend_table(
        "Fill: abstract state. Bold border: initial state.",
        [
            (STATE_COLOURS[state], state, SESSION_STATE_MEANINGS[state])
            for state in SESSION_STATES
            if groups[state]
        ],
    )
    dot.node("legend", label=colours, shape="plaintext", style="")
    notation = legend_table("Box text", [("", text, meaning) for text, meaning in LABEL_LEGEND])
    dot.node("notation", label=notation, shape="plaintext", style="")
    return as_text(dot)


def _arrows(edges: Sequence[Edge]) -> dict[tuple[Process, Process], list[str]]:
    """Distinct ``(before, after)`` pairs in exploration order, with their triggers."""
    arrows: dict[tuple[Process, Process], list[str]] = {}
    for edge in edges:
        if edge.before == edge.after:
            continue
        triggers = arrows.setdefault((edge.before, edge.after), [])
        name = type(edge.event).__name__
        if name not in triggers:
            triggers.append(name)
    return arrows
