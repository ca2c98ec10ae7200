"""Counterexample traces: the shared, readable form every checker reports.

``Trace`` is a numbered list of ``TraceStep``; ``describe_session`` is the one
way a session's state is written on a trace line, and ``show_agent`` the one
way an agent (or no agent: ``None``) is named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TraceStep:
    """One numbered step of a counterexample.

    ``actor`` says who acted (a thread, a caller, "provider"); ``action`` what
    was done (an event or API call), ``result`` what it returned, and ``state``
    the key state after it, all as short text.
    """

    actor: str
    action: str
    result: str
    state: str


@dataclass(frozen=True)
class Trace:
    """A counterexample: the steps, and the property they violate."""

    property_id: str
    message: str
    steps: tuple[TraceStep, ...]

    def format(self) -> str:
        """The trace as numbered lines for a terminal."""
        lines = [f"{self.property_id} violated: {self.message}"]
        width = len(str(len(self.steps)))
        for number, item in enumerate(self.steps, start=1):
            lines.append(
                f"  {number:>{width}}. [{item.actor}] {item.action} -> {item.result}"
                + (f"   | {item.state}" if item.state else "")
            )
        return "\n".join(lines)


def show_agent(agent: object) -> str:
    """An agent as traces show it: its name when it has one, ``None`` for no agent."""
    if agent is None:
        return "None"
    for attribute in ("name", "agent_name", "label"):
        value = getattr(agent, attribute, None)
        if isinstance(value, str):
            return value
    return repr(agent)


def describe_session(session: Any, show: Callable[[object], str] = show_agent) -> str:
    """One session on one line, as every trace shows it.

    ``gen 3 committed 1 segments [2..2:a 3..3:b] registered b in flight a@2 owed 3``:
    ``generation`` and ``committed``, the owner segments of the dirty
    generations, the registered agent, the running provider call (its agent
    and the generation it captured) and the generation a follow-up is owed
    for. A view with fewer fields shows what it has; None is ``no entry``.
    """
    if session is None:
        return "no entry"
    parts = [f"gen {session.generation} committed {session.committed}"]
    segments = getattr(session, "segments", ())
    if segments:
        shown = " ".join(f"{item.start}..{item.end}:{show(item.owner)}" for item in segments)
        parts.append(f"segments [{shown}]")
    registered = getattr(session, "registered", None)
    if registered is not None:
        parts.append(f"registered {show(registered)}")
    running = session.in_flight
    if running is True:
        parts.append("in flight")
    elif running:
        parts.append(f"in flight {show(running.agent)}@{running.captured_generation}")
    owed = getattr(session, "follow_up_through", 0)
    if owed:
        parts.append(f"owed {owed}")
    return " ".join(parts)
