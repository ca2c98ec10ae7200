"""Deliberately broken step functions: each breaks one rule of ``model.step``.

They show that the checker bites: each must be caught, with the property it
breaks named and the shortest trace shown. ``memory-lifecycle check --mutant
NAME`` runs one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memory_lifecycle import model
from memory_lifecycle.model import (
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    Event,
    InFlight,
    Outcome,
    Process,
    RegisterAgent,
    Segment,
    Session,
    SessionId,
    StartFollowUp,
    Step,
    TurnCompleted,
)
from memory_lifecycle.specs.properties import StepFn

from .world import Bounds

SMALL_WORLD = Bounds(sessions=1, agents=2, max_generation=2)
"""The world most breaks show in: one session, two agents, two turns."""


@dataclass(frozen=True)
class Mutant:
    """A broken step function, what it breaks, and the property that must catch it."""

    description: str
    step: StepFn
    catches: str
    """The id of the property whose violation shows the break."""
    bounds: Bounds = field(default_factory=lambda: SMALL_WORLD)
    """A small world that shows the break (seconds, with the product engine)."""


def _put(process: Process, session_id: SessionId, session: Session | None) -> Process:
    pairs = [pair for pair in process.sessions if pair[0] != session_id]
    if session is not None:
        pairs.append((session_id, session))
        pairs.sort(key=lambda pair: str(pair[0]))
    return process._replace(sessions=tuple(pairs))


def _session(process: Process, event: Event) -> Session | None:
    return process.session(getattr(event, "session_id", None))


def success_to_generation(state: Process, event: Event) -> Step:
    """Success advances committed to the current generation, not the captured end."""
    out = model.step(state, event)
    if isinstance(event, CommitSucceeded) and out.result is Outcome.COMMITTED:
        session = _session(out.state, event)
        assert session is not None
        cleared = session._replace(committed=session.generation, segments=(), follow_up_through=0)
        effects = tuple(e for e in out.effects if not isinstance(e, StartFollowUp))
        return Step(_put(out.state, event.session_id, cleared), effects, out.result)
    return out


def failure_clears_work(state: Process, event: Event) -> Step:
    """A failed call marks the work committed (as if the provider had extracted it)."""
    out = model.step(state, event)
    if isinstance(event, CommitFailed) and out.result is Outcome.FAILED:
        session = _session(out.state, event)
        assert session is not None
        cleared = session._replace(committed=session.generation, segments=(), follow_up_through=0)
        return Step(_put(out.state, event.session_id, cleared), out.effects, out.result)
    return out


def registered_commits(state: Process, event: Event) -> Step:
    """The registered agent makes the provider call instead of the segment's owner."""
    out = model.step(state, event)
    if isinstance(event, CommitRequested) and out.result is Outcome.STARTED:
        session = _session(out.state, event)
        assert session is not None and session.in_flight is not None
        agent = session.registered
        if agent is not None and agent is not session.in_flight.agent:
            running = session.in_flight._replace(agent=agent)
            call = CallProvider(event.session_id, agent, running.captured_generation)
            return Step(
                _put(out.state, event.session_id, session._replace(in_flight=running)),
                (call,),
                out.result,
            )
    return out


def no_in_flight_guard(state: Process, event: Event) -> Step:
    """A commit requested while a call runs starts another call."""
    before = _session(state, event)
    if isinstance(event, CommitRequested) and before is not None and before.in_flight:
        idle = _put(state, event.session_id, before._replace(in_flight=None))
        return model.step(idle, event)
    return model.step(state, event)


def discard_dirty(state: Process, event: Event) -> Step:
    """Discard removes an idle entry even when work is still dirty."""
    before = _session(state, event)
    if isinstance(event, Discard) and before is not None and before.in_flight is None:
        return Step(_put(state, event.session_id, None), (), Outcome.DISCARDED)
    return model.step(state, event)


def follow_up_dropped(state: Process, event: Event) -> Step:
    """A call that ends with work owed neither starts the follow-up nor keeps the debt."""
    out = model.step(state, event)
    if isinstance(event, CommitSucceeded | CommitFailed):
        session = _session(out.state, event)
        if session is not None and session.follow_up_through:
            effects = tuple(e for e in out.effects if not isinstance(e, StartFollowUp))
            cleared = session._replace(follow_up_through=0)
            return Step(_put(out.state, event.session_id, cleared), effects, out.result)
    return out


def fatal_stays_in_flight(state: Process, event: Event) -> Step:
    """A BaseException escaping the provider leaves the session in flight forever."""
    out = model.step(state, event)
    if isinstance(event, CommitFailed) and event.fatal and out.result is Outcome.FAILED:
        return Step(state, (), out.result)
    return out


def no_coalescing(state: Process, event: Event) -> Step:
    """Every turn opens a new segment, even when its owner owns the last one."""
    out = model.step(state, event)
    if isinstance(event, TurnCompleted) and not event.ephemeral:
        session = _session(out.state, event)
        assert session is not None
        last = session.segments[-1]
        if last.start < last.end:
            split = (
                *session.segments[:-1],
                Segment(last.start, last.end - 1, last.owner),
                Segment(last.end, last.end, last.owner),
            )
            return Step(
                _put(out.state, event.session_id, session._replace(segments=split)),
                out.effects,
                out.result,
            )
    return out


def call_when_clean(state: Process, event: Event) -> Step:
    """A commit of a clean session still calls the provider."""
    before = _session(state, event)
    agent = None if before is None else before.registered
    clean = before is not None and before.generation and before.generation <= before.committed
    if isinstance(event, CommitRequested) and clean and before and before.idle and agent:
        running = InFlight(agent, before.generation, event.follow_up)
        changed = _put(state, event.session_id, before._replace(in_flight=running))
        return Step(
            changed, (CallProvider(event.session_id, agent, before.generation),), Outcome.STARTED
        )
    return model.step(state, event)


def register_everywhere(state: Process, event: Event) -> Step:
    """Registering an agent for one session registers it for every session."""
    out = model.step(state, event)
    if isinstance(event, RegisterAgent):
        pairs = tuple(
            (key, value._replace(registered=event.agent)) for key, value in out.state.sessions
        )
        return Step(out.state._replace(sessions=pairs), out.effects, out.result)
    return out


def register_takes_segments(state: Process, event: Event) -> Step:
    """Registering an agent hands it every dirty segment."""
    out = model.step(state, event)
    if isinstance(event, RegisterAgent):
        session = _session(out.state, event)
        assert session is not None
        taken = tuple(s._replace(owner=event.agent) for s in session.segments)
        merged = (Segment(taken[0].start, taken[-1].end, event.agent),) if taken else ()
        if session.in_flight is None:
            return Step(
                _put(out.state, event.session_id, session._replace(segments=merged)),
                out.effects,
                out.result,
            )
    return out


def discard_keeps_entry(state: Process, event: Event) -> Step:
    """Discard reports the entry removed but keeps it (and its agents) alive."""
    out = model.step(state, event)
    if isinstance(event, Discard) and out.result is Outcome.DISCARDED:
        return Step(state, out.effects, out.result)
    return out


def success_keeps_in_flight(state: Process, event: Event) -> Step:
    """Success advances committed but never clears the in-flight mark."""
    out = model.step(state, event)
    if isinstance(event, CommitSucceeded) and out.result is Outcome.COMMITTED:
        before = _session(state, event)
        session = _session(out.state, event)
        assert before is not None and session is not None
        stuck = session._replace(in_flight=before.in_flight)
        return Step(_put(out.state, event.session_id, stuck), out.effects, out.result)
    return out


def never_adopt(state: Process, event: Event) -> Step:
    """An ownerless segment is never adopted: its commit always finds no agent."""
    before = _session(state, event)
    ownerless = before is not None and before.segments and before.segments[0].owner is None
    if isinstance(event, CommitRequested) and ownerless and before and before.idle:
        return Step(state, (), Outcome.NO_AGENT)
    return model.step(state, event)


def adoption_not_merged(state: Process, event: Event) -> Step:
    """An adopted ownerless segment stays apart from the adopter's own next segment."""
    before = _session(state, event)
    out = model.step(state, event)
    after = _session(out.state, event)
    if (
        isinstance(event, CommitRequested)
        and out.result is Outcome.STARTED
        and before is not None
        and after is not None
        and before.segments[0].owner is None
        and len(after.segments) < len(before.segments)
    ):
        first = before.segments[0]
        agent = after.segments[0].owner
        segments = (Segment(first.start, first.end, agent), *before.segments[1:])
        running = InFlight(agent, first.end, event.follow_up)
        return Step(
            _put(out.state, event.session_id, after._replace(segments=segments, in_flight=running)),
            (CallProvider(event.session_id, agent, first.end),),
            out.result,
        )
    return out


MUTANTS: dict[str, Mutant] = {
    "success-to-generation": Mutant(
        success_to_generation.__doc__ or "", success_to_generation, "S2"
    ),
    "failure-clears-work": Mutant(failure_clears_work.__doc__ or "", failure_clears_work, "S3"),
    "registered-commits": Mutant(registered_commits.__doc__ or "", registered_commits, "S4"),
    "no-in-flight-guard": Mutant(no_in_flight_guard.__doc__ or "", no_in_flight_guard, "S5"),
    "register-everywhere": Mutant(
        register_everywhere.__doc__ or "",
        register_everywhere,
        "S6",
        Bounds(sessions=2, agents=1, max_generation=1),
    ),
    "discard-dirty": Mutant(discard_dirty.__doc__ or "", discard_dirty, "S8"),
    "call-when-clean": Mutant(call_when_clean.__doc__ or "", call_when_clean, "S9"),
    "no-coalescing": Mutant(no_coalescing.__doc__ or "", no_coalescing, "S10"),
    "adoption-not-merged": Mutant(adoption_not_merged.__doc__ or "", adoption_not_merged, "S10"),
    "fatal-stays-in-flight": Mutant(
        fatal_stays_in_flight.__doc__ or "", fatal_stays_in_flight, "S3"
    ),
    "register-takes-segments": Mutant(
        register_takes_segments.__doc__ or "", register_takes_segments, "S4"
    ),
    "follow-up-dropped": Mutant(follow_up_dropped.__doc__ or "", follow_up_dropped, "L1"),
    "never-adopt": Mutant(never_adopt.__doc__ or "", never_adopt, "L2"),
    "success-keeps-in-flight": Mutant(
        success_keeps_in_flight.__doc__ or "", success_keeps_in_flight, "L3"
    ),
    "discard-keeps-entry": Mutant(discard_keeps_entry.__doc__ or "", discard_keeps_entry, "L4"),
}
"""Every broken step function by name."""
