"""Counterexample traces: the shared, readable form every checker reports."""

from __future__ import annotations

from dataclasses import dataclass


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
