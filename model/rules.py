"""The rules of the memory-provider session lifecycle, as pure functions.

Theory of operation
===================

A batch-extraction memory provider extracts long-term memories only when an
agent's ``commit_memory_session()`` runs. A chat front end completes turns in
a session many times, under agent objects that are cached, evicted and
rebuilt, and asks for commits only at *boundaries* (new session, eviction,
shutdown). This module decides, for every input, what the lifecycle does; it
never does anything itself. The threaded shell (``memory_lifecycle.lifecycle``)
feeds it events under one lock and carries out the effects it returns; the
model checker, the Hypothesis state machine, the conformance suite and the
diagrams all read these same functions.

Sessions. Each session counts its completed, non-ephemeral turns in
``generation`` and remembers in ``committed`` the highest generation the
provider has extracted. The generations in between, ``(committed,
generation]``, are dirty. They are split into *segments*: maximal runs
completed under one owner, the agent that was explicit or registered when the
turn completed. Turns of the same owner extend the last segment, even while a
commit is in flight (S10), so one later provider call covers them all.

Commits. A commit takes the earliest dirty segment. Its owner makes the
provider call; an ownerless segment is adopted by the agent passed to the
commit, else by the registered one, and keeps that owner from then on (S4); a
passed agent that cannot commit at all adopts nothing (NO_AGENT). When the
adopter's own turns come next, the two segments merge and one call covers them
(S10). The commit *captures*
the segment's end, marks the session in flight under a fresh call id (S5) and
returns a ``CallProvider`` effect. The shell calls the provider outside its
lock and reports ``CommitSucceeded`` or ``CommitFailed`` with that call id; an
end whose id is not the running call's (after a reset, say) changes nothing.
Success advances ``committed`` to the captured end and no further, so turns
completed meanwhile stay dirty (S2). Failure of any kind, BaseException
included, ends the call and keeps the work and its owner (S3).

Busy sessions and follow-ups. A commit that finds a call running is BUSY and
leaves a *follow-up*: ``follow_up_through`` records the generation it wanted
committed. A caller that asked to wait gets WAIT instead (the shell waits to
be woken, then asks again with a new clock reading) until its deadline
passes: then TIMED_OUT, leaving a follow-up too. A caller that is itself
inside a provider call never waits (it would wait for a call that may be
waiting for it): it gets BUSY and a follow-up. Every end of a call wakes the
waiters. When the running call ends and a follow-up is owed, a
``StartFollowUp`` effect makes the shell commit that work without another
boundary (L1); a *whole* commit (``commit_in_background``) owes a follow-up
for everything dirty when it starts, so its later segments are committed the
same way. A follow-up chains across segments while it succeeds. A failed
follow-up, a fatal failure or an agent-less segment drops the debt, so a
provider that always fails is called at most twice per boundary; the work
stays dirty for the next one.

Discard removes only a clean, idle entry (S8); a removed entry holds no agent
(L4). ``Reset`` and the drop-in's test hook (``EntryEdited``) are the only
other ways an entry goes; the hook refuses any edit that would leave the
entry malformed (S7).

Shutdown. ``Shutdown.phase`` is RUNNING, DRAINING or DRAINED. While DRAINING
no follow-up or background commit starts: the drain commits that work itself.
A session is *wanted* by the drain (``drain_wants``) while it is idle, dirty,
has an agent that can make the call, and has failed fewer than
``DRAIN_ATTEMPTS`` times during this drain. Each step counts wanted sessions
and calls in flight, and a session that becomes wanted is put on the drain's
one work queue (``QueueForDrain``): whether it was dirty at the start, failed
once, finished a call or completed a turn during the drain. Drain workers
take sessions off that queue (``DrainNext``), so a hung provider holds one
worker and no other session waits for it (L2). The drain ends when its
deadline passes (``now`` is data in the events: the shell reads the clock),
or earlier once nothing is wanted and no call is in flight (``DrainPoll``);
an idle worker keeps waiting until the drain has returned, since a turn may
still complete before the drain's caller sees that nothing is left.
A drain started inside a provider call waits for no call, since its own could
never end. After the drain returns the phase is DRAINED, which behaves as
RUNNING: background commits are admitted and follow-ups start again.

Abstract machines. ``specs/machine.py`` declares the machines these rules
refine: per session ABSENT, CLEAN, DIRTY, ORPHANED, COMMITTING and
COMMITTING_DIRTY; for the process RUNNING, DRAINING and DRAINED. Its tables
also list the results each event may have in each abstract state. The
refinement check (``specs/abstraction.py``) shows that every step here is a
declared edge with an allowed result, and the diagrams are drawn from those
tables, not from this code.

Layers: ``step_session`` decides one session event (``SESSION_RULES`` holds
one rule per event type) and keeps the drain's counts; ``step_process``
decides the process events (background commits, the drain, reset), reading
the sessions through a mapping and returning the ones it changes. ``step``
combines them on a whole ``Process`` for the model checker; the shell keeps
its sessions in a dict and calls the first two itself, so an operation costs
the same however many sessions are alive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, cast

from .effects import (
    CallProvider,
    Effect,
    Outcome,
    QueueForDrain,
    Result,
    StartDrainWorkers,
    StartFollowUp,
    WakeWaiters,
)
from .events import (
    EDITABLE_FIELDS,
    BackgroundCommitEnded,
    BackgroundCommitRequested,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    DrainFinished,
    DrainNext,
    DrainPoll,
    DrainStarted,
    EntryEdited,
    Event,
    RegisterAgent,
    Reset,
    SessionEvent,
    TurnCompleted,
    UnregisterAgent,
)
from .record import Record
from .state import (
    DRAINED,
    DRAINING,
    EMPTY_SESSION,
    EMPTY_SHUTDOWN,
    Agent,
    InFlight,
    Process,
    Segment,
    Session,
    SessionId,
    Shutdown,
)

__all__ = [
    "DRAIN_ATTEMPTS",
    "SESSION_RULES",
    "ProcessStep",
    "SessionStep",
    "Step",
    "drain_wants",
    "malformed",
    "owes_follow_up",
    "step",
    "step_process",
    "step_session",
]
"""The names ``memory_lifecycle.model`` re-exports from this module."""


DRAIN_ATTEMPTS = 3
"""Failed provider calls after which the drain stops retrying a session."""

NO_EFFECTS: tuple[Effect, ...] = ()
WAKE: tuple[Effect, ...] = (WakeWaiters(),)


class Ruling(Record):
    """What a session rule decides: the session after the event (None: no entry)."""

    _fields = ("session", "effects", "result")

    def __init__(
        self, session: Session | None, effects: tuple[Effect, ...], result: Result
    ) -> None:
        self.session: Final = session
        self.effects: Final = effects
        self.result: Final = result

    def _values(self) -> tuple[Any, ...]:
        return (self.session, self.effects, self.result)


class SessionStep(Record):
    """What one session event does: its session, the shutdown record, effects, result."""

    _fields = ("session", "shutdown", "effects", "result")

    def __init__(
        self,
        session: Session | None,
        shutdown: Shutdown,
        effects: tuple[Effect, ...],
        result: Result,
    ) -> None:
        self.session: Final = session
        self.shutdown: Final = shutdown
        self.effects: Final = effects
        self.result: Final = result

    def _values(self) -> tuple[Any, ...]:
        return (self.session, self.shutdown, self.effects, self.result)


class ProcessStep(Record):
    """What one process event does: the shutdown record and the sessions it changed.

    ``changes`` holds ``(session_id, new state)`` for each session changed;
    None removes the entry.
    """

    _fields = ("shutdown", "changes", "effects", "result")

    def __init__(
        self,
        shutdown: Shutdown,
        changes: tuple[tuple[SessionId, Session | None], ...],
        effects: tuple[Effect, ...],
        result: Result,
    ) -> None:
        self.shutdown: Final = shutdown
        self.changes: Final = changes
        self.effects: Final = effects
        self.result: Final = result

    def _values(self) -> tuple[Any, ...]:
        return (self.shutdown, self.changes, self.effects, self.result)


class Step(Record):
    """What one event does to the whole process."""

    _fields = ("state", "effects", "result")

    def __init__(self, state: Process, effects: tuple[Effect, ...], result: Result) -> None:
        self.state: Final = state
        self.effects: Final = effects
        self.result: Final = result

    def _values(self) -> tuple[Any, ...]:
        return (self.state, self.effects, self.result)


# --- the session rules, one per event type -------------------------------------


def _register(session: Session | None, event: RegisterAgent, phase: str) -> Ruling:
    base = EMPTY_SESSION if session is None else session
    new = Session(
        generation=base.generation,
        committed=base.committed,
        registered=event.agent,
        segments=base.segments,
        in_flight=base.in_flight,
        follow_up_through=base.follow_up_through,
        drain_failures=base.drain_failures,
    )
    return Ruling(new, NO_EFFECTS, Outcome.DONE)


def _unregister(session: Session | None, event: UnregisterAgent, phase: str) -> Ruling:
    if session is None:
        return Ruling(None, NO_EFFECTS, Outcome.DONE)
    return Ruling(session._replace(registered=None), NO_EFFECTS, Outcome.DONE)


def _turn_completed(session: Session | None, event: TurnCompleted, phase: str) -> Ruling:
    if event.ephemeral:
        return Ruling(session, NO_EFFECTS, 0 if session is None else session.generation)
    base = EMPTY_SESSION if session is None else session
    owner = base.registered if event.agent is None else event.agent
    generation = base.generation + 1
    new = Session(
        generation=generation,
        committed=base.committed,
        registered=owner,
        segments=_extend(base.segments, generation, owner),
        in_flight=base.in_flight,
        follow_up_through=base.follow_up_through,
        drain_failures=base.drain_failures,
    )
    return Ruling(new, NO_EFFECTS, generation)


def _commit_requested(session: Session | None, event: CommitRequested, phase: str) -> Ruling:
    if session is None:
        return Ruling(None, NO_EFFECTS, Outcome.NOT_FOUND)
    if session.in_flight is not None:
        return _busy(session, event)
    if not session.dirty or (event.follow_up and session.follow_up_through <= session.committed):
        # Clean, or a follow-up whose debt another commit already paid: work
        # completed since then waits for its own boundary (S1).
        return Ruling(_settle_follow_up(session), NO_EFFECTS, Outcome.NOTHING_TO_COMMIT)
    segments = session.segments
    owner = segments[0].owner
    if owner is None:
        owner = _adopter(session, event)
        if owner is None:
            kept = session._replace(follow_up_through=0) if event.follow_up else session
            return Ruling(kept, NO_EFFECTS, Outcome.NO_AGENT)
        segments = _adopt(segments, owner)
    captured = segments[0].end
    owed = session.follow_up_through
    if event.whole and session.generation > owed:
        owed = session.generation
    running = InFlight(
        call_id=event.call_id,
        agent=owner,
        captured_generation=captured,
        follow_up=event.follow_up,
    )
    new = Session(
        generation=session.generation,
        committed=session.committed,
        registered=session.registered,
        segments=segments,
        in_flight=running,
        follow_up_through=owed,
        drain_failures=session.drain_failures,
    )
    call = CallProvider(
        session_id=event.session_id,
        call_id=event.call_id,
        agent=owner,
        captured_generation=captured,
    )
    return Ruling(new, (call,), Outcome.STARTED)


def _commit_succeeded(session: Session | None, event: CommitSucceeded, phase: str) -> Ruling:
    if session is None or not _is_running(session, event.call_id):
        return Ruling(session, NO_EFFECTS, Outcome.STALE)
    assert session.in_flight is not None
    committed = max(session.committed, session.in_flight.captured_generation)
    ended = Session(
        generation=session.generation,
        committed=committed,
        registered=session.registered,
        segments=_trim(session.segments, committed),
        in_flight=None,
        follow_up_through=session.follow_up_through,
        drain_failures=session.drain_failures,
    )
    return _end_call(ended, event.session_id, phase, retry=True, result=Outcome.COMMITTED)


def _commit_failed(session: Session | None, event: CommitFailed, phase: str) -> Ruling:
    if session is None or not _is_running(session, event.call_id):
        return Ruling(session, NO_EFFECTS, Outcome.STALE)
    assert session.in_flight is not None
    retry = not event.fatal and not session.in_flight.follow_up
    ended = session._replace(in_flight=None)
    if phase == DRAINING:
        # Counted up to the limit only, so the state stays finite however often
        # a host's own commits fail during the drain.
        ended = ended._replace(drain_failures=min(ended.drain_failures + 1, DRAIN_ATTEMPTS))
    return _end_call(ended, event.session_id, phase, retry=retry, result=Outcome.FAILED)


def _discard(session: Session | None, event: Discard, phase: str) -> Ruling:
    if session is None:
        return Ruling(None, NO_EFFECTS, Outcome.ALREADY_ABSENT)
    if session.in_flight is not None:
        return Ruling(session, NO_EFFECTS, Outcome.KEPT_IN_FLIGHT)
    if session.dirty:
        return Ruling(session, NO_EFFECTS, Outcome.KEPT_DIRTY)
    return Ruling(None, WAKE, Outcome.DISCARDED)


def _entry_edited(session: Session | None, event: EntryEdited, phase: str) -> Ruling:
    edited = _edit(session, event)
    cleared = session is not None and session.in_flight is not None
    if cleared and edited is not None and edited.in_flight is None:
        # Clearing the mark ends the call it stood for: an owed follow-up starts (L1).
        return _end_call(edited, event.session_id, phase, retry=True, result=Outcome.DONE)
    return Ruling(edited, WAKE, Outcome.DONE)


SESSION_RULES: dict[type, Callable[[Session | None, Any, str], Ruling]] = {
    RegisterAgent: _register,
    UnregisterAgent: _unregister,
    TurnCompleted: _turn_completed,
    CommitRequested: _commit_requested,
    CommitSucceeded: _commit_succeeded,
    CommitFailed: _commit_failed,
    Discard: _discard,
    EntryEdited: _entry_edited,
}
"""Every session event type and the rule that decides it."""


# --- helpers of the session rules ----------------------------------------------


def _extend(
    segments: tuple[Segment, ...], generation: int, owner: Agent | None
) -> tuple[Segment, ...]:
    """Add ``generation`` to the last segment when ``owner`` owns it, else open one (S10)."""
    if segments and segments[-1].owner is owner:
        last = segments[-1]
        return (*segments[:-1], last._replace(end=generation))
    return (*segments, Segment(start=generation, end=generation, owner=owner))


def _adopter(session: Session, event: CommitRequested) -> Agent | None:
    """The agent that adopts an ownerless first segment, or None (S4)."""
    if event.agent is not None:
        return event.agent if event.agent_can_commit else None
    return session.registered


def _adopt(segments: tuple[Segment, ...], owner: Agent) -> tuple[Segment, ...]:
    """Give the ownerless first segment to ``owner``, merging its own next segment (S10).

    Neighbouring segments always differ in owner, so only the second can merge.
    """
    first = segments[0]
    if len(segments) > 1 and segments[1].owner is owner:
        merged = Segment(start=first.start, end=segments[1].end, owner=owner)
        return (merged, *segments[2:])
    return (first._replace(owner=owner), *segments[1:])


def _busy(session: Session, event: CommitRequested) -> Ruling:
    """A request that found a call running: wait, or BUSY/TIMED_OUT leaving a follow-up."""
    if event.follow_up:
        return Ruling(session, NO_EFFECTS, Outcome.BUSY)
    if not event.wait or event.in_call:
        return Ruling(_owe_follow_up(session), NO_EFFECTS, Outcome.BUSY)
    if event.deadline is None or event.now < event.deadline:
        return Ruling(session, NO_EFFECTS, Outcome.WAIT)
    return Ruling(_owe_follow_up(session), NO_EFFECTS, Outcome.TIMED_OUT)


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


def _is_running(session: Session, call_id: int) -> bool:
    """True when ``session`` records call ``call_id`` as its running call."""
    return session.in_flight is not None and session.in_flight.call_id == call_id


def _trim(segments: tuple[Segment, ...], committed: int) -> tuple[Segment, ...]:
    """Drop what ``committed`` covers; cut a segment it covers in part."""
    first = 0
    while first < len(segments) and segments[first].end <= committed:
        first += 1
    kept = segments[first:]
    if kept and kept[0].start <= committed:
        kept = (kept[0]._replace(start=committed + 1), *kept[1:])
    return kept


def _end_call(
    session: Session, session_id: SessionId, phase: str, *, retry: bool, result: Outcome
) -> Ruling:
    """Finish a provider call: wake waiters, and start or drop an owed follow-up."""
    owed = session.follow_up_through > session.committed
    if owed and retry and phase != DRAINING:
        return Ruling(session, (WakeWaiters(), StartFollowUp(session_id)), result)
    if session.follow_up_through:
        session = session._replace(follow_up_through=0)
    return Ruling(session, WAKE, result)


def owes_follow_up(session: Session | None, phase: str) -> bool:
    """True when ``session`` is idle and owes a follow-up that may start now (L1).

    The shell asks this only to recover a ``StartFollowUp`` effect that an
    asynchronous exception kept it from carrying out; starting a second
    follow-up is harmless (it finds the call running, or the debt paid).
    """
    return (
        session is not None
        and session.in_flight is None
        and session.follow_up_through > session.committed
        and phase != DRAINING
    )


# --- the drop-in's test hook ---------------------------------------------------


def _edit(session: Session | None, event: EntryEdited) -> Session | None:
    """The entry after a test's write of one field; ValueError if it would be malformed."""
    field, value = event.field, event.value
    if field not in EDITABLE_FIELDS:
        raise ValueError(
            f"cannot write {field!r} of a session entry: the fields are "
            f"{', '.join(EDITABLE_FIELDS[:-1])}"
        )
    if field == "entry":
        if value is not None and not isinstance(value, Session):
            raise TypeError(f"a whole entry must be a Session or None, got {type(value).__name__}")
        edited = value
    else:
        edited = _edit_field(EMPTY_SESSION if session is None else session, field, value)
    if edited is not None:
        problem = malformed(edited)
        if problem is not None:
            raise ValueError(
                f"cannot write {field}={value!r} to session {event.session_id!r}: {problem} "
                f"(S7 well-formed: 0 <= committed <= generation, segments ordered and "
                f"contiguous, covering exactly (committed, generation])"
            )
    return edited


def _edit_field(session: Session, field: str, value: object) -> Session:
    if field == "agent":
        return session._replace(registered=value)
    if field == "in_flight":
        if not isinstance(value, bool):
            raise TypeError(f"in_flight must be True or False, got {value!r}")
        if not value:
            return session._replace(in_flight=None)
        if session.in_flight is not None:
            return session
        mark = InFlight(
            call_id=0, agent=None, captured_generation=session.generation, follow_up=False
        )
        return session._replace(in_flight=mark)
    if field == "segments":
        if not isinstance(value, tuple) or not all(isinstance(s, Segment) for s in value):
            raise TypeError("segments must be a tuple of Segment")
        return session._replace(segments=value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{field} must be an int, got {value!r}")
    if field == "committed_generation":
        if value < session.committed:
            raise ValueError(
                f"committed_generation={value} would go back from {session.committed} "
                f"(S7: committed never decreases)"
            )
        if value > session.generation:
            return session._replace(committed=value)  # reported as malformed by the caller
        return session._replace(committed=value, segments=_trim(session.segments, value))
    # generation
    if value == session.generation:
        return session
    if value > session.generation:
        # The new turns share one owner, so they coalesce into one segment (S10).
        segments = _extend(session.segments, session.generation + 1, session.registered)
        last = segments[-1]
        return session._replace(
            generation=value, segments=(*segments[:-1], last._replace(end=value))
        )
    cut = tuple(s if s.end <= value else s._replace(end=value) for s in session.segments)
    return session._replace(generation=value, segments=tuple(s for s in cut if s.start <= s.end))


def malformed(session: Session) -> str | None:
    """Why ``session`` is not well-formed (S7), or None when it is."""
    if not 0 <= session.committed <= session.generation:
        return f"committed={session.committed} is not within 0..generation={session.generation}"
    expected = session.committed + 1
    for segment in session.segments:
        if segment.start != expected or segment.end < segment.start:
            return f"segment {segment.start}..{segment.end} does not continue from {expected - 1}"
        expected = segment.end + 1
    if expected != session.generation + 1:
        return f"the segments end at {expected - 1}, not at generation={session.generation}"
    return None


# --- the drain -----------------------------------------------------------------


def drain_wants(session: Session | None) -> bool:
    """True when the drain has work for ``session``: idle, dirty, with an agent to
    make the call, and not yet given up on (``DRAIN_ATTEMPTS``)."""
    if session is None or session.in_flight is not None or not session.dirty:
        return False
    if session.drain_failures >= DRAIN_ATTEMPTS:
        return False
    return session.segments[0].owner is not None or session.registered is not None


def _track_drain(
    shutdown: Shutdown, session_id: SessionId, before: Session | None, ruling: Ruling
) -> SessionStep:
    """Keep the drain's counts while draining; queue a session that became wanted."""
    after = ruling.session
    wanted = drain_wants(after)
    queued = shutdown.queued + wanted - drain_wants(before)
    calls = (
        shutdown.calls
        + (after is not None and after.in_flight is not None)
        - (before is not None and before.in_flight is not None)
    )
    if queued == shutdown.queued and calls == shutdown.calls:
        return SessionStep(after, shutdown, ruling.effects, ruling.result)
    effects = ruling.effects
    if wanted and not drain_wants(before):
        effects = (*effects, QueueForDrain(session_id))
    if WakeWaiters() not in effects:
        effects = (*effects, WakeWaiters())
    return SessionStep(after, shutdown._replace(queued=queued, calls=calls), effects, ruling.result)


def step_session(
    session: Session | None, event: Event, shutdown: Shutdown = EMPTY_SHUTDOWN
) -> SessionStep:
    """Apply one session event to one session (``None``: no entry).

    ``event`` is typed as any event so that a process event is refused here,
    with a message, rather than by a compiled signature.
    """
    rule = SESSION_RULES.get(type(event))
    if rule is None:
        raise TypeError(
            f"step_session() takes a session event, got {type(event).__name__}; "
            f"process events go to step_process()"
        )
    ruling = rule(session, event, shutdown.phase)
    if shutdown.phase != DRAINING:
        return SessionStep(ruling.session, shutdown, ruling.effects, ruling.result)
    return _track_drain(shutdown, cast(SessionEvent, event).session_id, session, ruling)


def _drain_started(
    shutdown: Shutdown, sessions: Mapping[SessionId, Session], event: DrainStarted
) -> ProcessStep:
    if shutdown.phase == DRAINING:
        # A second drain joins the running one: the sooner deadline holds, and a
        # joiner inside a provider call makes it wait for no call (its own could
        # not end while it waits).
        joined = shutdown._replace(
            deadline=min(shutdown.deadline, event.deadline),
            waits_for_calls=shutdown.waits_for_calls and not event.in_call,
        )
        return ProcessStep(joined, (), NO_EFFECTS, Outcome.BUSY)
    wanted = [key for key, session in sessions.items() if drain_wants(session)]
    calls = sum(1 for session in sessions.values() if session.in_flight is not None)
    new = shutdown._replace(
        phase=DRAINING,
        deadline=event.deadline,
        waits_for_calls=not event.in_call,
        queued=len(wanted),
        calls=calls,
    )
    workers = max(1, min(event.workers, len(wanted)))
    effects: tuple[Effect, ...] = (
        *(QueueForDrain(key) for key in wanted),
        StartDrainWorkers(workers),
    )
    return ProcessStep(new, (), effects, Outcome.STARTED)


def _drain_next(
    shutdown: Shutdown, sessions: Mapping[SessionId, Session], event: DrainNext
) -> ProcessStep:
    if shutdown.phase != DRAINING:
        return ProcessStep(shutdown, (), NO_EFFECTS, Outcome.FINISHED)
    if event.now >= shutdown.deadline:
        return ProcessStep(shutdown, (), NO_EFFECTS, Outcome.TIMED_OUT)
    session = sessions.get(event.session_id)
    if not drain_wants(session):
        return ProcessStep(shutdown, (), NO_EFFECTS, Outcome.SKIPPED)
    request = CommitRequested(session_id=event.session_id, call_id=event.call_id)
    step = step_session(session, request, shutdown)
    changes = ((event.session_id, step.session),)
    return ProcessStep(step.shutdown, changes, step.effects, step.result)


def _drain_poll(shutdown: Shutdown, event: DrainPoll) -> Outcome:
    if shutdown.phase != DRAINING:
        return Outcome.FINISHED
    if event.now >= shutdown.deadline:
        return Outcome.TIMED_OUT
    nothing_left = shutdown.queued == 0 and (shutdown.calls == 0 or not shutdown.waits_for_calls)
    if nothing_left and not event.worker:
        return Outcome.FINISHED
    return Outcome.WAIT


def _drain_finished(shutdown: Shutdown, sessions: Mapping[SessionId, Session]) -> ProcessStep:
    if shutdown.phase != DRAINING:
        return ProcessStep(shutdown, (), NO_EFFECTS, Outcome.DONE)
    changes = tuple(
        (key, session._replace(drain_failures=0))
        for key, session in sessions.items()
        if session.drain_failures
    )
    new = shutdown._replace(phase=DRAINED, deadline=0.0, waits_for_calls=True, queued=0, calls=0)
    return ProcessStep(new, changes, WAKE, Outcome.DONE)


def step_process(
    shutdown: Shutdown, sessions: Mapping[SessionId, Session], event: Event
) -> ProcessStep:
    """Apply one process event, reading the sessions through ``sessions``."""
    if isinstance(event, BackgroundCommitRequested):
        if shutdown.phase == DRAINING:
            return ProcessStep(shutdown, (), NO_EFFECTS, Outcome.REFUSED_DRAINING)
        admitted = shutdown._replace(background_commits=shutdown.background_commits + 1)
        return ProcessStep(admitted, (), NO_EFFECTS, Outcome.ADMITTED)
    if isinstance(event, BackgroundCommitEnded):
        ended = shutdown._replace(background_commits=max(0, shutdown.background_commits - 1))
        return ProcessStep(ended, (), NO_EFFECTS, Outcome.DONE)
    if isinstance(event, DrainStarted):
        return _drain_started(shutdown, sessions, event)
    if isinstance(event, DrainNext):
        return _drain_next(shutdown, sessions, event)
    if isinstance(event, DrainPoll):
        return ProcessStep(shutdown, (), NO_EFFECTS, _drain_poll(shutdown, event))
    if isinstance(event, DrainFinished):
        return _drain_finished(shutdown, sessions)
    if isinstance(event, Reset):
        forgotten = tuple((key, None) for key in sessions)
        return ProcessStep(EMPTY_SHUTDOWN, forgotten, WAKE, Outcome.DONE)
    raise TypeError(
        f"step_process() takes a process event, got {type(event).__name__}; "
        f"session events go to step_session()"
    )


# --- the whole process, for the model checker ----------------------------------


def step(state: Process, event: Event) -> Step:
    """Apply one event to the whole process."""
    if type(event) in SESSION_RULES:
        session_id = cast(SessionEvent, event).session_id
        before = state.session(session_id)
        moved = step_session(before, event, state.shutdown)
        sessions = state.sessions
        if moved.session is not before:
            sessions = _put(sessions, session_id, moved.session)
        return Step(Process(sessions, moved.shutdown), moved.effects, moved.result)
    changed = step_process(state.shutdown, dict(state.sessions), event)
    sessions = state.sessions
    for session_id, session in changed.changes:
        sessions = _put(sessions, session_id, session)
    return Step(Process(sessions, changed.shutdown), changed.effects, changed.result)


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
