"""Immutable state of the lifecycle: segments, sessions, the shutdown record, the process.

Every value here is a ``NamedTuple``, so states hash, compare and copy cheaply
and the model checker can store millions of them. Agents are opaque handles:
the rules only ever compare them by identity (``is``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

Agent = object
"""An agent handle. Opaque to the model; compared by identity only."""

SessionId = Hashable
"""A session id: any hashable value (the drop-in API uses non-empty strings)."""

RUNNING = "RUNNING"
"""No drain has started: background commits are admitted, follow-ups run."""
DRAINING = "DRAINING"
"""The shutdown drain is running: it commits the dirty sessions itself."""
DRAINED = "DRAINED"
"""A drain has returned; the lifecycle serves as in ``RUNNING``."""


class Segment(NamedTuple):
    """Generations ``start..end`` (inclusive) completed under one owner."""

    start: int
    end: int
    owner: Agent | None


class InFlight(NamedTuple):
    """The one provider call running for a session."""

    call_id: int
    """Names this call: an end reported for another id is stale."""
    agent: Agent | None
    """The agent being called; None only for a mark written through the drop-in's test hook."""
    captured_generation: int
    """The end of the segment being committed; success advances ``committed`` to it."""
    follow_up: bool
    """True when the lifecycle itself started this call to pay a follow-up."""


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
    drain_failures: int = 0
    """Provider calls of this session that failed during the current drain."""

    @property
    def dirty(self) -> bool:
        """True when some completed generation is not yet committed."""
        return self.generation > self.committed

    @property
    def idle(self) -> bool:
        """True when no provider call is running for this session."""
        return self.in_flight is None


class Shutdown(NamedTuple):
    """The process-wide part of the state: the drain and the background commits.

    ``queued`` and ``calls`` are counts over the sessions, kept up to date by
    every step while draining, so deciding the drain's end costs nothing.
    """

    phase: str = RUNNING
    """``RUNNING``, ``DRAINING`` or ``DRAINED``."""
    deadline: float = 0.0
    """While draining: the clock reading by which the drain returns."""
    waits_for_calls: bool = True
    """While draining: False when the drain runs inside a provider call, which
    could never end while the drain waits for it, so it waits for no call."""
    queued: int = 0
    """While draining: sessions the drain still has to commit (see ``drain_wants``)."""
    calls: int = 0
    """While draining: sessions with a provider call in flight."""
    background_commits: int = 0
    """Background commits admitted and not yet ended."""


class Process(NamedTuple):
    """The whole state: every session, plus the shutdown record.

    ``sessions`` is a tuple of ``(session_id, Session)`` pairs sorted by id, so
    equal processes are equal tuples (the ids must be mutually orderable). The
    model checker works on this form; the threaded shell keeps its sessions in
    a dict and its ``Shutdown`` beside it, and steps them with the same rules.
    """

    sessions: tuple[tuple[SessionId, Session], ...] = ()
    shutdown: Shutdown = Shutdown()

    @property
    def draining(self) -> bool:
        """True while the shutdown drain runs."""
        return self.shutdown.phase == DRAINING

    @property
    def drained(self) -> bool:
        """True once a drain has returned (and no other runs)."""
        return self.shutdown.phase == DRAINED

    def session(self, session_id: SessionId) -> Session | None:
        """The state of one session, or None when it has no entry."""
        for key, value in self.sessions:
            if key == session_id:
                return value
        return None


EMPTY_SESSION = Session()
EMPTY_SHUTDOWN = Shutdown()
EMPTY_PROCESS = Process()
