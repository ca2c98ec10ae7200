"""The safety and progress properties S1-S10 and L1-L4, as executable predicates.

Each property is a ``Property`` record: a stable id, a title, a one-line
statement and up to three pure checks. A check returns ``None`` when the
property holds and a short message saying what went wrong when it does not.

- ``on_state(process)`` looks at one reachable state;
- ``on_transition(before, event, step)`` looks at one transition of ``step``;
- ``on_progress(process, step_fn, helper_agent)`` drives one state forward
  with providers that succeed and reports the events it tried when the goal
  of the property is not reached (the graph form of the liveness properties).

The checks read only the state, the event and the ``Step``; no ghost
information is needed. Every check is invariant under renaming agents and
sessions, which the model checker's symmetry reduction relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from memory_lifecycle.model import (
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    Event,
    Outcome,
    Process,
    Reset,
    Session,
    SessionId,
    StartFollowUp,
    Step,
    TurnCompleted,
)
from memory_lifecycle.model.state import Agent

StepFn = Callable[[Process, Event], Step]
"""A step function with the signature of ``model.step``."""


class ProgressFailure(NamedTuple):
    """A liveness check that failed: why, and the events it drove the state with."""

    message: str
    events: tuple[Event, ...]


StateCheck = Callable[[Process], str | None]
TransitionCheck = Callable[[Process, Event, Step], str | None]
ProgressCheck = Callable[[Process, StepFn, Agent], ProgressFailure | None]


@dataclass(frozen=True)
class Property:
    """One property of the catalogue and the checks that decide it."""

    id: str
    title: str
    statement: str
    on_state: StateCheck | None = None
    on_transition: TransitionCheck | None = None
    on_progress: ProgressCheck | None = None
    required: bool = True
    """False for an advisory property (efficiency or hygiene): breaking it loses,
    corrupts or blocks no work, so it fails a conformance run only under ``--strict``."""

    @property
    def why(self) -> str:
        """Why the property matters (the docstrings of its checks)."""
        checks = (self.on_state, self.on_transition, self.on_progress)
        return " ".join((check.__doc__ or "").strip() for check in checks if check is not None)


# --- small readers --------------------------------------------------------------------


def _session_of(process: Process, session_id: SessionId) -> Session | None:
    for key, value in process.sessions:
        if key == session_id:
            return value
    return None


def _owner_of(session: Session, generation: int) -> tuple[bool, Agent | None]:
    """``(found, owner)`` of one dirty generation according to the segments."""
    for segment in session.segments:
        if segment.start <= generation <= segment.end:
            return True, segment.owner
    return False, None


def _calls(step: Step) -> list[CallProvider]:
    return [effect for effect in step.effects if isinstance(effect, CallProvider)]


def _session_events_only(event: Event) -> SessionId | None:
    return getattr(event, "session_id", None)


# --- S1 completed-only ----------------------------------------------------------------


def _s1_transition(before: Process, event: Event, step: Step) -> str | None:
    """A provider call for a generation no completed turn created would extract
    nothing or, worse, mark unseen work as extracted."""
    for call in _calls(step):
        session = _session_of(before, call.session_id)
        if session is None:
            return f"CallProvider for {call.session_id!r}, which has no entry"
        captured = call.captured_generation
        if not (session.generation > 0 and session.committed < captured <= session.generation):
            return (
                f"CallProvider captured generation {captured} but the session had "
                f"committed={session.committed}, generation={session.generation}"
            )
    return None


S1 = Property(
    "S1",
    "completed-only",
    "The provider is called only for generations created by completed, non-ephemeral turns.",
    on_transition=_s1_transition,
)


# --- S2 late-commit-safe --------------------------------------------------------------


def _s2_transition(before: Process, event: Event, step: Step) -> str | None:
    """Advancing past the captured end would mark turns that finished during the
    call as extracted although the provider never saw them: silent memory loss."""
    if not isinstance(event, CommitSucceeded) or step.result is not Outcome.COMMITTED:
        return None
    old = _session_of(before, event.session_id)
    new = _session_of(step.state, event.session_id)
    if old is None or new is None:
        return "a successful commit removed the session entry"
    expected = max(old.committed, event.captured_generation)
    if new.committed != expected:
        return (
            f"success of the call that captured {event.captured_generation} set committed "
            f"to {new.committed} (expected {expected}; generation is {old.generation})"
        )
    if new.generation != old.generation:
        return f"a successful commit changed generation {old.generation} -> {new.generation}"
    return None


S2 = Property(
    "S2",
    "late-commit-safe",
    "A successful commit advances committed to the end it captured, never further.",
    on_transition=_s2_transition,
)


# --- S3 failure-preserving ------------------------------------------------------------


def _s3_transition(before: Process, event: Event, step: Step) -> str | None:
    """A failing provider extracted nothing: dropping the work or its owner loses
    memories, and staying in flight blocks the session forever."""
    if not isinstance(event, CommitFailed):
        return None
    old = _session_of(before, event.session_id)
    new = _session_of(step.state, event.session_id)
    if old is None:
        return None
    if new is None:
        return "a failed commit removed the session entry"
    kind = "fatal failure" if event.fatal else "failure"
    if (new.generation, new.committed) != (old.generation, old.committed):
        return (
            f"{kind} changed generation/committed {old.generation}/{old.committed} -> "
            f"{new.generation}/{new.committed}"
        )
    if not _same_segments(old, new):
        return f"{kind} changed the dirty segments or their owners"
    if step.result is Outcome.FAILED and new.in_flight is not None:
        return f"{kind} left the session in flight"
    if step.result is not Outcome.FAILED and new.in_flight != old.in_flight:
        return "a stale failure report changed the running call"
    return None


def _same_segments(old: Session, new: Session) -> bool:
    if len(old.segments) != len(new.segments):
        return False
    return all(
        a.start == b.start and a.end == b.end and a.owner is b.owner
        for a, b in zip(old.segments, new.segments, strict=True)
    )


S3 = Property(
    "S3",
    "failure-preserving",
    "A failing commit, BaseException included, keeps the work dirty with its owner "
    "and ends the in-flight mark.",
    on_transition=_s3_transition,
)


# --- S4 ownership ---------------------------------------------------------------------


def _s4_state(process: Process) -> str | None:
    """The running call must be the first segment's owner's, or success would
    credit one agent's memory to another."""
    for session_id, session in process.sessions:
        running = session.in_flight
        if running is None:
            continue
        if not session.segments or session.segments[0].owner is not running.agent:
            return f"{session_id!r}: the running call's agent does not own the first segment"
    return None


def _s4_transition(before: Process, event: Event, step: Step) -> str | None:
    """Each agent extracts its own conversation: a call by the wrong agent
    extracts nothing of it, and a stolen segment is never committed by its owner."""
    session_id = _session_events_only(event)
    if session_id is None:
        return None
    old = _session_of(before, session_id)
    new = _session_of(step.state, session_id)
    if old is None:
        return None
    for call in _calls(step):
        if not old.segments:
            return "CallProvider with no dirty segment"
        first = old.segments[0]
        if first.owner is not None:
            expected = first.owner
        else:
            explicit = event.agent if isinstance(event, CommitRequested) else None
            expected = explicit if explicit is not None else old.registered
        if call.agent is not expected:
            return (
                f"CallProvider on {call.agent!r} but the first dirty segment "
                f"{first.start}..{first.end} belongs to {expected!r}"
            )
    if new is None:
        return None
    adopting = isinstance(event, CommitRequested) and step.result is Outcome.STARTED
    for generation in range(max(old.committed, new.committed) + 1, old.generation + 1):
        found_old, owner_old = _owner_of(old, generation)
        found_new, owner_new = _owner_of(new, generation)
        if not (found_old and found_new) or owner_old is owner_new:
            continue
        if adopting and owner_old is None and generation <= old.segments[0].end:
            continue
        return (
            f"{type(event).__name__} changed the owner of dirty generation {generation} "
            f"from {owner_old!r} to {owner_new!r}"
        )
    if isinstance(event, CommitSucceeded) and step.result is Outcome.COMMITTED:
        for generation in range(old.committed + 1, new.committed + 1):
            found, owner = _owner_of(old, generation)
            if found and owner is not event.agent:
                return (
                    f"generation {generation} owned by {owner!r} was committed by a "
                    f"call on {event.agent!r}"
                )
    return None


S4 = Property(
    "S4",
    "ownership",
    "A generation is committed only by a call on its owner (ownerless: the adopter); "
    "no event takes an older dirty segment from its owner.",
    on_state=_s4_state,
    on_transition=_s4_transition,
)


# --- S5 serialised --------------------------------------------------------------------


def _s5_transition(before: Process, event: Event, step: Step) -> str | None:
    """Two concurrent calls for one session race on the provider and on the
    committed mark; the second must wait or be recorded as a follow-up."""
    calls = _calls(step)
    if len(calls) > 1:
        return f"one step started {len(calls)} provider calls"
    for call in calls:
        old = _session_of(before, call.session_id)
        if old is not None and old.in_flight is not None:
            return "a provider call started while another was in flight"
    if isinstance(event, CommitRequested):
        old = _session_of(before, event.session_id)
        new = _session_of(step.state, event.session_id)
        busy = old is not None and old.in_flight is not None
        if busy and (new is None or old is None or new.in_flight != old.in_flight):
            return "a commit requested while busy replaced the running call"
    return None


S5 = Property(
    "S5",
    "serialised",
    "At most one provider call is in flight per session.",
    on_transition=_s5_transition,
)


# --- S6 isolation ---------------------------------------------------------------------


def _s6_transition(before: Process, event: Event, step: Step) -> str | None:
    """Sessions belong to different conversations: one session's commit, failure
    or discard must not move another's marks or owners."""
    if isinstance(event, Reset):
        return None
    touched = _session_events_only(event)
    old = {key: value for key, value in before.sessions if key != touched}
    new = {key: value for key, value in step.state.sessions if key != touched}
    if old != new:
        changed = sorted(str(key) for key in set(old) | set(new) if old.get(key) != new.get(key))
        return f"{type(event).__name__} changed other sessions: {', '.join(changed)}"
    return None


S6 = Property(
    "S6",
    "isolation",
    "An event for session A leaves every other session unchanged.",
    on_transition=_s6_transition,
)


# --- S7 well-formed -------------------------------------------------------------------


def _s7_state(process: Process) -> str | None:
    """Every other rule reads these marks; a gap, overlap or backwards count
    makes the lifecycle commit twice or never."""
    for session_id, session in process.sessions:
        problem = _malformed(session)
        if problem is not None:
            return f"{session_id!r}: {problem}"
    return None


def _malformed(session: Session) -> str | None:
    generation, committed = session.generation, session.committed
    if not 0 <= committed <= generation:
        return f"committed={committed}, generation={generation}"
    expected_start = committed + 1
    for segment in session.segments:
        if segment.start != expected_start or segment.end < segment.start:
            return f"segments {_segments_text(session)} do not cover ({committed}, {generation}]"
        expected_start = segment.end + 1
    if expected_start != generation + 1:
        return f"segments {_segments_text(session)} do not cover ({committed}, {generation}]"
    debt = session.follow_up_through
    if debt != 0 and not committed < debt <= generation:
        return f"follow_up_through={debt} outside ({committed}, {generation}]"
    running = session.in_flight
    if running is not None and not committed < running.captured_generation <= generation:
        return f"in-flight call captured {running.captured_generation} outside the dirty range"
    return None


def _segments_text(session: Session) -> str:
    return "[" + ", ".join(f"{s.start}..{s.end}" for s in session.segments) + "]"


def _s7_transition(before: Process, event: Event, step: Step) -> str | None:
    """A count that goes back would commit the same work twice or skip new work."""
    if isinstance(event, Reset):
        return None
    session_id = _session_events_only(event)
    if session_id is None:
        return None
    old = _session_of(before, session_id)
    new = _session_of(step.state, session_id)
    if old is None or new is None:
        return None
    if new.generation < old.generation or new.committed < old.committed:
        return (
            f"generation/committed went {old.generation}/{old.committed} -> "
            f"{new.generation}/{new.committed}"
        )
    return None


S7 = Property(
    "S7",
    "well-formed",
    "0 <= committed <= generation, both monotonic; segments are ordered, contiguous and "
    "cover exactly (committed, generation]; a follow-up owed lies in that range.",
    on_state=_s7_state,
    on_transition=_s7_transition,
)


# --- S8 discard-safe ------------------------------------------------------------------


def _s8_transition(before: Process, event: Event, step: Step) -> str | None:
    """Discarding a dirty or busy entry forgets work no provider has extracted."""
    if isinstance(event, Reset):
        return None
    for session_id, old in before.sessions:
        if _session_of(step.state, session_id) is not None:
            continue
        if not isinstance(event, Discard):
            return f"{type(event).__name__} removed the entry of {session_id!r}"
        if old.generation > old.committed or old.in_flight is not None:
            state = "in flight" if old.in_flight is not None else "dirty"
            return f"discard removed {session_id!r} while it was {state}"
    return None


S8 = Property(
    "S8",
    "discard-safe",
    "Discard removes only a clean, idle entry; nothing else removes one.",
    on_transition=_s8_transition,
)


# --- S9 no-op -------------------------------------------------------------------------


def _s9_transition(before: Process, event: Event, step: Step) -> str | None:
    """Calling the provider with nothing new costs a slow extraction and may
    duplicate memories."""
    for call in _calls(step):
        old = _session_of(before, call.session_id)
        if old is None or old.generation <= old.committed:
            return "a commit with nothing dirty called the provider"
    return None


S9 = Property(
    "S9",
    "no-op",
    "A commit with nothing new never calls the provider.",
    on_transition=_s9_transition,
    required=False,
)


# --- S10 coalescing -------------------------------------------------------------------


def _s10_transition(before: Process, event: Event, step: Step) -> str | None:
    """One extraction per owner run keeps provider calls few and memories whole;
    splitting a run makes each boundary commit only a fragment."""
    if isinstance(event, TurnCompleted) and not event.ephemeral:
        old = _session_of(before, event.session_id)
        new = _session_of(step.state, event.session_id)
        if new is None:
            return None
        previous = old.segments if old is not None else ()
        registered = old.registered if old is not None else None
        owner = event.agent if event.agent is not None else registered
        extends = previous and previous[-1].owner is owner
        if extends and (
            len(new.segments) != len(previous) or new.segments[-1].end != new.generation
        ):
            return (
                f"turn {new.generation} of the last segment's owner opened a new "
                f"segment instead of extending {previous[-1].start}..{previous[-1].end}"
            )
        return None
    for call in _calls(step):
        old = _session_of(before, call.session_id)
        if old is None or not old.segments:
            continue
        first = old.segments[0]
        run_end = first.end
        if first.owner is None and len(old.segments) > 1 and old.segments[1].owner is call.agent:
            run_end = old.segments[1].end
        if call.captured_generation != run_end:
            return (
                f"the call captured {call.captured_generation}, not the end of "
                f"{call.agent!r}'s run {first.start}..{run_end}"
            )
    return None


def _s10_state(process: Process) -> str | None:
    """Two neighbouring segments of one owner would cost two calls where one does."""
    for session_id, session in process.sessions:
        for left, right in zip(session.segments, session.segments[1:], strict=False):
            if left.owner is right.owner:
                return (
                    f"{session_id!r}: segments {left.start}..{left.end} and "
                    f"{right.start}..{right.end} share owner {left.owner!r}"
                )
    return None


S10 = Property(
    "S10",
    "coalescing",
    "Consecutive turns of one owner share one segment, and one call covers it.",
    on_state=_s10_state,
    on_transition=_s10_transition,
    required=False,
)


# --- L1 boundary-honoured -------------------------------------------------------------


def _l1_transition(before: Process, event: Event, step: Step) -> str | None:
    """A boundary that found a call running must not be lost: when that call
    ends and work it asked for is still dirty, a follow-up commit must start."""
    if not isinstance(event, CommitSucceeded | CommitFailed):
        return None
    if step.result not in (Outcome.COMMITTED, Outcome.FAILED) or step.state.draining:
        return None
    old = _session_of(before, event.session_id)
    new = _session_of(step.state, event.session_id)
    if old is None or new is None or old.in_flight is None:
        return None
    retry = isinstance(event, CommitSucceeded) or not (event.fatal or old.in_flight.follow_up)
    if retry and old.follow_up_through > new.committed:
        if StartFollowUp(event.session_id) not in step.effects:
            return (
                f"the call ended with work through {old.follow_up_through} requested "
                f"while busy, committed={new.committed}, and no follow-up was started"
            )
        if new.follow_up_through != old.follow_up_through:
            return "the follow-up was started but the debt it must discharge was dropped"
    return None


def _l1_progress(process: Process, step_fn: StepFn, helper_agent: Agent) -> ProgressFailure | None:
    """Drive each session owing a follow-up with succeeding providers and
    follow-up commits only; the owed work must become committed (or the debt be
    dropped for want of an agent, which the next boundary settles)."""
    if process.draining:
        return None
    for session_id, session in process.sessions:
        debt = session.follow_up_through
        if debt == 0:
            continue
        state, events, dropped = process, [], False
        for _ in range(2 * session.generation + 4):
            current = _session_of(state, session_id)
            if current is None or current.committed >= debt or current.follow_up_through == 0:
                break
            event: Event
            if current.in_flight is not None:
                running = current.in_flight
                event = CommitSucceeded(session_id, running.agent, running.captured_generation)
            else:
                event = CommitRequested(session_id, follow_up=True)
            events.append(event)
            outcome = step_fn(state, event)
            state = outcome.state
            if outcome.result is Outcome.NO_AGENT:
                dropped = True
                break
        final = _session_of(state, session_id)
        if dropped or final is None or final.committed >= debt:
            continue
        return ProgressFailure(
            f"{session_id!r}: work through {debt} was requested while busy, but succeeding "
            f"providers and follow-ups leave committed at {final.committed}",
            tuple(events),
        )
    return None


L1 = Property(
    "L1",
    "boundary-honoured",
    "Work requested while a call was in flight is committed by a follow-up, without "
    "another boundary, when providers succeed.",
    on_transition=_l1_transition,
    on_progress=_l1_progress,
)


# --- L2 drain-bounded -----------------------------------------------------------------


def _l2_progress(process: Process, step_fn: StepFn, helper_agent: Agent) -> ProgressFailure | None:
    """Shutdown commits every dirty session; if some state cannot be driven clean
    even when providers succeed, the drain runs to its deadline and work is lost."""
    for session_id, session in process.sessions:
        if session.generation <= session.committed and session.in_flight is None:
            continue
        state, events = process, []
        for _ in range(2 * session.generation + 4):
            current = _session_of(state, session_id)
            if current is None or (current.generation <= current.committed and current.idle):
                break
            event: Event
            if current.in_flight is not None:
                running = current.in_flight
                event = CommitSucceeded(session_id, running.agent, running.captured_generation)
            else:
                first_owner = current.segments[0].owner if current.segments else None
                needs_adopter = first_owner is None and current.registered is None
                adopter = helper_agent if needs_adopter else None
                event = CommitRequested(session_id, agent=adopter)
            events.append(event)
            after = step_fn(state, event).state
            if after == state:
                break
            state = after
        final = _session_of(state, session_id)
        if final is not None and (final.generation > final.committed or not final.idle):
            return ProgressFailure(
                f"{session_id!r}: succeeding providers and boundary commits leave it "
                f"committed={final.committed} of generation={final.generation}"
                + (" and in flight" if final.in_flight is not None else ""),
                tuple(events),
            )
    return None


L2 = Property(
    "L2",
    "drain-bounded",
    "From every reachable state, with providers that succeed, a state with nothing dirty "
    "and nothing in flight is reachable.",
    on_progress=_l2_progress,
)


# --- L3 deadlock-free -----------------------------------------------------------------


def _l3_progress(process: Process, step_fn: StepFn, helper_agent: Agent) -> ProgressFailure | None:
    """A call that no provider outcome can end, or a follow-up that never runs,
    blocks every later commit of the session and the drain."""
    for session_id, session in process.sessions:
        running = session.in_flight
        if running is not None:
            ends: tuple[Event, ...] = (
                CommitSucceeded(session_id, running.agent, running.captured_generation),
                CommitFailed(session_id, running.agent, running.captured_generation),
                CommitFailed(session_id, running.agent, running.captured_generation, fatal=True),
            )
            for event in ends:
                after = _session_of(step_fn(process, event).state, session_id)
                if after is not None and after.in_flight is not None:
                    return ProgressFailure(
                        f"{session_id!r}: {type(event).__name__} of the running call "
                        f"left it in flight",
                        (event,),
                    )
        elif session.follow_up_through:
            event = CommitRequested(session_id, follow_up=True)
            if step_fn(process, event).state == process:
                return ProgressFailure(
                    f"{session_id!r}: a follow-up is owed but running it changes nothing",
                    (event,),
                )
    return None


L3 = Property(
    "L3",
    "deadlock-free",
    "No reachable state has a running call or owed follow-up that no enabled step can end.",
    on_progress=_l3_progress,
)


# --- L4 bounded-memory ----------------------------------------------------------------


def _l4_transition(before: Process, event: Event, step: Step) -> str | None:
    """A process that serves sessions for months must not keep every session it
    ever saw, nor the agent objects (and their memory) hanging off them."""
    if not isinstance(event, Discard):
        return None
    old = _session_of(before, event.session_id)
    if old is None or old.generation > old.committed or old.in_flight is not None:
        return None
    if old.registered is not None:
        return None
    if _session_of(step.state, event.session_id) is not None:
        return f"discard of committed, unregistered, idle {event.session_id!r} kept its entry"
    if step.result is not Outcome.DISCARDED:
        return f"discard removed the entry but reported {step.result!r}"
    return None


L4 = Property(
    "L4",
    "bounded-memory",
    "A committed, unregistered, discarded session leaves no entry (and so no agent).",
    on_transition=_l4_transition,
)


ALL: tuple[Property, ...] = (S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, L1, L2, L3, L4)
"""Every property, in catalogue order."""

BY_ID: dict[str, Property] = {item.id: item for item in ALL}
"""Properties by id."""
