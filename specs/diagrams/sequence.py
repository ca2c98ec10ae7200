"""A counterexample ``Trace`` as a Mermaid sequence diagram."""

from __future__ import annotations

from ..trace import Trace

LIFECYCLE = "LC"
"""Participant id of the lifecycle under test (every step is sent to it)."""

_ENTITIES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", "\n": "<br/>"}


def message_text(text: str) -> str:
    """``text`` safe as a Mermaid sequence message (entities for ``# ; < >``)."""
    return "".join(_ENTITIES.get(char, char) for char in text).strip()


def participant_name(text: str) -> str:
    """``text`` safe as a participant's display name."""
    cleaned = "".join(" " if char in "#;:\n" else char for char in text).strip()
    return cleaned or "?"


def trace_to_mermaid(trace: Trace) -> str:
    """The trace's steps as messages from each actor to the lifecycle.

    Each step sends its action (numbered as in ``Trace.format``), gets its
    result back, and notes the state after it; the last step, where the
    property fails, sits in a red box under a note naming the property.
    """
    actors: dict[str, str] = {}
    for item in trace.steps:
        actors.setdefault(item.actor, f"A{len(actors) + 1}")
    lines = [
        "---",
        f"title: {participant_name(trace.property_id)} counterexample",
        "---",
        "sequenceDiagram",
    ]
    for actor, alias in actors.items():
        lines.append(f"    participant {alias} as {participant_name(actor)}")
    lines.append(f"    participant {LIFECYCLE} as lifecycle")
    last = len(trace.steps)
    for number, item in enumerate(trace.steps, start=1):
        alias = actors[item.actor]
        indent = "    "
        if number == last:
            lines.append("    rect rgb(255, 225, 225)")
            indent = "        "
        lines.append(f"{indent}{alias}->>{LIFECYCLE}: {number}. {message_text(item.action)}")
        lines.append(f"{indent}{LIFECYCLE}-->>{alias}: {message_text(item.result)}")
        if item.state:
            lines.append(f"{indent}Note right of {LIFECYCLE}: {message_text(item.state)}")
        if number == last:
            lines.append("    end")
    first = next(iter(actors.values()), LIFECYCLE)
    verdict = message_text(f"{trace.property_id} violated: {trace.message}")
    lines.append(f"    Note over {first},{LIFECYCLE}: {verdict}")
    return "\n".join(lines) + "\n"
