"""The rules of the memory-provider session lifecycle, as one pure function.

Theory of operation
===================

A batch-extraction memory provider only extracts long-term memories when an
agent's ``commit_memory_session()`` runs. A chat front end completes turns in a
session many times, under agent objects that are cached, evicted and rebuilt,
and asks for commits only at *boundaries* (new session, eviction, shutdown).
This module decides, for every input, what the lifecycle does; it never does
anything itself.

Each session counts its completed, non-ephemeral turns in ``generation`` and
remembers in ``committed`` the highest generation the provider has extracted.
The generations in between, ``(committed, generation]``, are dirty. They are
split into *segments*: maximal runs completed under one owner, the agent that
was explicit or registered when the turn completed. Turns of the same owner
extend the last segment, even while a commit is in flight (S10), so one later
provider call covers them all.

A commit takes the earliest dirty segment. Its owner makes the provider call;
an ownerless segment is adopted by the agent passed to the commit, else by the
registered one, and keeps that owner from then on (S4); when the adopter's own
turns come next, the two segments merge and one call covers them (S10). The
commit *captures* the segment's end and marks the session in flight (S5). The
provider call happens outside: the shell performs the ``CallProvider`` effect
and reports ``CommitSucceeded`` or ``CommitFailed``. Success advances ``committed`` to the
captured end and no further, so turns completed meanwhile stay dirty (S2).
Failure of any kind, BaseException included, only clears the in-flight mark:
the work and its owner stay (S3).

A commit that finds another one running either waits (the caller retries after
``WakeWaiters``) or returns BUSY and leaves a *follow-up*: the generation it
wanted committed. When the running call ends, a ``StartFollowUp`` effect makes
the shell commit that work without another boundary (L1). A follow-up chains
across segments while it succeeds; a failed follow-up, a fatal failure or an
agent-less segment drops the debt, and the work waits for the next boundary.
While the process drains, no follow-up is started: the drain commits it.

Discard removes only a clean, idle entry (S8). Nothing else ever removes one,
and a removed entry holds no agent (L4).

Layers: ``step_session`` is the whole rule book for one session; ``step`` lifts
it onto a ``Process`` (all sessions plus the drain flags) for the model checker.
The threaded shell keeps sessions in a dict and calls ``step_session`` itself,
so every operation costs the same however many sessions are alive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .effects import CallProvider, Effect, Outcome, Result, StartFollowUp, WakeWaiters
from .events import (
    BackgroundCommitRequested,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    DrainFinished,
    DrainStarted,
    Event,
    RegisterAgent,
    Reset,
    SessionEvent,
    TurnCompleted,
    UnregisterAgent,
    WaitExpired,
)
from .state import EMPTY_PROCESS, EMPTY_SESSION, InFlight, Process, Segment, Session, SessionId

NO_EFFECTS: tuple[Effect, ...] = ()
WAKE: tuple[Effect, ...] = (WakeWaiters(),)

# Outcomes bound once: reading an Enum member off its class is a slow attribute lookup.
DONE = Outcome.DONE
STARTED = Outcome.STARTED
COMMITTED = Outcome.COMMITTED
FAILED = Outcome.FAILED
NOTHING_TO_COMMIT = Outcome.NOTHING_TO_COMMIT
BUSY = Outcome.BUSY
TIMED_OUT = Outcome.TIMED_OUT
NO_AGENT = Outcome.NO_AGENT
NOT_FOUND = Outcome.NOT_FOUND
STALE = Outcome.STALE

_build = tuple.__new__
"""``_build(Kind, (field, ...))`` makes a ``Kind`` NamedTuple from all its fields in order.

Same value as ``Kind(field, ...)``, at about half the cost: a NamedTuple's own
constructor is a Python-level call, and these run on every event the shell feeds.
Unlike the constructor it checks no field count, hence the check below.
"""

_built_fields = (Session._fields, Segment._fields, InFlight._fields, CallProvider._fields)
if tuple(map(len, _built_fields)) != (6, 3, 3, 3):
    raise ImportError(
        "model.step builds Session, Segment, InFlight and CallProvider from 6, 3, 3 and 3 "
        "fields; their fields changed: update every _build() of them in model/step.py"
    )


class SessionStep(NamedTuple):
    """What one event does to one session: ``None`` means no entry."""

    session: Session | None
    effects: tuple[Effect, ...]
    result: Result


class Step(NamedTuple):
    """What one event does to the whole process."""

    state: Process
    effects: tuple[Effect, ...]
    result: Result


# --- the rules, one function per session event ---------------------------------
# Each rule unpacks the session's fields and builds the new state whole; the
# field order is ``Session``'s: generation, committed, registered, segments,
# in_flight, follow_up_through.


def _register(session: Session | None, event: RegisterAgent, draining: bool) -> SessionStep:
    base = EMPTY_SESSION if session is None else session
    generation, committed, _, segments, in_flight, follow_up_through = base
    new = _build(
        Session, (generation, committed, event.agent, segments, in_flight, follow_up_through)
    )
    return _build(SessionStep, (new, NO_EFFECTS, DONE))


def _unregister(session: Session | None, event: UnregisterAgent, draining: bool) -> SessionStep:
    if session is None:
        return _build(SessionStep, (None, NO_EFFECTS, DONE))
    generation, committed, _, segments, in_flight, follow_up_through = session
    new = _build(Session, (generation, committed, None, segments, in_flight, follow_up_through))
    return _build(SessionStep, (new, NO_EFFECTS, DONE))


def _turn_completed(session: Session | None, event: TurnCompleted, draining: bool) -> SessionStep:
    _, agent, ephemeral = event
    if ephemeral:
        return SessionStep(session, NO_EFFECTS, 0 if session is None else session.generation)
    if session is None:
        generation, committed, registered, segments, in_flight, follow_up_through = EMPTY_SESSION
    else:
        generation, committed, registered, segments, in_flight, follow_up_through = session
    if agent is not None:
        registered = agent
    owner = registered
    generation += 1
    if segments and segments[-1].owner is owner:
        segments = (*segments[:-1], _build(Segment, (segments[-1].start, generation, owner)))
    else:
        segments = (*segments, _build(Segment, (generation, generation, owner)))
    new = _build(
        Session, (generation, committed, registered, segments, in_flight, follow_up_through)
    )
    return _build(SessionStep, (new, NO_EFFECTS, generation))


def _commit_requested(
    session: Session | None, event: CommitRequested, draining: bool
) -> SessionStep:
    if session is None:
        return _build(SessionStep, (None, NO_EFFECTS, NOT_FOUND))
    generation, committed, registered, segments, in_flight, follow_up_through = session
    session_id, agent, wait, follow_up = event
    if in_flight is not None:
        if wait or follow_up:
            return _build(SessionStep, (session, NO_EFFECTS, BUSY))
        return _build(SessionStep, (_owe_follow_up(session), NO_EFFECTS, BUSY))
    if generation <= committed or (follow_up and follow_up_through <= committed):
        # Clean, or a follow-up whose debt another commit already paid: work
        # completed since then waits for its own boundary (S1).
        if follow_up_through:
            session = _settle_follow_up(session)
        return _build(SessionStep, (session, NO_EFFECTS, NOTHING_TO_COMMIT))
    first = segments[0]
    owner = first.owner
    if owner is None:
        owner = agent if agent is not None else registered
        if owner is None:
            dropped = session._replace(follow_up_through=0) if follow_up else session
            return _build(SessionStep, (dropped, NO_EFFECTS, NO_AGENT))
        # The adopter takes the ownerless run; when its own turns follow, one
        # call covers both (S10), since neighbouring segments always differ in owner.
        if len(segments) > 1 and segments[1].owner is owner:
            first = _build(Segment, (first.start, segments[1].end, owner))
            segments = (first, *segments[2:])
        else:
            first = _build(Segment, (first.start, first.end, owner))
            segments = (first, *segments[1:])
    captured_generation = first.end
    new = _build(
        Session,
        (
            generation,
            committed,
            registered,
            segments,
            _build(InFlight, (owner, captured_generation, follow_up)),
            follow_up_through,
        ),
    )
    call = _build(CallProvider, (session_id, owner, captured_generation))
    return _build(SessionStep, (new, (call,), STARTED))


def _wait_expired(session: Session | None, event: WaitExpired, draining: bool) -> SessionStep:
    if session is None or session.in_flight is None:
        return SessionStep(session, NO_EFFECTS, TIMED_OUT)
    return SessionStep(_owe_follow_up(session), NO_EFFECTS, TIMED_OUT)


def _commit_succeeded(
    session: Session | None, event: CommitSucceeded, draining: bool
) -> SessionStep:
    session_id, agent, captured_generation = event
    if session is None:
        return _build(SessionStep, (None, NO_EFFECTS, STALE))
    generation, committed, registered, segments, running, follow_up_through = session
    if (
        running is None
        or running.agent is not agent
        or running.captured_generation != captured_generation
    ):
        return _build(SessionStep, (session, NO_EFFECTS, STALE))
    if captured_generation > committed:
        committed = captured_generation
    ended = _build(
        Session,
        (generation, committed, registered, _trim(segments, committed), None, follow_up_through),
    )
    if not follow_up_through:
        return _build(SessionStep, (ended, WAKE, COMMITTED))
    return _end_call(ended, session_id, draining, retry=True, result=COMMITTED)


def _commit_failed(session: Session | None, event: CommitFailed, draining: bool) -> SessionStep:
    if not _is_running(session, event.agent, event.captured_generation):
        return SessionStep(session, NO_EFFECTS, STALE)
    assert session is not None and session.in_flight is not None
    retry = not event.fatal and not session.in_flight.follow_up
    ended = session._replace(in_flight=None)
    return _end_call(ended, event.session_id, draining, retry=retry, result=FAILED)


def _discard(session: Session | None, event: Discard, draining: bool) -> SessionStep:
    if session is None:
        return SessionStep(None, NO_EFFECTS, Outcome.ALREADY_ABSENT)
    if session.in_flight is not None:
        return SessionStep(session, NO_EFFECTS, Outcome.KEPT_IN_FLIGHT)
    if session.generation > session.committed:
        return SessionStep(session, NO_EFFECTS, Outcome.KEPT_DIRTY)
    return SessionStep(None, WAKE, Outcome.DISCARDED)


# --- helpers shared by the rules -----------------------------------------------


def _owe_follow_up(session: Session) -> Session:
    """Record that the work completed so far was requested while busy (L1)."""
    if session.follow_up_through >= session.generation:
        return session
    return session._replace(follow_up_through=session.generation)


def _settle_follow_up(session: Session) -> Session:
    """Drop a follow-up debt that ``committed`` already covers."""
    if session.follow_up_through and session.follow_up_through <= session.committed:
        return session._replace(follow_up_through=0)
    return session


def _is_running(session: Session | None, agent: object, captured_generation: int) -> bool:
    """True when ``session`` records exactly this provider call in flight."""
    if session is None or session.in_flight is None:
        return False
    running = session.in_flight
    return running.agent is agent and running.captured_generation == captured_generation


def _trim(segments: tuple[Segment, ...], committed: int) -> tuple[Segment, ...]:
    """Drop what ``committed`` covers; cut a segment it covers in part."""
    if not segments or segments[-1].end <= committed:
        return ()
    index = 0
    while segments[index].end <= committed:
        index += 1
    rest = segments[index:]
    first = rest[0]
    if first.start <= committed:
        rest = (_build(Segment, (committed + 1, first.end, first.owner)), *rest[1:])
    return rest


def _end_call(
    session: Session, session_id: SessionId, draining: bool, *, retry: bool, result: Outcome
) -> SessionStep:
    """Finish a provider call: wake waiters, and start or drop an owed follow-up."""
    owed = session.follow_up_through > session.committed
    if owed and retry and not draining:
        return SessionStep(session, (WakeWaiters(), StartFollowUp(session_id)), result)
    if session.follow_up_through:
        session = session._replace(follow_up_through=0)
    return SessionStep(session, WAKE, result)


SESSION_RULES: dict[type, Callable[[Session | None, Any, bool], SessionStep]] = {
    RegisterAgent: _register,
    UnregisterAgent: _unregister,
    TurnCompleted: _turn_completed,
    CommitRequested: _commit_requested,
    WaitExpired: _wait_expired,
    CommitSucceeded: _commit_succeeded,
    CommitFailed: _commit_failed,
    Discard: _discard,
}
"""Every session event type and the rule that decides it."""


def step_session(
    session: Session | None, event: SessionEvent, draining: bool = False
) -> SessionStep:
    """Apply one session event to one session (``None``: no entry)."""
    try:
        rule = SESSION_RULES[type(event)]
    except KeyError:
        raise TypeError(
            f"step_session() takes a session event, got {type(event).__name__}; "
            f"process events go to step()"
        ) from None
    return rule(session, event, draining)


def step(state: Process, event: Event) -> Step:
    """Apply one event to the whole process."""
    if isinstance(event, BackgroundCommitRequested):
        outcome = Outcome.REFUSED_DRAINING if state.draining else Outcome.ADMITTED
        return Step(state, NO_EFFECTS, outcome)
    if isinstance(event, DrainStarted):
        return Step(state._replace(draining=True), NO_EFFECTS, Outcome.DONE)
    if isinstance(event, DrainFinished):
        return Step(state._replace(drained=True), NO_EFFECTS, Outcome.DONE)
    if isinstance(event, Reset):
        return Step(EMPTY_PROCESS, WAKE, Outcome.DONE)
    session_id = event.session_id
    before = state.session(session_id)
    after, effects, result = step_session(before, event, state.draining)
    if after is before:
        return Step(state, effects, result)
    return Step(state._replace(sessions=_put(state.sessions, session_id, after)), effects, result)


def _put(
    sessions: tuple[tuple[SessionId, Session], ...], session_id: SessionId, value: Session | None
) -> tuple[tuple[SessionId, Session], ...]:
    """Set (or with ``None`` remove) one session, keeping the pairs sorted by id."""
    kept = [pair for pair in sessions if pair[0] != session_id]
    if value is not None:
        kept.append((session_id, value))
        kept.sort(key=_by_id)
    return tuple(kept)


def _by_id(pair: tuple[SessionId, Session]) -> Any:
    """Sort key of a ``(session_id, Session)`` pair."""
    return pair[0]
