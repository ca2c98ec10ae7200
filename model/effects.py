"""Effects and results: the outputs of ``step``.

Effects are instructions the shell carries out: it wakes waiters and queues
drain work under its lock, and calls providers and starts threads after
releasing it. The result is what the API call that fed the event reports.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from .record import Record
from .state import Agent, SessionId

__all__ = [
    "CallProvider",
    "Effect",
    "Outcome",
    "QueueForDrain",
    "Result",
    "StartDrainWorkers",
    "StartFollowUp",
    "WakeWaiters",
]
"""The names ``memory_lifecycle.model`` re-exports from this module."""


class CallProvider(Record):
    """Call ``agent.commit_memory_session()``, then report how call ``call_id`` ended."""

    _fields = ("session_id", "call_id", "agent", "captured_generation")

    def __init__(
        self, session_id: SessionId, call_id: int, agent: Agent, captured_generation: int
    ) -> None:
        self.session_id: Final = session_id
        self.call_id: Final = call_id
        self.agent: Final = agent
        self.captured_generation: Final = captured_generation

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id, self.call_id, self.agent, self.captured_generation)


class StartFollowUp(Record):
    """Commit the session again in the background: work was requested while busy."""

    _fields = ("session_id",)

    def __init__(self, session_id: SessionId) -> None:
        self.session_id: Final = session_id

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id,)


class WakeWaiters(Record):
    """Something a waiting thread cares about changed (a call ended, an entry went,
    the drain's work changed)."""


class QueueForDrain(Record):
    """The drain has work for ``session_id``: offer it to a drain worker (``DrainNext``)."""

    _fields = ("session_id",)

    def __init__(self, session_id: SessionId) -> None:
        self.session_id: Final = session_id

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id,)


class StartDrainWorkers(Record):
    """Start ``workers`` drain workers."""

    _fields = ("workers",)

    def __init__(self, workers: int) -> None:
        self.workers: Final = workers

    def _values(self) -> tuple[Any, ...]:
        return (self.workers,)


Effect = CallProvider | StartFollowUp | WakeWaiters | QueueForDrain | StartDrainWorkers


class Outcome(enum.Enum):
    """What an event did, as the API call that fed it reports."""

    DONE = "done"
    """Registration, unregistration, test-hook edits and bookkeeping events: applied."""
    STARTED = "started"
    """A provider call was started (a ``CallProvider`` effect follows)."""
    COMMITTED = "committed"
    """The provider call returned; ``committed`` advanced to the captured end."""
    FAILED = "failed"
    """The provider call raised; the work stays dirty with its owner."""
    NOTHING_TO_COMMIT = "nothing_to_commit"
    """The session is clean: no provider call was made."""
    BUSY = "busy"
    """Another provider call is running for this session (or another drain runs)."""
    WAIT = "wait"
    """Wait until woken, then ask again: a call is running, or the drain has no work yet."""
    TIMED_OUT = "timed_out"
    """The caller waited and its deadline passed (for the drain: it ends, time is up)."""
    NO_AGENT = "no_agent"
    """The dirty segment has no owner and no agent could adopt it."""
    NOT_FOUND = "not_found"
    """The session has no entry."""
    STALE = "stale"
    """A provider call ended that is not the session's running call (after a reset or an edit)."""
    DISCARDED = "discarded"
    """The clean, idle entry was removed."""
    ALREADY_ABSENT = "already_absent"
    """Discard of a session with no entry."""
    KEPT_DIRTY = "kept_dirty"
    """Discard refused: uncommitted work remains."""
    KEPT_IN_FLIGHT = "kept_in_flight"
    """Discard refused: a provider call is running."""
    ADMITTED = "admitted"
    """A background commit may start."""
    REFUSED_DRAINING = "refused_draining"
    """No background commit may start: the drain commits that work itself."""
    SKIPPED = "skipped"
    """The drain has nothing to do for that session now."""
    FINISHED = "finished"
    """The drain ends: nothing it could commit is left and no call it waits for runs."""


Result = Outcome | int
"""An ``Outcome``, or the session's generation for ``TurnCompleted``."""
