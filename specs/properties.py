"""The safety and progress properties S1-S10 and L1-L4, as executable predicates.

Each property is a ``Property`` record: a stable id, a title, a one-line
statement and pure checks. A check returns ``None`` when the property holds
and a short message (or a ``ProgressFailure``) saying what went wrong:

- ``on_state(process)`` looks at one reachable state;
- ``on_transition(before, event, step)`` looks at one transition of ``step``,
  including its result against the result tables of ``specs/machine.py``;
- ``after_transition(before, event, step, step_fn)`` drives the state a
  transition reached forward with a fixed schedule and judges what happens,
  from the effects the steps return (what the shell would do), not from the
  model's bookkeeping;
- ``on_progress(process, step_fn, helper_agent)`` drives one state forward
  (the graph form of the liveness properties);
- ``on_probe(before, event, malformed, outcome)`` judges a test-hook edit
  applied to a reachable state (S7): the step, or the exception it raised.

The checks read only the state, the event and what ``step`` returned; no
ghost information is needed. Every check is invariant under renaming agents,
sessions and call ids, which the model checker's symmetry reduction relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from memory_lifecycle import model
from memory_lifecycle.model.state import Agent

from .machine import (
    PROCESS_RESULTS,
    SESSION_RESULTS,
    ResultTable,
    ResultVerdict,
    adopter,
    committable,
    result_token,
)

StepFn = Callable[[model.Process, model.Event], model.Step]
"""A step function with the signature of ``model.step``."""


class ProgressFailure(NamedTuple):
    """A liveness check that failed: why, and the events it drove the state with."""

    message: str
    events: tuple[model.Event, ...]


class StepRaised(Exception):
    """A step function raised while a check drove a state forward."""

    def __init__(self, events: tuple[model.Event, ...], error: Exception) -> None:
        super().__init__(f"step raised {type(error).__name__}: {error}")
        self.events = events
        """The events the check fed, the last one the event ``step`` raised on."""
        self.error = error


def answer(step_fn: StepFn, state: model.Process, event: model.Event) -> model.Step:
    """``step_fn(state, event)``; TypeError when the answer is not a Step of a
    well-formed Process (``malformed_process``; not asked of ``model.step``)."""
    step = step_fn(state, event)
    if not isinstance(step, model.Step) or not isinstance(step.state, model.Process):
        raise TypeError(f"the step function answered {step!r}, not a Step of a Process")
    if step_fn is not model.step:
        problem = malformed_process(step.state)
        if problem is not None:
            raise TypeError(f"the step function answered a malformed process: {problem}")
    return step


def malformed_process(process: model.Process) -> str | None:
    """Why ``process`` is not a tuple of ``(session id, Session)`` pairs, one per id,
    sorted by id; None when it is."""
    pairs = process.sessions
    if not isinstance(pairs, tuple):
        return f"sessions is a {type(pairs).__name__}, not a tuple"
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], model.Session)):
            return f"{pair!r} is not a (session id, Session) pair"
    ids = [str(key) for key, _ in pairs]
    if len(set(ids)) != len(ids):
        return f"a session appears twice among {ids}"
    if ids != sorted(ids):
        return f"the sessions {ids} are not sorted by id"
    if not isinstance(process.shutdown, model.Shutdown):
        return f"the shutdown record is a {type(process.shutdown).__name__}"
    return None


def drive_step(
    step_fn: StepFn, state: model.Process, event: model.Event, events: list[model.Event]
) -> model.Step:
    """``step_fn(state, event)`` for a check that drives a state; ``event`` is appended
    to ``events``, and an exception or a malformed answer becomes ``StepRaised``."""
    events.append(event)
    try:
        return answer(step_fn, state, event)
    except Exception as error:
        raise StepRaised(tuple(events), error) from error


StateCheck = Callable[[model.Process], str | None]
TransitionCheck = Callable[[model.Process, model.Event, model.Step], str | None]
AfterTransitionCheck = Callable[
    [model.Process, model.Event, model.Step, StepFn], ProgressFailure | None
]
ProgressCheck = Callable[[model.Process, StepFn, Agent], ProgressFailure | None]
ProbeCheck = Callable[[model.Process, model.Event, bool, model.Step | Exception], str | None]


@dataclass(frozen=True)
class Property:
    """One property of the catalogue and the checks that decide it."""

    id: str
    title: str
    statement: str
    on_state: StateCheck | None = None
    on_transition: TransitionCheck | None = None
    on_progress: ProgressCheck | None = None
    after_transition: AfterTransitionCheck | None = None
    on_probe: ProbeCheck | None = None
    required: bool = True
    """False for an advisory property (efficiency or hygiene): breaking it loses,
    corrupts or blocks no work, so it fails a conformance run only under ``--strict``."""

    @property
    def why(self) -> str:
        """Why the property matters (the docstrings of its checks)."""
        checks = (
            self.on_state,
            self.on_transition,
            self.on_progress,
            self.after_transition,
            self.on_probe,
        )
        return " ".join((check.__doc__ or "").strip() for check in checks if check is not None)


# --- small readers --------------------------------------------------------------------


def _session_of(process: model.Process, session_id: model.SessionId) -> model.Session | None:
    for key, value in process.sessions:
        if key == session_id:
            return value
    return None


def _owner_of(session: model.Session, generation: int) -> tuple[bool, Agent | None]:
    """``(found, owner)`` of one dirty generation according to the segments."""
    for segment in session.segments:
        if segment.start <= generation <= segment.end:
            return True, segment.owner
    return False, None


def _calls(step: model.Step) -> list[model.CallProvider]:
    return [effect for effect in step.effects if isinstance(effect, model.CallProvider)]


def _target(event: model.Event) -> model.SessionId | None:
    """The one session an event names (session events and ``DrainNext``), else None."""
    return getattr(event, "session_id", None)


def _draining(process: model.Process) -> bool:
    return process.shutdown.phase == model.DRAINING


def _ends_running_call(old: model.Session | None, event: model.Event) -> bool:
    """``event`` reports the end of the call ``old`` records as running."""
    return (
        isinstance(event, model.CommitSucceeded | model.CommitFailed)
        and old is not None
        and old.in_flight is not None
        and old.in_flight.call_id == event.call_id
    )


# --- results: the tables of specs/machine.py, judged once per step ----------------------

_TABLE = ResultTable()


class _Judged:
    """The result verdict of the last step judged (every property asks for the same one)."""

    step: model.Step | None = None
    verdict: ResultVerdict | None = None


_LAST = _Judged()


def judge_result(
    before: model.Process, event: model.Event, step: model.Step
) -> ResultVerdict | None:
    """Why the result of ``step`` is not one the result tables allow (None if it is)."""
    if _LAST.step is step:
        return _LAST.verdict
    session_id = _target(event)
    old = None if session_id is None else _session_of(before, session_id)
    new = None if session_id is None else _session_of(step.state, session_id)
    verdict = _TABLE.judge(old, event, before.shutdown, step.result, new)
    _LAST.step, _LAST.verdict = step, verdict
    return verdict


_RESULT_IDS: dict[str, frozenset[str]] = {}
for _row in (*SESSION_RESULTS, *PROCESS_RESULTS):
    _RESULT_IDS[_row.trigger] = _RESULT_IDS.get(_row.trigger, frozenset()) | {_row.property_id}
_UNDECLARED = frozenset({"S6"})
"""Results of a trigger no table lists are reported under S6 (see ``ResultTable.judge``)."""


def _result_of(
    property_id: str, before: model.Process, event: model.Event, step: model.Step
) -> str | None:
    """The result verdict of this step, when it belongs to ``property_id``."""
    if property_id not in _RESULT_IDS.get(type(event).__name__, _UNDECLARED):
        return None
    verdict = judge_result(before, event, step)
    if verdict is None or verdict.property_id != property_id:
        return None
    return verdict.message


def _first(*messages: str | None) -> str | None:
    for message in messages:
        if message is not None:
            return message
    return None


# --- S1 completed-only ----------------------------------------------------------------


def _s1_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """A provider call for a generation no completed turn created would extract
    nothing or, worse, mark unseen work as extracted; an ephemeral turn completes
    nothing, and a completed turn exactly one generation."""
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
    session_id = _target(event)
    if session_id is not None:
        old = _session_of(before, session_id)
        new = _session_of(step.state, session_id)
        if isinstance(event, model.TurnCompleted) and event.ephemeral and new != old:
            return "an ephemeral turn changed the session"
        was = 0 if old is None else old.generation
        now = 0 if new is None else new.generation
        counts = isinstance(event, model.TurnCompleted) and not event.ephemeral
        if counts and now != was + 1:
            return f"a completed turn moved generation {was} -> {now} (expected {was + 1})"
        if not counts and now > was:
            return f"{type(event).__name__} raised generation {was} -> {now}"
    return _result_of("S1", before, event, step)


# --- S2 late-commit-safe --------------------------------------------------------------


def _s2_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """Advancing past the captured end would mark turns that finished during the
    call as extracted although the provider never saw them: silent memory loss."""
    old = (
        _session_of(before, event.session_id) if isinstance(event, model.CommitSucceeded) else None
    )
    if old is None or not _ends_running_call(old, event):
        return _result_of("S2", before, event, step)
    assert old.in_flight is not None
    captured = old.in_flight.captured_generation
    new = _session_of(step.state, event.session_id)  # type: ignore[union-attr]
    if new is None:
        return "a successful commit removed the session entry"
    expected = max(old.committed, captured)
    if new.committed != expected:
        return (
            f"success of the call that captured {captured} set committed "
            f"to {new.committed} (expected {expected}; generation is {old.generation})"
        )
    if new.generation != old.generation:
        return f"a successful commit changed generation {old.generation} -> {new.generation}"
    return _result_of("S2", before, event, step)


# --- S3 failure-preserving ------------------------------------------------------------


def _s3_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """A failing provider extracted nothing: dropping the work or its owner loses
    memories, and staying in flight blocks the session forever."""
    if not isinstance(event, model.CommitFailed):
        return None
    old = _session_of(before, event.session_id)
    new = _session_of(step.state, event.session_id)
    if old is None or not _ends_running_call(old, event):
        return _result_of("S3", before, event, step)
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
    if new.in_flight is not None:
        return f"{kind} left the session in flight"
    return _result_of("S3", before, event, step)


def _same_segments(old: model.Session, new: model.Session) -> bool:
    if len(old.segments) != len(new.segments):
        return False
    return all(
        a.start == b.start and a.end == b.end and a.owner is b.owner
        for a, b in zip(old.segments, new.segments, strict=True)
    )


# --- S4 ownership ---------------------------------------------------------------------


def _s4_state(process: model.Process) -> str | None:
    """The running call must be the first segment's owner's, or success would
    credit one agent's memory to another."""
    for session_id, session in process.sessions:
        running = session.in_flight
        if running is None:
            continue
        if not session.segments or session.segments[0].owner is not running.agent:
            return f"{session_id!r}: the running call's agent does not own the first segment"
    return None


def _s4_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """Each agent extracts its own conversation: a call by the wrong agent
    extracts nothing of it, and a stolen segment is never committed by its owner.
    A turn belongs to the agent named with it (which becomes the registered one),
    else to the registered agent."""
    session_id = _target(event)
    if session_id is None:
        return _result_of("S4", before, event, step)
    old = _session_of(before, session_id)
    new = _session_of(step.state, session_id)
    if isinstance(event, model.TurnCompleted) and not event.ephemeral and new is not None:
        registered = None if old is None else old.registered
        owner = event.agent if event.agent is not None else registered
        if new.registered is not owner:
            return (
                f"after a turn naming {event.agent!r} the registered agent is "
                f"{new.registered!r} (expected {owner!r})"
            )
        if new.segments and new.segments[-1].owner is not owner:
            return f"turn {new.generation} is owned by {new.segments[-1].owner!r}, not {owner!r}"
    if old is None:
        return _result_of("S4", before, event, step)
    for call in _calls(step):
        if not old.segments:
            return "CallProvider with no dirty segment"
        first = old.segments[0]
        expected = adopter(old, event)
        if call.agent is not expected:
            return (
                f"CallProvider on {call.agent!r} but the first dirty segment "
                f"{first.start}..{first.end} belongs to {expected!r}"
            )
    if new is not None:
        message = _owners_kept(old, new, event, step)
        if message is not None:
            return message
    if (
        isinstance(event, model.CommitSucceeded)
        and _ends_running_call(old, event)
        and new is not None
    ):
        assert old.in_flight is not None
        agent = old.in_flight.agent
        for generation in range(old.committed + 1, new.committed + 1):
            found, owner = _owner_of(old, generation)
            if found and owner is not agent:
                return (
                    f"generation {generation} owned by {owner!r} was committed by a call "
                    f"on {agent!r}"
                )
    return _result_of("S4", before, event, step)


def _owners_kept(
    old: model.Session, new: model.Session, event: model.Event, step: model.Step
) -> str | None:
    """No event changes the owner of a dirty generation, except adoption of an ownerless one."""
    adopting = bool(_calls(step))
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
    return None


# --- S5 serialised --------------------------------------------------------------------


def _s5_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """Two concurrent calls for one session race on the provider and on the
    committed mark; the second must wait or be recorded as a follow-up. The end
    of a call the session no longer runs is stale and changes nothing."""
    calls = _calls(step)
    if len(calls) > 1:
        return f"one step started {len(calls)} provider calls"
    for call in calls:
        old = _session_of(before, call.session_id)
        if old is not None and old.in_flight is not None:
            return "a provider call started while another was in flight"
    session_id = _target(event)
    if session_id is not None:
        old = _session_of(before, session_id)
        new = _session_of(step.state, session_id)
        busy = old is not None and old.in_flight is not None
        if isinstance(event, model.CommitRequested) and busy:
            assert old is not None
            if new is None or new.in_flight != old.in_flight:
                return "a commit requested while busy replaced the running call"
        stale = isinstance(
            event, model.CommitSucceeded | model.CommitFailed
        ) and not _ends_running_call(old, event)
        if stale:
            if new != old:
                return "the end of a call the session does not run changed it"
            if step.effects:
                return "a stale call end had effects"
    return _result_of("S5", before, event, step)


# --- S6 isolation ---------------------------------------------------------------------


def _s6_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """Sessions belong to different conversations: one session's commit, failure
    or discard must not move another's marks or owners; the drain's end only
    forgets its attempt counts."""
    if isinstance(event, model.Reset):
        return None
    touched = _target(event)
    old = {key: value for key, value in before.sessions if key != touched}
    new = {key: value for key, value in step.state.sessions if key != touched}
    if isinstance(event, model.DrainFinished):
        old = {key: value._replace(drain_failures=0) for key, value in old.items()}
    if old != new:
        changed = sorted(str(key) for key in set(old) | set(new) if old.get(key) != new.get(key))
        return f"{type(event).__name__} changed other sessions: {', '.join(changed)}"
    return _result_of("S6", before, event, step)


# --- S7 well-formed -------------------------------------------------------------------


def _s7_state(process: model.Process) -> str | None:
    """Every other rule reads these marks; a gap, overlap or backwards count
    makes the lifecycle commit twice or never."""
    for session_id, session in process.sessions:
        problem = malformed_entry(session) or _malformed_marks(session)
        if problem is not None:
            return f"{session_id!r}: {problem}"
        if session.drain_failures and not _draining(process):
            return f"{session_id!r}: drain_failures={session.drain_failures} outside a drain"
    return None


def malformed_entry(session: model.Session) -> str | None:
    """Why the counts and segments of ``session`` are not well-formed, or None."""
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
    return None


def _malformed_marks(session: model.Session) -> str | None:
    """What the lifecycle's own steps keep within the dirty range: debt and capture."""
    committed, generation = session.committed, session.generation
    debt = session.follow_up_through
    if debt != 0 and not committed < debt <= generation:
        return f"follow_up_through={debt} outside ({committed}, {generation}]"
    running = session.in_flight
    if running is not None and not committed < running.captured_generation <= generation:
        return f"in-flight call captured {running.captured_generation} outside the dirty range"
    if session.drain_failures < 0:
        return f"drain_failures={session.drain_failures}"
    return None


def _segments_text(session: model.Session) -> str:
    return "[" + ", ".join(f"{s.start}..{s.end}" for s in session.segments) + "]"


def _s7_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """A count that goes back would commit the same work twice or skip new work."""
    session_id = _target(event)
    if session_id is None or isinstance(event, model.Reset):
        return _result_of("S7", before, event, step)
    old = _session_of(before, session_id)
    new = _session_of(step.state, session_id)
    if (
        old is not None
        and new is not None
        and (new.generation < old.generation or new.committed < old.committed)
    ):
        return (
            f"generation/committed went {old.generation}/{old.committed} -> "
            f"{new.generation}/{new.committed}"
        )
    return _result_of("S7", before, event, step)


def _s7_probe(
    before: model.Process, event: model.Event, malformed: bool, outcome: model.Step | Exception
) -> str | None:
    """The drop-in's test hook writes an entry field; it must refuse (raise
    ValueError or TypeError, changing nothing) an edit that would leave the
    entry malformed, and otherwise write a well-formed entry of that session only,
    whose field then reads as written (a write of the value it holds changes nothing)."""
    if isinstance(outcome, Exception):
        if not malformed:
            return f"{_edit_text(event)} is well-formed but raised {outcome!r}"
        if not isinstance(outcome, ValueError | TypeError):
            return f"{_edit_text(event)} raised {type(outcome).__name__}, not ValueError/TypeError"
        return None
    if malformed:
        return f"{_edit_text(event)} would leave the entry malformed, but was accepted"
    if outcome.result is not model.Outcome.DONE:
        return f"{_edit_text(event)} returned {outcome.result!r}, not DONE"
    session_id = _target(event)
    keys = {key for key, _ in before.sessions} | {key for key, _ in outcome.state.sessions}
    for key in sorted(keys - {session_id}, key=str):
        if _session_of(before, key) != _session_of(outcome.state, key):
            return f"{_edit_text(event)} changed session {key!r}"
    written = None if session_id is None else _session_of(outcome.state, session_id)
    if written is None and isinstance(event, model.EntryEdited) and event.field != "entry":
        return f"{_edit_text(event)} removed the entry instead of writing one field"
    problem = None if written is None else malformed_entry(written)
    if problem is not None:
        return f"{_edit_text(event)} wrote a malformed entry: {problem}"
    if not isinstance(event, model.EntryEdited) or session_id is None:
        return None
    old = _session_of(before, session_id)
    reads = _field_reads(written, event.field)
    if reads != event.value:
        return f"{_edit_text(event)} was accepted, but the field now reads {reads!r}"
    if old is not None and _field_reads(old, event.field) == event.value and written != old:
        return f"{_edit_text(event)} wrote the value the entry held, yet changed it"
    return None


_FIELD_READERS: dict[str, Callable[[model.Session], object]] = {
    "agent": lambda session: session.registered,
    "in_flight": lambda session: session.in_flight is not None,
    "generation": lambda session: session.generation,
    "committed_generation": lambda session: session.committed,
    "segments": lambda session: session.segments,
}
"""How the drop-in's test hook reads each field of an entry back."""


def _field_reads(session: model.Session | None, field: str) -> object:
    """What the drop-in's test hook reads back for ``field`` of an entry."""
    if field == "entry" or session is None:
        return session
    return _FIELD_READERS[field](session)


def _edit_text(event: model.Event) -> str:
    if isinstance(event, model.EntryEdited):
        return f"the edit {event.field}={event.value!r} of {event.session_id!r}"
    return type(event).__name__


# --- S8 discard-safe ------------------------------------------------------------------


def _s8_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """Discarding a dirty or busy entry forgets work no provider has extracted."""
    if isinstance(event, model.Reset):
        return _result_of("S8", before, event, step)
    for session_id, old in before.sessions:
        if _session_of(step.state, session_id) is not None:
            continue
        if not isinstance(event, model.Discard):
            return f"{type(event).__name__} removed the entry of {session_id!r}"
        if old.generation > old.committed or old.in_flight is not None:
            state = "in flight" if old.in_flight is not None else "dirty"
            return f"discard removed {session_id!r} while it was {state}"
    return _result_of("S8", before, event, step)


# --- S9 no-op -------------------------------------------------------------------------


def _s9_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """Calling the provider with nothing new costs a slow extraction and may
    duplicate memories."""
    for call in _calls(step):
        old = _session_of(before, call.session_id)
        if old is None or old.generation <= old.committed:
            return "a commit with nothing dirty called the provider"
    return _result_of("S9", before, event, step)


# --- S10 coalescing -------------------------------------------------------------------


def _s10_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """One extraction per owner run keeps provider calls few and memories whole;
    splitting a run makes each boundary commit only a fragment."""
    if isinstance(event, model.TurnCompleted) and not event.ephemeral:
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
    return _result_of("S10", before, event, step)


def _s10_state(process: model.Process) -> str | None:
    """Two neighbouring segments of one owner would cost two calls where one does."""
    for session_id, session in process.sessions:
        for left, right in zip(session.segments, session.segments[1:], strict=False):
            if left.owner is right.owner:
                return (
                    f"{session_id!r}: segments {left.start}..{left.end} and "
                    f"{right.start}..{right.end} share owner {left.owner!r}"
                )
    return None


# --- schedules that drive a state forward ------------------------------------------------

FOLLOW_UP_CALLS_WHEN_FAILING = 2
"""Provider calls one boundary may cause against a provider that always fails:
its own, and one follow-up."""

_DRIVE_LIMIT = 12
"""Steps a schedule may take before it counts as endless."""


class _Drive(NamedTuple):
    """What a schedule did to one session: the events, calls started, how it ended."""

    state: model.Process
    events: tuple[model.Event, ...]
    calls: int
    no_agent: bool
    """A follow-up found no agent to call (the debt is dropped: allowed)."""
    endless: bool


def _drive(
    state: model.Process,
    session_id: model.SessionId,
    step_fn: StepFn,
    effects: tuple[object, ...],
    *,
    succeed: bool,
) -> _Drive:
    """Let the lifecycle run by itself: end the running call (success or failure)
    and carry out each ``StartFollowUp`` the steps return, as the shell does."""
    pending = model.StartFollowUp(session_id) in effects
    events: list[model.Event] = []
    calls = 0
    for _ in range(_DRIVE_LIMIT):
        current = _session_of(state, session_id)
        running = None if current is None else current.in_flight
        event: model.Event
        if running is not None:
            event = (
                model.CommitSucceeded(session_id, running.call_id)
                if succeed
                else model.CommitFailed(session_id, running.call_id)
            )
        elif pending:
            event = model.CommitRequested(session_id, _fresh_call_id(state), follow_up=True)
            pending = False
        else:
            return _Drive(state, tuple(events), calls, False, False)
        step = drive_step(step_fn, state, event, events)
        state = step.state
        calls += len(_calls(step))
        pending = pending or model.StartFollowUp(session_id) in step.effects
        if step.result is model.Outcome.NO_AGENT:
            return _Drive(state, tuple(events), calls, True, False)
    return _Drive(state, tuple(events), calls, False, True)


def _fresh_call_id(state: model.Process) -> int:
    """A call id no session of ``state`` runs."""
    running = [s.in_flight.call_id for _, s in state.sessions if s.in_flight is not None]
    return max(running, default=0) + 1


# --- L1 boundary-honoured -------------------------------------------------------------


def _l1_state(process: model.Process) -> str | None:
    """The shell recovers a follow-up that an asynchronous exception kept from
    starting by asking ``owes_follow_up``: it must name exactly the idle sessions
    with unpaid work requested while busy, outside the drain, or the recovery
    loses that work's follow-up or starts one nobody asked for."""
    phase = process.shutdown.phase
    for session_id, session in process.sessions:
        owed = (
            session.in_flight is None
            and session.follow_up_through > session.committed
            and phase != model.DRAINING
        )
        if model.owes_follow_up(session, phase) != owed:
            return (
                f"owes_follow_up({session_id!r}) is {not owed} with follow-up through "
                f"{session.follow_up_through}, committed={session.committed}, "
                f"{'in flight' if session.in_flight else 'idle'}, {phase}"
            )
    return None


def _l1_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """A boundary that found a call running must not be lost: when that call
    ends and work it asked for is still dirty, a follow-up commit must start,
    except during the drain, which commits that work itself (a follow-up started
    then would race the drain). A follow-up is not a boundary: it never raises
    the debt, so work completed after the request waits for its own boundary."""
    draining = _draining(before) or _draining(step.state)
    if draining and any(isinstance(effect, model.StartFollowUp) for effect in step.effects):
        return f"{type(event).__name__} started a follow-up while draining"
    if isinstance(event, model.CommitRequested) and event.follow_up:
        old = _session_of(before, event.session_id)
        new = _session_of(step.state, event.session_id)
        if old is not None and new is not None and new.follow_up_through > old.follow_up_through:
            return (
                f"a follow-up raised the debt from {old.follow_up_through} to "
                f"{new.follow_up_through}: only a boundary asks for more work"
            )
    if not isinstance(event, model.CommitSucceeded | model.CommitFailed) or draining:
        return _result_of("L1", before, event, step)
    old = _session_of(before, event.session_id)
    new = _session_of(step.state, event.session_id)
    if old is None or new is None or not _ends_running_call(old, event):
        return _result_of("L1", before, event, step)
    assert old.in_flight is not None
    retry = isinstance(event, model.CommitSucceeded) or not (event.fatal or old.in_flight.follow_up)
    if retry and old.follow_up_through > new.committed:
        if model.StartFollowUp(event.session_id) not in step.effects:
            return (
                f"the call ended with work through {old.follow_up_through} requested "
                f"while busy, committed={new.committed}, and no follow-up was started"
            )
        if new.follow_up_through != old.follow_up_through:
            return "the follow-up was started but the debt it must discharge was dropped"
    return _result_of("L1", before, event, step)


def _l1_after(
    before: model.Process, event: model.Event, step: model.Step, step_fn: StepFn
) -> ProgressFailure | None:
    """A commit answered BUSY or TIMED_OUT was not carried out, and a whole commit
    takes one segment per call; when providers succeed, the lifecycle must commit
    the work completed before the request by itself (follow-ups, no new boundary).
    Against a provider that always fails it must give up after its own call and
    one follow-up, keeping the work dirty."""
    if not isinstance(event, model.CommitRequested) or event.follow_up or _draining(before):
        return None
    old = _session_of(before, event.session_id)
    if old is None:
        return None
    deferred = step.result in (model.Outcome.BUSY, model.Outcome.TIMED_OUT)
    if deferred or (event.whole and step.result is model.Outcome.STARTED):
        done = _drive(step.state, event.session_id, step_fn, step.effects, succeed=True)
        final = _session_of(done.state, event.session_id)
        committed = 0 if final is None else final.committed
        if done.endless or not (done.no_agent or committed >= old.generation):
            return ProgressFailure(
                f"{event.session_id!r}: a {'whole ' if event.whole else ''}commit answered "
                f"{result_token(step.result)} asked for work "
                f"through {old.generation}, but succeeding providers and the follow-ups the "
                f"lifecycle starts leave committed at {committed}",
                done.events,
            )
    if step.result not in (model.Outcome.STARTED, model.Outcome.BUSY, model.Outcome.TIMED_OUT):
        return None
    failing = _drive(step.state, event.session_id, step_fn, step.effects, succeed=False)
    calls = len(_calls(step)) + failing.calls
    final = _session_of(failing.state, event.session_id)
    if failing.endless or calls > FOLLOW_UP_CALLS_WHEN_FAILING:
        return ProgressFailure(
            f"{event.session_id!r}: against a provider that always fails, one commit led to "
            f"{calls}{' and more' if failing.endless else ''} provider calls "
            f"(at most {FOLLOW_UP_CALLS_WHEN_FAILING}: its own and one follow-up)",
            failing.events,
        )
    if final is None or final.committed != old.committed or final.generation != old.generation:
        return ProgressFailure(
            f"{event.session_id!r}: a provider that always fails left the work changed",
            failing.events,
        )
    return None


# --- L2 drain-bounded -----------------------------------------------------------------


def _l2_state(process: model.Process) -> str | None:
    """The drain decides its end from two counts; if they disagree with the
    sessions it returns with work left, or waits for work that is not there."""
    shutdown = process.shutdown
    if not _draining(process):
        if shutdown.queued or shutdown.calls:
            return f"queued={shutdown.queued}, calls={shutdown.calls} outside a drain"
        return None
    wanted = sum(1 for _, session in process.sessions if committable(session))
    running = sum(1 for _, session in process.sessions if session.in_flight is not None)
    if (shutdown.queued, shutdown.calls) != (wanted, running):
        return (
            f"the drain counts queued={shutdown.queued}, calls={shutdown.calls}, but "
            f"{wanted} session(s) need a commit and {running} call(s) are in flight"
        )
    return None


def _l2_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """A session the drain must commit is queued the moment it becomes
    committable: at the start, after a failure (up to DRAIN_ATTEMPTS), when a
    call ends or a turn completes during the drain; a hung provider then holds
    one worker only. Background commits are refused while draining."""
    after = step.state
    if isinstance(event, model.DrainStarted):
        return _first(_drain_started(before, event, step), _result_of("L2", before, event, step))
    ended = isinstance(event, model.DrainFinished) and _draining(before)
    if ended and (_draining(after) or any(s.drain_failures for _, s in after.sessions)):
        return "the drain's end left it draining or kept attempt counts"
    if isinstance(event, model.BackgroundCommitRequested | model.BackgroundCommitEnded):
        change = after.shutdown.background_commits - before.shutdown.background_commits
        expected = 0
        if (
            isinstance(event, model.BackgroundCommitRequested)
            and step.result is model.Outcome.ADMITTED
        ):
            expected = 1
        if isinstance(event, model.BackgroundCommitEnded) and before.shutdown.background_commits:
            expected = -1
        if change != expected:
            return f"{type(event).__name__} changed the background count by {change}"
    if _draining(before) and _draining(after):
        message = _queued_when_committable(before, event, step)
        if message is not None:
            return message
    if isinstance(event, model.CommitFailed) and _draining(before):
        old = _session_of(before, event.session_id)
        new = _session_of(after, event.session_id)
        counted = (
            old is None
            or new is None
            or new.drain_failures == min(old.drain_failures + 1, model.DRAIN_ATTEMPTS)
        )
        if _ends_running_call(old, event) and not counted:
            assert old is not None and new is not None
            return (
                f"a failed call during the drain moved drain_failures "
                f"{old.drain_failures} -> {new.drain_failures} (each failure is one attempt, "
                f"counted up to {model.DRAIN_ATTEMPTS})"
            )
    return _result_of("L2", before, event, step)


def _drain_started(
    before: model.Process, event: model.DrainStarted, step: model.Step
) -> str | None:
    after = step.state.shutdown
    if _draining(before):
        joined = before.shutdown._replace(
            deadline=min(before.shutdown.deadline, event.deadline),
            waits_for_calls=before.shutdown.waits_for_calls and not event.in_call,
        )
        if step.effects or after != joined:
            return (
                "a second drain must only join the first, keeping the sooner deadline "
                "(and waiting for no call when it joins from inside one)"
            )
        return None
    wanted = [key for key, session in before.sessions if committable(session)]
    queued = [e.session_id for e in step.effects if isinstance(e, model.QueueForDrain)]
    if sorted(map(str, queued)) != sorted(map(str, wanted)):
        return f"the drain started with queue {queued}, but {wanted} need a commit"
    workers = [e.workers for e in step.effects if isinstance(e, model.StartDrainWorkers)]
    expected_workers = max(1, min(event.workers, len(wanted)))
    if workers != [expected_workers]:
        return (
            f"the drain started workers {workers} for {len(wanted)} queued session(s) "
            f"(expected {expected_workers}: a hung provider must hold one worker only)"
        )
    if (after.phase, after.deadline, after.waits_for_calls) != (
        model.DRAINING,
        event.deadline,
        not event.in_call,
    ):
        return (
            f"the drain started as {after.phase} with deadline {after.deadline} "
            f"waiting for calls: {after.waits_for_calls}"
        )
    return None


def _queued_when_committable(
    before: model.Process, event: model.Event, step: model.Step
) -> str | None:
    """While draining, QueueForDrain names exactly the sessions that became committable."""
    queued = {e.session_id for e in step.effects if isinstance(e, model.QueueForDrain)}
    for session_id in {key for key, _ in before.sessions} | {key for key, _ in step.state.sessions}:
        became = committable(_session_of(step.state, session_id)) and not committable(
            _session_of(before, session_id)
        )
        if became and session_id not in queued:
            return f"{type(event).__name__} made {session_id!r} committable but did not queue it"
        if not became and session_id in queued:
            return f"{type(event).__name__} queued {session_id!r}, which needs no new commit"
    return None


def _l2_progress(
    process: model.Process, step_fn: StepFn, helper_agent: Agent
) -> ProgressFailure | None:
    """Shutdown commits every dirty session; if some state cannot be driven clean
    even when providers succeed, the drain runs to its deadline and work is lost.
    While draining, workers taking the queued sessions and succeeding providers
    must let the drain finish before its deadline."""
    if _draining(process):
        failure = _drain_finishes(process, step_fn)
        if failure is not None:
            return failure
    for session_id, session in process.sessions:
        if session.generation <= session.committed and session.in_flight is None:
            continue
        state = process
        events: list[model.Event] = []
        for _ in range(2 * session.generation + 4):
            current = _session_of(state, session_id)
            if current is None or (current.generation <= current.committed and current.idle):
                break
            event: model.Event
            if current.in_flight is not None:
                event = model.CommitSucceeded(session_id, current.in_flight.call_id)
            else:
                first_owner = current.segments[0].owner if current.segments else None
                needs_adopter = first_owner is None and current.registered is None
                agent = helper_agent if needs_adopter else None
                event = model.CommitRequested(session_id, _fresh_call_id(state), agent)
            after = drive_step(step_fn, state, event, events).state
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


def _drain_finishes(process: model.Process, step_fn: StepFn) -> ProgressFailure | None:
    now = process.shutdown.deadline - 1.0
    state = process
    events: list[model.Event] = []
    for _ in range(_DRIVE_LIMIT):
        event: model.Event | None = None
        for session_id, session in state.sessions:
            if session.in_flight is not None and session.in_flight.agent is not None:
                event = model.CommitSucceeded(session_id, session.in_flight.call_id)
                break
            if committable(session):
                event = model.DrainNext(session_id, now, _fresh_call_id(state))
                break
        if event is None:
            break
        state = drive_step(step_fn, state, event, events).state
    poll = model.DrainPoll(now)
    result = drive_step(step_fn, state, poll, events).result
    if result is not model.Outcome.FINISHED:
        return ProgressFailure(
            f"with providers that succeed and workers taking every queued session, the "
            f"drain still answers {result!r} before its deadline",
            tuple(events),
        )
    return None


# --- L3 deadlock-free -----------------------------------------------------------------


def _l3_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """A waiter blocks until it is woken: every end of a call, and every change
    the drain waits on, must wake waiters, and a started call must carry the id
    its end will report, or the session stays in flight for good."""
    calls = _calls(step)
    for call in calls:
        new = _session_of(step.state, call.session_id)
        running = None if new is None else new.in_flight
        expected = getattr(event, "call_id", None)
        if running is None or running.call_id != call.call_id or call.call_id != expected:
            return (
                f"the call started with id {call.call_id} is recorded as "
                f"{None if running is None else running.call_id} (requested {expected})"
            )
    wakes = model.WakeWaiters() in step.effects
    old = _session_of(before, _target(event)) if _target(event) is not None else None
    if _ends_running_call(old, event) and not wakes:
        return f"{type(event).__name__} ended the running call without waking waiters"
    if isinstance(event, model.DrainFinished) and _draining(before) and not wakes:
        return "the drain ended without waking its workers"
    counts = (before.shutdown.queued, before.shutdown.calls)
    moved = (step.state.shutdown.queued, step.state.shutdown.calls) != counts
    still = (
        _draining(before) and _draining(step.state) and not isinstance(event, model.DrainStarted)
    )
    if still and moved and not wakes:
        return f"{type(event).__name__} changed the drain's counts without waking it"
    return _result_of("L3", before, event, step)


def _l3_progress(
    process: model.Process, step_fn: StepFn, helper_agent: Agent
) -> ProgressFailure | None:
    """A call that no provider outcome can end, or a follow-up that never runs,
    blocks every later commit of the session and the drain."""
    for session_id, session in process.sessions:
        running = session.in_flight
        if running is not None:
            ends: tuple[model.Event, ...] = (
                model.CommitSucceeded(session_id, running.call_id),
                model.CommitFailed(session_id, running.call_id),
                model.CommitFailed(session_id, running.call_id, fatal=True),
            )
            for event in ends:
                after = _session_of(drive_step(step_fn, process, event, []).state, session_id)
                if after is not None and after.in_flight is not None:
                    return ProgressFailure(
                        f"{session_id!r}: {type(event).__name__} of the running call "
                        f"left it in flight",
                        (event,),
                    )
        elif session.follow_up_through > session.committed and not _draining(process):
            event = model.CommitRequested(session_id, _fresh_call_id(process), follow_up=True)
            if drive_step(step_fn, process, event, []).state == process:
                return ProgressFailure(
                    f"{session_id!r}: a follow-up is owed but running it changes nothing",
                    (event,),
                )
    return None


# --- L4 bounded-memory ----------------------------------------------------------------


def _l4_transition(before: model.Process, event: model.Event, step: model.Step) -> str | None:
    """A process that serves sessions for months must not keep every session it
    ever saw, nor the agent objects (and their memory) hanging off them."""
    if not isinstance(event, model.Discard):
        return _result_of("L4", before, event, step)
    old = _session_of(before, event.session_id)
    if old is None or old.generation > old.committed or old.in_flight is not None:
        return _result_of("L4", before, event, step)
    if old.registered is not None:
        return _result_of("L4", before, event, step)
    if _session_of(step.state, event.session_id) is not None:
        return f"discard of committed, unregistered, idle {event.session_id!r} kept its entry"
    return _result_of("L4", before, event, step)


# --- the catalogue ------------------------------------------------------------------

S1 = Property(
    "S1",
    "completed-only",
    "The provider is called only for generations created by completed, non-ephemeral turns.",
    on_transition=_s1_transition,
)

S2 = Property(
    "S2",
    "late-commit-safe",
    "A successful commit advances committed to the end it captured, never further.",
    on_transition=_s2_transition,
)

S3 = Property(
    "S3",
    "failure-preserving",
    "A failing commit, BaseException included, keeps the work dirty with its owner "
    "and ends the in-flight mark.",
    on_transition=_s3_transition,
)

S4 = Property(
    "S4",
    "ownership",
    "A generation is committed only by a call on its owner (ownerless: the adopter); "
    "no event takes an older dirty segment from its owner; a turn is owned by the agent "
    "named with it, which becomes the registered one.",
    on_state=_s4_state,
    on_transition=_s4_transition,
)

S5 = Property(
    "S5",
    "serialised",
    "At most one provider call is in flight per session; the end of any other call is stale.",
    on_transition=_s5_transition,
)

S6 = Property(
    "S6",
    "isolation",
    "An event for session A leaves every other session unchanged.",
    on_transition=_s6_transition,
)

S7 = Property(
    "S7",
    "well-formed",
    "0 <= committed <= generation, both monotonic; segments are ordered, contiguous and "
    "cover exactly (committed, generation]; a follow-up owed and a running call's capture "
    "lie in that range; a test hook refuses any edit that would break this.",
    on_state=_s7_state,
    on_transition=_s7_transition,
    on_probe=_s7_probe,
)

S8 = Property(
    "S8",
    "discard-safe",
    "Discard removes only a clean, idle entry; nothing else but a reset removes one.",
    on_transition=_s8_transition,
)

S9 = Property(
    "S9",
    "no-op",
    "A commit with nothing new never calls the provider.",
    on_transition=_s9_transition,
    required=False,
)

S10 = Property(
    "S10",
    "coalescing",
    "Consecutive turns of one owner share one segment, and one call covers it.",
    on_state=_s10_state,
    on_transition=_s10_transition,
    required=False,
)

L1 = Property(
    "L1",
    "boundary-honoured",
    "Work requested while a call was in flight (BUSY, or a wait that expired) is committed "
    "by a follow-up, without another boundary, when providers succeed; a follow-up asks for "
    "no more than its boundary did; no follow-up starts while draining; a provider that "
    "always fails is given up on, the work kept dirty.",
    on_state=_l1_state,
    on_transition=_l1_transition,
    after_transition=_l1_after,
)

L2 = Property(
    "L2",
    "drain-bounded",
    "The drain returns by its deadline, earlier only when nothing it could commit is dirty "
    "and no call it waits for is in flight; every committable session is queued (again after "
    "a failure, up to DRAIN_ATTEMPTS, and when turns complete during the drain); from every "
    "state, providers that succeed leave nothing dirty and nothing in flight.",
    on_state=_l2_state,
    on_transition=_l2_transition,
    on_progress=_l2_progress,
)

L3 = Property(
    "L3",
    "deadlock-free",
    "No reachable state has a running call or owed follow-up that no enabled step can end; "
    "a waiting commit gets WAIT only while its call runs and time remains, never from inside "
    "a call, and every end of a call wakes the waiters.",
    on_transition=_l3_transition,
    on_progress=_l3_progress,
)

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

STEP_RAISED = "STEP"
"""Id under which the model checker reports a step function that raised on an event
of its world (the model answers every event; a test hook's refusal is a probe)."""
