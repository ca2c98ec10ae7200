"""The pure lifecycle model: immutable state, events, effects and ``step``.

Standard library only; no clock, threads, logging or I/O. See ``step`` for the
theory of operation.
"""

from .effects import CallProvider, Effect, Outcome, Result, StartFollowUp, WakeWaiters
from .events import (
    PROCESS_EVENT_TYPES,
    SESSION_EVENT_TYPES,
    BackgroundCommitRequested,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    DrainFinished,
    DrainStarted,
    Event,
    ProcessEvent,
    RegisterAgent,
    Reset,
    SessionEvent,
    TurnCompleted,
    UnregisterAgent,
    WaitExpired,
)
from .state import (
    EMPTY_PROCESS,
    EMPTY_SESSION,
    Agent,
    InFlight,
    Process,
    Segment,
    Session,
    SessionId,
)
from .step import SESSION_RULES, SessionStep, Step, step, step_session

__all__ = [
    "EMPTY_PROCESS",
    "EMPTY_SESSION",
    "PROCESS_EVENT_TYPES",
    "SESSION_EVENT_TYPES",
    "SESSION_RULES",
    "Agent",
    "BackgroundCommitRequested",
    "CallProvider",
    "CommitFailed",
    "CommitRequested",
    "CommitSucceeded",
    "Discard",
    "DrainFinished",
    "DrainStarted",
    "Effect",
    "Event",
    "InFlight",
    "Outcome",
    "Process",
    "ProcessEvent",
    "RegisterAgent",
    "Reset",
    "Result",
    "Segment",
    "Session",
    "SessionEvent",
    "SessionId",
    "SessionStep",
    "StartFollowUp",
    "Step",
    "TurnCompleted",
    "UnregisterAgent",
    "WaitExpired",
    "WakeWaiters",
    "step",
    "step_session",
]
