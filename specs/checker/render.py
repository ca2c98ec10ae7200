"""Short text for events, results and states in counterexample traces."""

from __future__ import annotations

from collections.abc import Callable

from memory_lifecycle import model
from memory_lifecycle.model.record import field_defaults
from memory_lifecycle.specs.trace import describe_session, show_agent


def actor_of(event: model.Event) -> str:
    """Who causes ``event``: the provider, the lifecycle, the drain, a test or the host."""
    if isinstance(event, model.CommitSucceeded | model.CommitFailed):
        return "provider"
    if isinstance(event, model.CommitRequested) and event.follow_up:
        return "follow-up"
    if isinstance(event, model.CommitRequested) and event.in_call:
        return "provider call"
    if isinstance(event, model.DrainNext):
        return "drain worker"
    if isinstance(event, model.DrainStarted | model.DrainPoll | model.DrainFinished):
        return "drain"
    if isinstance(event, model.BackgroundCommitRequested | model.BackgroundCommitEnded):
        return "background"
    if isinstance(event, model.EntryEdited | model.Reset):
        return "test"
    return "host"


def event_text(event: model.Event) -> str:
    """``Name(field=value, ...)`` without fields at their default values."""
    defaults = field_defaults(type(event))
    parts = []
    for name, value in zip(event._fields, event, strict=True):
        if name in defaults and value == defaults[name]:
            continue
        parts.append(repr(value) if name == "session_id" else f"{name}={value!r}")
    return f"{type(event).__name__}({', '.join(parts)})"


def result_text(result: model.Result, effects: tuple[model.Effect, ...]) -> str:
    """The result, then the effects other than waking waiters."""
    text = result.value if isinstance(result, model.Outcome) else f"generation {result}"
    shown = [
        _effect_text(effect) for effect in effects if not isinstance(effect, model.WakeWaiters)
    ]
    return text + (" + " + ", ".join(shown) if shown else "")


def _effect_text(effect: model.Effect) -> str:
    if isinstance(effect, model.CallProvider):
        return (
            f"CallProvider({effect.session_id!r}, {effect.agent!r}, "
            f"captured={effect.captured_generation}, call={effect.call_id})"
        )
    if isinstance(effect, model.StartFollowUp | model.QueueForDrain):
        return f"{type(effect).__name__}({effect.session_id!r})"
    if isinstance(effect, model.StartDrainWorkers):
        return f"StartDrainWorkers({effect.workers})"
    return type(effect).__name__


def shutdown_text(process: model.Process) -> str:
    """The shutdown record in a few words (empty while running with nothing to say)."""
    shutdown = process.shutdown
    parts = []
    if shutdown.phase == model.DRAINING:
        waits = "" if shutdown.waits_for_calls else ", waits for no call"
        parts.append(
            f"draining (deadline {shutdown.deadline:g}, queued {shutdown.queued}, "
            f"calls {shutdown.calls}{waits})"
        )
    elif shutdown.phase == model.DRAINED:
        parts.append("drained")
    if shutdown.background_commits:
        parts.append(f"background commits {shutdown.background_commits}")
    return ", ".join(parts)


def state_text(process: model.Process, show: Callable[[object], str] = show_agent) -> str:
    """Every session on one line (``describe_session``), then the shutdown record."""
    parts = [f"{key}: {describe_session(value, show)}" for key, value in process.sessions]
    if not parts:
        parts.append("no entries")
    shutdown = shutdown_text(process)
    if shutdown:
        parts.append(shutdown)
    return "; ".join(parts)
