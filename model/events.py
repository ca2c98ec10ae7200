"""Events: the inputs of ``step``.

Session events carry the session id first. API calls become one event each; a
provider call becomes two (``CommitRequested`` starts it, ``CommitSucceeded`` or
``CommitFailed`` ends it), so everything that can happen while it runs is an
ordinary event in between.
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
    """A boundary asks to commit the earliest dirty segment.

    ``wait``: the caller will wait for a running call instead of leaving a
    follow-up. ``follow_up``: the lifecycle itself runs this commit.
    """

    session_id: SessionId
    agent: Agent | None = None
    wait: bool = False
    follow_up: bool = False


class WaitExpired(NamedTuple):
    """A waiting committer ran out of time while a call was still running."""

    session_id: SessionId


class CommitSucceeded(NamedTuple):
    """The provider call started for ``captured_generation`` returned."""

    session_id: SessionId
    agent: Agent
    captured_generation: int


class CommitFailed(NamedTuple):
    """The provider call raised; ``fatal`` when it was a BaseException."""

    session_id: SessionId
    agent: Agent
    captured_generation: int
    fatal: bool = False


class Discard(NamedTuple):
    """The host asks to drop the session's entry to bound memory."""

    session_id: SessionId


class BackgroundCommitRequested(NamedTuple):
    """The host wants to start a fire-and-forget boundary commit."""


class DrainStarted(NamedTuple):
    """Shutdown began: background commits are refused from now on."""


class DrainFinished(NamedTuple):
    """Shutdown drain returned."""


class Reset(NamedTuple):
    """Forget everything (test isolation)."""


SessionEvent = (
    RegisterAgent
    | UnregisterAgent
    | TurnCompleted
    | CommitRequested
    | WaitExpired
    | CommitSucceeded
    | CommitFailed
    | Discard
)
ProcessEvent = BackgroundCommitRequested | DrainStarted | DrainFinished | Reset
Event = SessionEvent | ProcessEvent

SESSION_EVENT_TYPES: tuple[type, ...] = (
    RegisterAgent,
    UnregisterAgent,
    TurnCompleted,
    CommitRequested,
    WaitExpired,
    CommitSucceeded,
    CommitFailed,
    Discard,
)
PROCESS_EVENT_TYPES: tuple[type, ...] = (
    BackgroundCommitRequested,
    DrainStarted,
    DrainFinished,
    Reset,
)
