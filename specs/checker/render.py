"""Short text for events, results and states in counterexample traces."""

from __future__ import annotations

from memory_lifecycle.model import (
    DRAINED,
    DRAINING,
    BackgroundCommitEnded,
    BackgroundCommitRequested,
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    DrainFinished,
    DrainNext,
    DrainPoll,
    DrainStarted,
    Effect,
    EntryEdited,
    Event,
    Outcome,
    Process,
    QueueForDrain,
    Reset,
    Result,
    Session,
    StartDrainWorkers,
    StartFollowUp,
    WakeWaiters,
)
from memory_lifecycle.model.record import field_defaults


def actor_of(event: Event) -> str:
    """Who causes ``event``: the provider, the lifecycle, the drain, a test or the host."""
    if isinstance(event, CommitSucceeded | CommitFailed):
        return "provider"
    if isinstance(event, CommitRequested) and event.follow_up:
        return "follow-up"
    if isinstance(event, CommitRequested) and event.in_call:
        return "provider call"
    if isinstance(event, DrainNext):
        return "drain worker"
    if isinstance(event, DrainStarted | DrainPoll | DrainFinished):
        return "drain"
    if isinstance(event, BackgroundCommitRequested | BackgroundCommitEnded):
        return "background"
    if isinstance(event, EntryEdited | Reset):
        return "test"
    return "host"


def event_text(event: Event) -> str:
    """``Name(field=value, ...)`` without fields at their default values."""
    defaults = field_defaults(type(event))
    parts = []
    for name, value in zip(event._fields, event, strict=True):
        if name in defaults and value == defaults[name]:
            continue
        parts.append(repr(value) if name == "session_id" else f"{name}={value!r}")
    return f"{type(event).__name__}({', '.join(parts)})"


def result_text(result: Result, effects: tuple[Effect, ...]) -> str:
    """The result, then the effects other than waking waiters."""
    text = result.value if isinstance(result, Outcome) else f"generation {result}"
    shown = [_effect_text(effect) for effect in effects if not isinstance(effect, WakeWaiters)]
    return text + (" + " + ", ".join(shown) if shown else "")


def _effect_text(effect: Effect) -> str:
    if isinstance(effect, CallProvider):
        return (
            f"CallProvider({effect.session_id!r}, {effect.agent!r}, "
            f"captured={effect.captured_generation}, call={effect.call_id})"
        )
    if isinstance(effect, StartFollowUp | QueueForDrain):
        return f"{type(effect).__name__}({effect.session_id!r})"
    if isinstance(effect, StartDrainWorkers):
        return f"StartDrainWorkers({effect.workers})"
    return type(effect).__name__


def session_text(session: Session) -> str:
    """``gen=2 committed=1 registered=A segments=[2..2:A] in_flight=A@2#1 owed=2``."""
    segments = ",".join(f"{s.start}..{s.end}:{_agent_text(s.owner)}" for s in session.segments)
    parts = [
        f"gen={session.generation}",
        f"committed={session.committed}",
        f"registered={_agent_text(session.registered)}",
    ]
    if segments:
        parts.append(f"segments=[{segments}]")
    running = session.in_flight
    if running is not None:
        follow = " follow-up" if running.follow_up else ""
        parts.append(
            f"in_flight={_agent_text(running.agent)}@{running.captured_generation}"
            f"#{running.call_id}{follow}"
        )
    if session.follow_up_through:
        parts.append(f"owed={session.follow_up_through}")
    if session.drain_failures:
        parts.append(f"drain_failures={session.drain_failures}")
    return " ".join(parts)


def shutdown_text(process: Process) -> str:
    """The shutdown record in a few words (empty while running with nothing to say)."""
    shutdown = process.shutdown
    parts = []
    if shutdown.phase == DRAINING:
        waits = "" if shutdown.waits_for_calls else ", waits for no call"
        parts.append(
            f"draining (deadline {shutdown.deadline:g}, queued {shutdown.queued}, "
            f"calls {shutdown.calls}{waits})"
        )
    elif shutdown.phase == DRAINED:
        parts.append("drained")
    if shutdown.background_commits:
        parts.append(f"background commits {shutdown.background_commits}")
    return ", ".join(parts)


def state_text(process: Process) -> str:
    """Every session on one line, then the shutdown record."""
    parts = [f"{key}: {session_text(value)}" for key, value in process.sessions]
    if not parts:
        parts.append("no entries")
    shutdown = shutdown_text(process)
    if shutdown:
        parts.append(shutdown)
    return "; ".join(parts)


def _agent_text(agent: object) -> str:
    return "-" if agent is None else repr(agent)
