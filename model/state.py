"""Immutable state of the lifecycle: segments, sessions, the shutdown record, the process.

Every value here is a ``Record`` (see ``record``): immutable, compared and
hashed by value, so the model checker can store millions of states. Agents
are opaque handles: the rules only ever compare them by identity (``is``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Final

from .record import Record

__all__ = [
    "DRAINED",
    "DRAINING",
    "EMPTY_PROCESS",
    "EMPTY_SESSION",
    "EMPTY_SHUTDOWN",
    "RUNNING",
    "Agent",
    "InFlight",
    "Process",
    "Segment",
    "Session",
    "SessionId",
    "Shutdown",
]
"""The names ``memory_lifecycle.model`` re-exports from this module."""


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


class Segment(Record):
    """Generations ``start..end`` (inclusive) completed under one owner (None: no owner)."""

    _fields = ("start", "end", "owner")

    def __init__(self, start: int, end: int, owner: Agent | None) -> None:
        self.start: Final = start
        self.end: Final = end
        self.owner: Final = owner

    def _values(self) -> tuple[Any, ...]:
        return (self.start, self.end, self.owner)

    def _replace(self, **changes: Any) -> Segment:
        return Segment(
            changes.get("start", self.start),
            changes.get("end", self.end),
            changes.get("owner", self.owner),
        )


class InFlight(Record):
    """The one provider call running for a session.

    ``call_id`` names the call: an end reported for another id is stale.
    ``agent`` is the agent being called (None only for a mark written through
    the drop-in's test hook). ``captured_generation`` is the end of the segment
    being committed: success advances ``committed`` to it. ``follow_up`` is True
    when the lifecycle itself started the call to pay a follow-up.
    """

    _fields = ("call_id", "agent", "captured_generation", "follow_up")

    def __init__(
        self, call_id: int, agent: Agent | None, captured_generation: int, follow_up: bool
    ) -> None:
        self.call_id: Final = call_id
        self.agent: Final = agent
        self.captured_generation: Final = captured_generation
        self.follow_up: Final = follow_up

    def _values(self) -> tuple[Any, ...]:
        return (self.call_id, self.agent, self.captured_generation, self.follow_up)


class Session(Record):
    """Everything the lifecycle knows about one session.

    ``generation``: completed, non-ephemeral turns so far. ``committed``: the
    highest generation known to be extracted by the provider. ``registered``:
    the agent that owns turns completed from now on. ``segments``: owner runs
    covering exactly ``(committed, generation]``, oldest first. ``in_flight``:
    the running provider call, if any. ``follow_up_through``: work up to this
    generation was requested while busy (0: nothing owed). ``drain_failures``:
    provider calls of this session that failed during the current drain.
    """

    _fields = (
        "generation",
        "committed",
        "registered",
        "segments",
        "in_flight",
        "follow_up_through",
        "drain_failures",
    )

    def __init__(
        self,
        generation: int = 0,
        committed: int = 0,
        registered: Agent | None = None,
        segments: tuple[Segment, ...] = (),
        in_flight: InFlight | None = None,
        follow_up_through: int = 0,
        drain_failures: int = 0,
    ) -> None:
        self.generation: Final = generation
        self.committed: Final = committed
        self.registered: Final = registered
        self.segments: Final = segments
        self.in_flight: Final = in_flight
        self.follow_up_through: Final = follow_up_through
        self.drain_failures: Final = drain_failures

    def _values(self) -> tuple[Any, ...]:
        return (
            self.generation,
            self.committed,
            self.registered,
            self.segments,
            self.in_flight,
            self.follow_up_through,
            self.drain_failures,
        )

    def _replace(self, **changes: Any) -> Session:
        return Session(
            changes.get("generation", self.generation),
            changes.get("committed", self.committed),
            changes.get("registered", self.registered),
            changes.get("segments", self.segments),
            changes.get("in_flight", self.in_flight),
            changes.get("follow_up_through", self.follow_up_through),
            changes.get("drain_failures", self.drain_failures),
        )

    @property
    def dirty(self) -> bool:
        """True when some completed generation is not yet committed."""
        return self.generation > self.committed

    @property
    def idle(self) -> bool:
        """True when no provider call is running for this session."""
        return self.in_flight is None


class Shutdown(Record):
    """The process-wide part of the state: the drain and the background commits.

    ``phase`` is RUNNING, DRAINING or DRAINED. While draining: ``deadline`` is
    the clock reading by which the drain returns; ``waits_for_calls`` is False
    when the drain runs inside a provider call (which could never end while the
    drain waits for it), so it waits for no call; ``queued`` counts the
    sessions the drain still has to commit (``drain_wants``) and ``calls`` the
    sessions with a provider call in flight, both kept up to date by every step
    so that deciding the drain's end costs nothing. ``background_commits``
    counts the background commits admitted and not yet ended.
    """

    _fields = ("phase", "deadline", "waits_for_calls", "queued", "calls", "background_commits")

    def __init__(
        self,
        phase: str = RUNNING,
        deadline: float = 0.0,
        waits_for_calls: bool = True,
        queued: int = 0,
        calls: int = 0,
        background_commits: int = 0,
    ) -> None:
        self.phase: Final = phase
        self.deadline: Final = deadline
        self.waits_for_calls: Final = waits_for_calls
        self.queued: Final = queued
        self.calls: Final = calls
        self.background_commits: Final = background_commits

    def _values(self) -> tuple[Any, ...]:
        return (
            self.phase,
            self.deadline,
            self.waits_for_calls,
            self.queued,
            self.calls,
            self.background_commits,
        )

    def _replace(self, **changes: Any) -> Shutdown:
        return Shutdown(
            changes.get("phase", self.phase),
            changes.get("deadline", self.deadline),
            changes.get("waits_for_calls", self.waits_for_calls),
            changes.get("queued", self.queued),
            changes.get("calls", self.calls),
            changes.get("background_commits", self.background_commits),
        )


EMPTY_SESSION: Final = Session()
EMPTY_SHUTDOWN: Final = Shutdown()


class Process(Record):
    """The whole state: every session, plus the shutdown record.

    ``sessions`` is a tuple of ``(session_id, Session)`` pairs sorted by id, so
    equal processes are equal values (the ids must be mutually orderable). The
    model checker works on this form; the threaded shell keeps its sessions in
    a dict and its ``Shutdown`` beside it, and steps them with the same rules.
    """

    _fields = ("sessions", "shutdown")

    def __init__(
        self,
        sessions: tuple[tuple[SessionId, Session], ...] = (),
        shutdown: Shutdown = EMPTY_SHUTDOWN,
    ) -> None:
        self.sessions: Final = sessions
        self.shutdown: Final = shutdown

    def _values(self) -> tuple[Any, ...]:
        return (self.sessions, self.shutdown)

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


EMPTY_PROCESS: Final = Process()
