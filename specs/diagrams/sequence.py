"""A counterexample ``Trace`` as a Mermaid sequence diagram."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..trace import Trace, TraceStep

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


PROVIDER_BEGINS = ("begins", "held in flight")
"""Words of a provider step that starts a call (else the step is a call ending)."""


def is_provider_step(step: TraceStep) -> bool:
    """True for a step the provider takes: the lifecycle calls it, it returns."""
    return step.actor.lower().startswith("provider") or step.action.startswith("provider ")


def provider_call_begins(step: TraceStep) -> bool:
    """True when a provider step is the lifecycle calling the provider, not a call ending."""
    return any(word in step.action for word in PROVIDER_BEGINS)


def trace_to_mermaid(trace: Trace) -> str:
    """The trace's steps as messages between each actor and the lifecycle.

    A caller's step is a call into the lifecycle (numbered as in
    ``Trace.format``) and its result back. A provider's step goes the other
    way, as it happens: the lifecycle calls the provider (``->>``), and the
    end of a provider call is the provider returning to the lifecycle
    (``-->>``). Each step notes the state after it; the last step, where the
    property fails, sits in a red box under a note naming the property.
    """
    actors: dict[str, str] = {}
    for item in trace.steps:
        name = "provider" if is_provider_step(item) else item.actor
        actors.setdefault(name, f"A{len(actors) + 1}")
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
        provider = is_provider_step(item)
        alias = actors["provider" if provider else item.actor]
        indent = "    "
        if number == last:
            lines.append("    rect rgb(255, 225, 225)")
            indent = "        "
        action = f"{number}. {message_text(item.action)}"
        result = message_text(item.result)
        if not provider:
            lines.append(f"{indent}{alias}->>{LIFECYCLE}: {action}")
            lines.append(f"{indent}{LIFECYCLE}-->>{alias}: {result}")
        elif provider_call_begins(item):
            lines.append(f"{indent}{LIFECYCLE}->>{alias}: {action}")
            if result:
                lines.append(f"{indent}{alias}-->>{LIFECYCLE}: {result}")
        else:
            lines.append(f"{indent}{alias}-->>{LIFECYCLE}: {action}")
            if result:
                lines.append(f"{indent}Note over {LIFECYCLE}: {result}")
        if item.state:
            lines.append(f"{indent}Note right of {LIFECYCLE}: {message_text(item.state)}")
        if number == last:
            lines.append("    end")
    first = next(iter(actors.values()), LIFECYCLE)
    verdict = message_text(f"{trace.property_id} violated: {trace.message}")
    lines.append(f"    Note over {first},{LIFECYCLE}: {verdict}")
    return "\n".join(lines) + "\n"


def write_sequence_diagrams(traces: Sequence[Trace], path: Path) -> list[Path]:
    """Write each counterexample as a Mermaid sequence diagram; return the files written.

    One trace goes to ``path`` itself; several go to ``path`` with the
    property id before the suffix (``seq.S2.mmd``, ``seq.L1.mmd``).
    """
    written = []
    for trace in traces:
        target = (
            path if len(traces) == 1 else path.with_suffix(f".{trace.property_id}{path.suffix}")
        )
        target.write_text(trace_to_mermaid(trace), encoding="utf-8")
        written.append(target)
    return written
