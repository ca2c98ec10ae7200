"""Events: the inputs of ``step``.

Session events carry the session id first. An API call becomes one event; a
provider call becomes two (``CommitRequested`` starts it, ``CommitSucceeded``
or ``CommitFailed`` ends it), so everything that can happen while it runs is an
ordinary event in between. Time enters as data: an event that depends on the
clock carries the reading (``now``) the shell took.
"""

from __future__ import annotations

from typing import NamedTuple

from .state import Agent, SessionId


class RegisterAgent(NamedTuple):
    """The host made ``agent`` the owner of the session's future turns."""

    session_id: SessionId
    agent: Agent


class UnregisterAgent(NamedTuple):
    """The host dropped the session's current agent; dirty owners stay."""

    session_id: SessionId


class TurnCompleted(NamedTuple):
    """A turn finished; an ``ephemeral`` turn completes nothing."""

    session_id: SessionId
    agent: Agent | None = None
    ephemeral: bool = False


class CommitRequested(NamedTuple):
    """Someone asks to commit the session's earliest dirty segment."""

    session_id: SessionId
    call_id: int = 0
    """The id the provider call gets if one starts (fresh for every request)."""
    agent: Agent | None = None
    """An agent passed by the caller: it may adopt an ownerless segment."""
    agent_can_commit: bool = True
    """False when ``agent`` has no callable ``commit_memory_session``: it adopts nothing."""
    wait: bool = False
    """The caller would rather wait for a running call than leave a follow-up."""
    in_call: bool = False
    """The caller is itself inside a provider call, so it must never wait."""
    follow_up: bool = False
    """The lifecycle itself pays a follow-up owed by an earlier busy request."""
    whole: bool = False
    """Commit every dirty segment up to now: the later ones by follow-ups."""
    now: float = 0.0
    """Clock reading, for a waiting request."""
    deadline: float | None = None
    """For a waiting request: give up once ``now`` reaches it (None: never)."""


class CommitSucceeded(NamedTuple):
    """The provider call ``call_id`` returned."""

    session_id: SessionId
    call_id: int


class CommitFailed(NamedTuple):
    """The provider call ``call_id`` raised; ``fatal`` when it was a BaseException."""

    session_id: SessionId
    call_id: int
    fatal: bool = False


class Discard(NamedTuple):
    """The host asks to drop the session's entry to bound memory."""

    session_id: SessionId


class EntryEdited(NamedTuple):
    """A test wrote a field of the drop-in's ``_sessions`` entry (a test hook).

    ``field`` is one of ``EDITABLE_FIELDS``; for ``"entry"`` the value is a
    whole ``Session`` or None (the entry is deleted).
    """

    session_id: SessionId
    field: str
    value: object


EDITABLE_FIELDS: tuple[str, ...] = (
    "generation",
    "committed_generation",
    "in_flight",
    "agent",
    "segments",
    "entry",
)
"""What ``EntryEdited`` may write: the original module's entry fields, or the whole entry."""


class BackgroundCommitRequested(NamedTuple):
    """The host wants to start a fire-and-forget boundary commit."""


class BackgroundCommitEnded(NamedTuple):
    """An admitted background commit finished."""


class DrainStarted(NamedTuple):
    """Shutdown began: commit every dirty session by ``deadline``."""

    now: float
    deadline: float
    workers: int = 1
    """How many drain workers the shell may run at most."""
    in_call: bool = False
    """The drain runs inside a provider call."""


class DrainNext(NamedTuple):
    """A drain worker offers to commit ``session_id``, taken from the drain queue."""

    session_id: SessionId
    now: float
    call_id: int


class DrainPoll(NamedTuple):
    """Someone asks whether the drain has ended."""

    now: float


class DrainFinished(NamedTuple):
    """The drain returned to its caller."""


class Reset(NamedTuple):
    """Forget everything (test isolation)."""


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
