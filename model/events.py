"""Events: the inputs of the rules.

Session events carry the session id first. An API call becomes one event; a
provider call becomes two (``CommitRequested`` starts it, ``CommitSucceeded``
or ``CommitFailed`` ends it), so everything that can happen while it runs is an
ordinary event in between. Time enters as data: an event that depends on the
clock carries the reading (``now``) the shell took.
"""

from __future__ import annotations

from typing import Any, Final

from .record import Record
from .state import Agent, SessionId

__all__ = [
    "EDITABLE_FIELDS",
    "PROCESS_EVENT_TYPES",
    "SESSION_EVENT_TYPES",
    "BackgroundCommitEnded",
    "BackgroundCommitRequested",
    "CommitFailed",
    "CommitRequested",
    "CommitSucceeded",
    "Discard",
    "DrainFinished",
    "DrainNext",
    "DrainPoll",
    "DrainStarted",
    "EntryEdited",
    "Event",
    "ProcessEvent",
    "RegisterAgent",
    "Reset",
    "SessionEvent",
    "TurnCompleted",
    "UnregisterAgent",
]
"""The names ``memory_lifecycle.model`` re-exports from this module."""


class RegisterAgent(Record):
    """The host made ``agent`` the owner of the session's future turns."""

    _fields = ("session_id", "agent")

    def __init__(self, session_id: SessionId, agent: Agent) -> None:
        self.session_id: Final = session_id
        self.agent: Final = agent

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id, self.agent)


class UnregisterAgent(Record):
    """The host dropped the session's current agent; dirty owners stay."""

    _fields = ("session_id",)

    def __init__(self, session_id: SessionId) -> None:
        self.session_id: Final = session_id

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id,)


class TurnCompleted(Record):
    """A turn finished; an ``ephemeral`` turn completes nothing."""

    _fields = ("session_id", "agent", "ephemeral")

    def __init__(
        self, session_id: SessionId, agent: Agent | None = None, ephemeral: bool = False
    ) -> None:
        self.session_id: Final = session_id
        self.agent: Final = agent
        self.ephemeral: Final = ephemeral

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id, self.agent, self.ephemeral)


class CommitRequested(Record):
    """Someone asks to commit the session's earliest dirty segment.

    ``call_id``: the id the provider call gets if one starts (fresh for every
    request). ``agent``: passed by the caller, it may adopt an ownerless
    segment, unless ``agent_can_commit`` is False (it has no callable
    ``commit_memory_session``). ``wait``: the caller would rather wait for a
    running call than leave a follow-up; ``in_call``: the caller is itself
    inside a provider call, so it never waits. ``follow_up``: the lifecycle
    itself pays a follow-up owed by an earlier busy request. ``whole``: commit
    every dirty segment up to now, the later ones by follow-ups. ``now``: the
    clock reading, for a waiting request; ``deadline``: it gives up once
    ``now`` reaches it (None: never)."""

    _fields = (
        "session_id",
        "call_id",
        "agent",
        "agent_can_commit",
        "wait",
        "in_call",
        "follow_up",
        "whole",
        "now",
        "deadline",
    )

    def __init__(
        self,
        session_id: SessionId,
        call_id: int = 0,
        agent: Agent | None = None,
        agent_can_commit: bool = True,
        wait: bool = False,
        in_call: bool = False,
        follow_up: bool = False,
        whole: bool = False,
        now: float = 0.0,
        deadline: float | None = None,
    ) -> None:
        self.session_id: Final = session_id
        self.call_id: Final = call_id
        self.agent: Final = agent
        self.agent_can_commit: Final = agent_can_commit
        self.wait: Final = wait
        self.in_call: Final = in_call
        self.follow_up: Final = follow_up
        self.whole: Final = whole
        self.now: Final = now
        self.deadline: Final = deadline

    def _values(self) -> tuple[Any, ...]:
        return (
            self.session_id,
            self.call_id,
            self.agent,
            self.agent_can_commit,
            self.wait,
            self.in_call,
            self.follow_up,
            self.whole,
            self.now,
            self.deadline,
        )


class CommitSucceeded(Record):
    """The provider call ``call_id`` returned."""

    _fields = ("session_id", "call_id")

    def __init__(self, session_id: SessionId, call_id: int) -> None:
        self.session_id: Final = session_id
        self.call_id: Final = call_id

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id, self.call_id)


class CommitFailed(Record):
    """The provider call ``call_id`` raised; ``fatal`` when it was a BaseException."""

    _fields = ("session_id", "call_id", "fatal")

    def __init__(self, session_id: SessionId, call_id: int, fatal: bool = False) -> None:
        self.session_id: Final = session_id
        self.call_id: Final = call_id
        self.fatal: Final = fatal

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id, self.call_id, self.fatal)


class Discard(Record):
    """The host asks to drop the session's entry to bound memory."""

    _fields = ("session_id",)

    def __init__(self, session_id: SessionId) -> None:
        self.session_id: Final = session_id

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id,)


class EntryEdited(Record):
    """A test wrote a field of the drop-in's ``_sessions`` entry (a test hook).

    ``field`` is one of ``EDITABLE_FIELDS``; for ``"entry"`` the value is a
    whole ``Session`` or None (the entry is deleted)."""

    _fields = ("session_id", "field", "value")

    def __init__(self, session_id: SessionId, field: str, value: object) -> None:
        self.session_id: Final = session_id
        self.field: Final = field
        self.value: Final = value

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id, self.field, self.value)


class BackgroundCommitRequested(Record):
    """The host wants to start a fire-and-forget boundary commit."""


class BackgroundCommitEnded(Record):
    """An admitted background commit finished."""


class DrainStarted(Record):
    """Shutdown began: commit every dirty session by ``deadline``.

    ``workers``: how many drain workers the shell may run at most; ``in_call``:
    the drain runs inside a provider call."""

    _fields = ("now", "deadline", "workers", "in_call")

    def __init__(
        self, now: float, deadline: float, workers: int = 1, in_call: bool = False
    ) -> None:
        self.now: Final = now
        self.deadline: Final = deadline
        self.workers: Final = workers
        self.in_call: Final = in_call

    def _values(self) -> tuple[Any, ...]:
        return (self.now, self.deadline, self.workers, self.in_call)


class DrainNext(Record):
    """A drain worker offers to commit ``session_id``, taken from the drain queue."""

    _fields = ("session_id", "now", "call_id")

    def __init__(self, session_id: SessionId, now: float, call_id: int) -> None:
        self.session_id: Final = session_id
        self.now: Final = now
        self.call_id: Final = call_id

    def _values(self) -> tuple[Any, ...]:
        return (self.session_id, self.now, self.call_id)


class DrainPoll(Record):
    """Someone asks whether the drain has ended.

    ``worker``: a drain worker with nothing to do asks; for it the drain ends
    only when its time is up or it has returned (more work may still come).
    """

    _fields = ("now", "worker")

    def __init__(self, now: float, worker: bool = False) -> None:
        self.now: Final = now
        self.worker: Final = worker

    def _values(self) -> tuple[Any, ...]:
        return (self.now, self.worker)


class DrainFinished(Record):
    """The drain returned to its caller."""


class Reset(Record):
    """Forget everything (test isolation)."""


EDITABLE_FIELDS: tuple[str, ...] = (
    "generation",
    "committed_generation",
    "in_flight",
    "agent",
    "segments",
    "entry",
)
"""What ``EntryEdited`` may write: the original module's entry fields, or the whole entry."""

SessionEvent = (
    RegisterAgent
    | UnregisterAgent
    | TurnCompleted
    | CommitRequested
    | CommitSucceeded
    | CommitFailed
    | Discard
    | EntryEdited
)
ProcessEvent = (
    BackgroundCommitRequested
    | BackgroundCommitEnded
    | DrainStarted
    | DrainNext
    | DrainPoll
    | DrainFinished
    | Reset
)
Event = SessionEvent | ProcessEvent

SESSION_EVENT_TYPES: tuple[type, ...] = (
    RegisterAgent,
    UnregisterAgent,
    TurnCompleted,
    CommitRequested,
    CommitSucceeded,
    CommitFailed,
    Discard,
    EntryEdited,
)
PROCESS_EVENT_TYPES: tuple[type, ...] = (
    BackgroundCommitRequested,
    BackgroundCommitEnded,
    DrainStarted,
    DrainNext,
    DrainPoll,
    DrainFinished,
    Reset,
)
