"""Immutable state of the lifecycle: segments, sessions and the process.

Every value here is a tuple (``NamedTuple``), so states hash, compare and copy
cheaply, and the model checker can store millions of them. Agents are opaque
handles: the rules only ever compare them by identity (``is``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

Agent = object
"""An agent handle. Opaque to the model; compared by identity only."""

SessionId = Hashable
"""A session id: any hashable value (the drop-in API uses non-empty strings)."""


class Segment(NamedTuple):
    """Generations ``start..end`` (inclusive) completed under one owner."""

    start: int
    end: int
    owner: Agent | None


class InFlight(NamedTuple):
    """The one provider call running for a session."""

    agent: Agent
    captured_generation: int
    """The end of the segment being committed; success advances ``committed`` to it."""
    follow_up: bool
    """True when this call is a follow-up commit started by the lifecycle itself."""


class Session(NamedTuple):
    """Everything the lifecycle knows about one session."""

    generation: int = 0
    """Completed, non-ephemeral turns so far."""
    committed: int = 0
    """Highest generation known to be extracted by the provider."""
    registered: Agent | None = None
    """The agent that owns turns completed from now on."""
    segments: tuple[Segment, ...] = ()
    """Owner runs covering exactly ``(committed, generation]``, oldest first."""
    in_flight: InFlight | None = None
    follow_up_through: int = 0
    """Work up to this generation was requested while busy; 0 when nothing is owed."""

    @property
    def dirty(self) -> bool:
        """True when some completed generation is not yet committed."""
        return self.generation > self.committed

    @property
    def idle(self) -> bool:
        """True when no provider call is running for this session."""
        return self.in_flight is None


class Process(NamedTuple):
    """The whole process: every session plus the shutdown flags.

    ``sessions`` is a tuple of ``(session_id, Session)`` pairs sorted by id, so
    equal processes are equal tuples. The ids must be mutually orderable here;
    the threaded shell keeps its sessions in a dict and never builds a Process.
    """

    sessions: tuple[tuple[SessionId, Session], ...] = ()
    draining: bool = False
    drained: bool = False

    def session(self, session_id: SessionId) -> Session | None:
        """The state of one session, or None when it has no entry."""
        for key, value in self.sessions:
            if key == session_id:
                return value
        return None


EMPTY_SESSION = Session()
EMPTY_PROCESS = Process()
