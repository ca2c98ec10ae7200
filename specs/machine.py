"""The abstract machines that ``model.rules`` refines, declared once as data.

Two machines: one per session (``SESSION_STATES``) and one for the process
(``PROCESS_STATES``). The abstraction functions ``session_state`` and
``process_state`` map every concrete state onto them. Their transition tables,
``SESSION_EDGES`` and ``PROCESS_EDGES``, are plain tuples of ``AbstractEdge``;
the ``transitions`` library builds the executable machines from them
(``build_session_machine``, ``build_process_machine``), and the diagram
renderers draw the same rows. Triggers are the model's event class names;
guards are named predicates over the concrete session before the event, the
event, and the shutdown record before it (``GUARDS``), so a guarded edge says
on which data it is taken.

A trigger with no row for a state, or whose rows' guards all fail, leaves the
state unchanged (the machine ignores it). Such stay-put steps are not drawn
for sessions (BUSY, WAIT, TIMED_OUT, NOTHING_TO_COMMIT, NO_AGENT, KEPT_DIRTY,
KEPT_IN_FLIGHT, STALE, SKIPPED, ephemeral turns); the process machine draws its
self-loops. ``DrainNext`` names one session, so it moves that session's
machine (a drain worker starts its call).

Results are part of the machines: ``SESSION_RESULTS`` and ``PROCESS_RESULTS``
list, for each trigger and abstract state, the results the event may return,
under guards over the same data. Each row names the property whose statement
it makes exact; ``judge_result`` finds the rows that apply to a step.

``EntryEdited`` is in neither table of edges: it is the drop-in's test hook,
which writes whatever entry a test asks for (``TEST_HOOKS``). The refinement
check lets it move a session anywhere; S7 checks that it writes only
well-formed entries and refuses the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from memory_lifecycle.model import (
    DRAIN_ATTEMPTS,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    DrainNext,
    DrainPoll,
    Event,
    Outcome,
    Process,
    RegisterAgent,
    Result,
    Session,
    Shutdown,
    TurnCompleted,
)
from memory_lifecycle.model import DRAINED as DRAINED_PHASE
from memory_lifecycle.model import DRAINING as DRAINING_PHASE
from transitions import Machine
from transitions.core import Event as MachineEvent
from transitions.core import EventData

ABSENT = "ABSENT"
CLEAN = "CLEAN"
DIRTY = "DIRTY"
ORPHANED = "ORPHANED"
COMMITTING = "COMMITTING"
COMMITTING_DIRTY = "COMMITTING_DIRTY"
SESSION_STATES: tuple[str, ...] = (ABSENT, CLEAN, DIRTY, ORPHANED, COMMITTING, COMMITTING_DIRTY)
"""Abstract states of one session; ``ABSENT`` (no entry) is initial."""

SESSION_STATE_MEANINGS: dict[str, str] = {
    ABSENT: "no entry",
    CLEAN: "idle, every completed turn committed",
    DIRTY: "idle, uncommitted turns, an agent can commit them",
    ORPHANED: "idle, uncommitted turns, no owner and no agent registered",
    COMMITTING: "provider call in flight for all dirty work",
    COMMITTING_DIRTY: "provider call in flight, later turns stay dirty",
}
"""One line per session state, for legends (``session_state`` is exact)."""

RUNNING = "RUNNING"
DRAINING = "DRAINING"
DRAINED = "DRAINED"
PROCESS_STATES: tuple[str, ...] = (RUNNING, DRAINING, DRAINED)
"""Abstract states of the process; ``RUNNING`` is initial."""

PROCESS_STATE_MEANINGS: dict[str, str] = {
    RUNNING: "background commits admitted, follow-ups start",
    DRAINING: "shutdown drain running: it commits the dirty sessions, refuses background commits",
    DRAINED: "shutdown drain returned; serves as RUNNING",
}
"""One line per process state, for legends."""

ANY_STATE = "*"
"""``AbstractEdge.source`` (or a result row's source) meaning every state of the machine."""

TEST_HOOKS: tuple[str, ...] = ("EntryEdited",)
"""Triggers that are test hooks, not lifecycle behaviour: the machines do not constrain them."""

GENERATION = "GENERATION"
"""Result token: the session's generation after the event (``TurnCompleted`` returns it)."""


# --- the abstraction functions ----------------------------------------------------


def session_state(session: Session | None) -> str:
    """The abstract state of one session (``None``: it has no entry).

    - ``ABSENT``: no entry.
    - ``COMMITTING``: a provider call is in flight and nothing beyond its
      captured end is dirty (``generation == captured_generation``).
    - ``COMMITTING_DIRTY``: a provider call is in flight and turns beyond its
      captured end completed (``generation > captured_generation``): success
      will leave them dirty (S2).
    - ``CLEAN``: idle, ``generation == committed``.
    - ``ORPHANED``: idle and dirty, and no agent can be resolved for the first
      dirty segment: it has no owner and no agent is registered. Only a commit
      that passes an agent, a registration or a turn naming an agent moves it on.
    - ``DIRTY``: idle and dirty, and the first dirty segment has an owner or
      the registered agent would adopt it.

    Decisions: the in-flight states come first and are split on the captured
    end, not on ``committed``, because that is what success will leave dirty.
    They do not say whether the work after the captured end has an agent; the
    guards of the edges leaving them do (``rest_agent_known``). ORPHANED looks
    at the first dirty segment only, because a commit always takes that one.
    An ownerless first segment with a registered agent is DIRTY: the next
    commit adopts it for that agent. ``drain_failures`` and an owed follow-up
    do not enter into it.
    """
    if session is None:
        return ABSENT
    if session.in_flight is not None:
        if session.generation > session.in_flight.captured_generation:
            return COMMITTING_DIRTY
        return COMMITTING
    if not session.dirty:
        return CLEAN
    first_owner = session.segments[0].owner if session.segments else None
    if first_owner is None and session.registered is None:
        return ORPHANED
    return DIRTY


def process_state(process: Process | Shutdown) -> str:
    """The abstract state of the process: its shutdown phase.

    Sessions and the drain's counts do not enter into it. ``step`` would also
    accept ``DrainFinished`` outside a drain (it changes nothing); neither the
    shell nor the checker's world sends that.
    """
    shutdown = process.shutdown if isinstance(process, Process) else process
    if shutdown.phase == DRAINED_PHASE:
        return DRAINED
    if shutdown.phase == DRAINING_PHASE:
        return DRAINING
    return RUNNING


def committable(session: Session | None) -> bool:
    """True when the drain must commit ``session``: idle, dirty, an agent can make the
    call (an owner, or a registered agent to adopt it), and it has failed fewer than
    ``DRAIN_ATTEMPTS`` times during this drain."""
    if session is None or session.in_flight is not None or not session.dirty:
        return False
    if session.drain_failures >= DRAIN_ATTEMPTS:
        return False
    return session.segments[0].owner is not None or session.registered is not None


def adopter(session: Session, event: Event) -> object | None:
    """The agent a commit request (or drain worker) would call for ``session``'s
    first dirty segment: its owner, else the agent passed (if it can commit),
    else (none passed) the registered one."""
    owner = session.segments[0].owner if session.segments else None
    if owner is not None:
        return owner
    if isinstance(event, CommitRequested) and event.agent is not None:
        return event.agent if event.agent_can_commit else None
    return session.registered


# --- transition tables ---------------------------------------------------------------


class AbstractEdge(NamedTuple):
    """One row of a transition table."""

    trigger: str
    """The model event class name that takes this edge."""
    source: str
    """The state it leaves, or ``ANY_STATE``."""
    dest: str
    """The state it enters (equal to ``source`` for a drawn self-loop)."""
    guards: tuple[str, ...] = ()
    """Names of guards that must all hold on (session before, event, shutdown before)."""
    note: str = ""
    """What the step does or returns, shown on diagrams."""


SESSION_EDGES: tuple[AbstractEdge, ...] = (
    AbstractEdge("RegisterAgent", ABSENT, CLEAN, (), "creates the entry"),
    AbstractEdge("TurnCompleted", ABSENT, DIRTY, ("not_ephemeral", "agent_known")),
    AbstractEdge("TurnCompleted", ABSENT, ORPHANED, ("not_ephemeral", "no_agent_known")),
    AbstractEdge("TurnCompleted", CLEAN, DIRTY, ("not_ephemeral", "agent_known")),
    AbstractEdge("TurnCompleted", CLEAN, ORPHANED, ("not_ephemeral", "no_agent_known")),
    AbstractEdge("Discard", CLEAN, ABSENT, (), "DISCARDED"),
    AbstractEdge("UnregisterAgent", DIRTY, ORPHANED, ("first_segment_ownerless",)),
    AbstractEdge(
        "CommitRequested", DIRTY, COMMITTING, ("starts_call", "captures_all"), "CallProvider"
    ),
    AbstractEdge(
        "CommitRequested",
        DIRTY,
        COMMITTING_DIRTY,
        ("starts_call", "leaves_later_work"),
        "CallProvider",
    ),
    AbstractEdge("DrainNext", DIRTY, COMMITTING, ("drain_takes", "captures_all"), "CallProvider"),
    AbstractEdge(
        "DrainNext", DIRTY, COMMITTING_DIRTY, ("drain_takes", "leaves_later_work"), "CallProvider"
    ),
    AbstractEdge("RegisterAgent", ORPHANED, DIRTY, ("agent_given",)),
    AbstractEdge("TurnCompleted", ORPHANED, DIRTY, ("not_ephemeral", "agent_known")),
    AbstractEdge(
        "CommitRequested", ORPHANED, COMMITTING, ("starts_call", "captures_all"), "adopts"
    ),
    AbstractEdge(
        "CommitRequested",
        ORPHANED,
        COMMITTING_DIRTY,
        ("starts_call", "leaves_later_work"),
        "adopts",
    ),
    AbstractEdge("TurnCompleted", COMMITTING, COMMITTING_DIRTY, ("not_ephemeral",)),
    AbstractEdge("CommitSucceeded", COMMITTING, CLEAN, ("running_call",), "COMMITTED"),
    AbstractEdge("CommitFailed", COMMITTING, DIRTY, ("running_call",), "FAILED"),
    AbstractEdge(
        "CommitSucceeded",
        COMMITTING_DIRTY,
        DIRTY,
        ("running_call", "rest_agent_known"),
        "COMMITTED",
    ),
    AbstractEdge(
        "CommitSucceeded",
        COMMITTING_DIRTY,
        ORPHANED,
        ("running_call", "rest_no_agent_known"),
        "COMMITTED",
    ),
    AbstractEdge("CommitFailed", COMMITTING_DIRTY, DIRTY, ("running_call",), "FAILED"),
    AbstractEdge("Reset", ANY_STATE, ABSENT, (), "forgets everything"),
)
"""The session machine. Stay-put steps have no row (see the module docstring)."""

PROCESS_EDGES: tuple[AbstractEdge, ...] = (
    AbstractEdge("BackgroundCommitRequested", RUNNING, RUNNING, (), "ADMITTED"),
    AbstractEdge("BackgroundCommitEnded", RUNNING, RUNNING, (), "uncounted"),
    AbstractEdge("DrainStarted", RUNNING, DRAINING, (), "queues the dirty sessions"),
    AbstractEdge("BackgroundCommitRequested", DRAINING, DRAINING, (), "REFUSED_DRAINING"),
    AbstractEdge("BackgroundCommitEnded", DRAINING, DRAINING, (), "uncounted"),
    AbstractEdge("DrainNext", DRAINING, DRAINING, (), "a worker takes a queued session"),
    AbstractEdge("DrainPoll", DRAINING, DRAINING, (), "WAIT until done or the deadline"),
    AbstractEdge("DrainStarted", DRAINING, DRAINING, (), "BUSY: joins, sooner deadline"),
    AbstractEdge("DrainFinished", DRAINING, DRAINED),
    AbstractEdge("BackgroundCommitRequested", DRAINED, DRAINED, (), "ADMITTED"),
    AbstractEdge("BackgroundCommitEnded", DRAINED, DRAINED, (), "uncounted"),
    AbstractEdge("DrainStarted", DRAINED, DRAINING, (), "queues the dirty sessions"),
    AbstractEdge("Reset", ANY_STATE, RUNNING, (), "forgets everything"),
)
"""The process machine, self-loops drawn."""


# --- guards: named predicates over (session before, event, shutdown before) -----------

Guard = Callable[[Session | None, Event, Shutdown], bool]


def _not_ephemeral(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The turn is not ephemeral, so it completes a generation."""
    return isinstance(event, TurnCompleted) and not event.ephemeral


def _turn_agent_known(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The turn names an agent, or the session has one registered."""
    if not isinstance(event, TurnCompleted):
        return False
    return event.agent is not None or (session is not None and session.registered is not None)


def _no_agent_known(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The turn names no agent and the session has none registered."""
    return isinstance(event, TurnCompleted) and not _turn_agent_known(session, event, shutdown)


def _agent_given(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The event carries an agent (a registration)."""
    return isinstance(event, RegisterAgent) and event.agent is not None


def _first_segment_ownerless(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The earliest dirty segment has no owner."""
    return session is not None and bool(session.segments) and session.segments[0].owner is None


def _paid_follow_up(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A follow-up commit whose debt is already paid (or was dropped)."""
    return (
        isinstance(event, CommitRequested)
        and event.follow_up
        and session is not None
        and session.follow_up_through <= session.committed
    )


def _has_adopter(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """An agent can make the call for the first dirty segment (see ``adopter``)."""
    return session is not None and session.dirty and adopter(session, event) is not None


def _starts_call(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The commit finds dirty work to do and an agent to call: not a paid follow-up."""
    return _has_adopter(session, event, shutdown) and not _paid_follow_up(session, event, shutdown)


def _no_call_possible(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The commit finds dirty work but no agent to call, and is not a paid follow-up."""
    return not _has_adopter(session, event, shutdown) and not _paid_follow_up(
        session, event, shutdown
    )


def _captures_all(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A commit would capture all dirty work: one segment, or an ownerless run
    followed only by the adopter's own turns (adoption merges the two)."""
    if session is None or not session.segments:
        return False
    segments = session.segments
    if len(segments) == 1:
        return True
    if len(segments) == 2 and segments[0].owner is None:
        agent = adopter(session, event)
        return agent is not None and segments[1].owner is agent
    return False


def _leaves_later_work(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A commit would leave dirty work beyond what it captures."""
    return (
        session is not None
        and bool(session.segments)
        and not _captures_all(session, event, shutdown)
    )


def _running_call(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The event reports the end of the provider call the session records in flight."""
    if session is None or session.in_flight is None:
        return False
    if not isinstance(event, CommitSucceeded | CommitFailed):
        return False
    return session.in_flight.call_id == event.call_id


def _not_running_call(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The event reports the end of a call the session does not record as running."""
    return not _running_call(session, event, shutdown)


def _rest(session: Session) -> list[Any]:
    assert session.in_flight is not None
    captured = session.in_flight.captured_generation
    return [segment for segment in session.segments if segment.end > captured]


def _rest_agent_known(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """After the captured end, the next dirty segment's agent can be resolved."""
    if session is None or session.in_flight is None:
        return False
    rest = _rest(session)
    return bool(rest) and (rest[0].owner is not None or session.registered is not None)


def _rest_no_agent_known(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """After the captured end, the next dirty segment has no resolvable agent."""
    if session is None or session.in_flight is None:
        return False
    return bool(_rest(session)) and not _rest_agent_known(session, event, shutdown)


def _waits(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A commit that asks to wait and may: not a follow-up, not from inside a call."""
    return (
        isinstance(event, CommitRequested)
        and event.wait
        and not event.in_call
        and not event.follow_up
    )


def _does_not_wait(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A commit that did not ask to wait, from outside any call, not a follow-up."""
    return (
        isinstance(event, CommitRequested)
        and not event.wait
        and not event.in_call
        and not event.follow_up
    )


def _from_call(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A commit requested from inside a provider call (not a follow-up): it never waits."""
    return isinstance(event, CommitRequested) and event.in_call and not event.follow_up


def _is_follow_up(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A follow-up commit run by the lifecycle."""
    return isinstance(event, CommitRequested) and event.follow_up


def _wait_time_left(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The waiting commit's deadline has not passed (or it has none)."""
    if not isinstance(event, CommitRequested):
        return False
    return event.deadline is None or event.now < event.deadline


def _wait_expired(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The waiting commit's deadline has passed."""
    return isinstance(event, CommitRequested) and not _wait_time_left(session, event, shutdown)


def _draining(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The shutdown drain is running."""
    return shutdown.phase == DRAINING_PHASE


def _not_draining(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """No shutdown drain is running."""
    return shutdown.phase != DRAINING_PHASE


def _drain_time_left(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The clock reading is before the drain's deadline."""
    return isinstance(event, DrainNext | DrainPoll) and event.now < shutdown.deadline


def _drain_deadline_passed(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The clock reading is at or after the drain's deadline."""
    return isinstance(event, DrainNext | DrainPoll) and event.now >= shutdown.deadline


def _drain_wanted(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The drain must commit this session (``committable``)."""
    return committable(session)


def _not_drain_wanted(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The drain has nothing to commit for this session now."""
    return not committable(session)


def _drain_takes(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A drain worker starts this session's call: draining, time left, wanted."""
    return (
        _draining(session, event, shutdown)
        and _drain_time_left(session, event, shutdown)
        and committable(session)
    )


def _worker_poll(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """A drain worker asks (for it the drain ends only when its time is up or it returned)."""
    return isinstance(event, DrainPoll) and event.worker


def _caller_poll(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """The drain's caller asks whether it may return."""
    return isinstance(event, DrainPoll) and not event.worker


def _drain_nothing_left(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """Nothing is queued, and no call the drain waits for is in flight."""
    return shutdown.queued == 0 and (shutdown.calls == 0 or not shutdown.waits_for_calls)


def _drain_work_left(session: Session | None, event: Event, shutdown: Shutdown) -> bool:
    """Something is queued, or a call the drain waits for is in flight."""
    return not _drain_nothing_left(session, event, shutdown)


GUARDS: dict[str, Guard] = {
    "not_ephemeral": _not_ephemeral,
    "agent_known": _turn_agent_known,
    "no_agent_known": _no_agent_known,
    "agent_given": _agent_given,
    "first_segment_ownerless": _first_segment_ownerless,
    "paid_follow_up": _paid_follow_up,
    "starts_call": _starts_call,
    "no_call_possible": _no_call_possible,
    "captures_all": _captures_all,
    "leaves_later_work": _leaves_later_work,
    "running_call": _running_call,
    "not_running_call": _not_running_call,
    "rest_agent_known": _rest_agent_known,
    "rest_no_agent_known": _rest_no_agent_known,
    "waits": _waits,
    "does_not_wait": _does_not_wait,
    "from_call": _from_call,
    "is_follow_up": _is_follow_up,
    "wait_time_left": _wait_time_left,
    "wait_expired": _wait_expired,
    "draining": _draining,
    "not_draining": _not_draining,
    "drain_time_left": _drain_time_left,
    "drain_deadline_passed": _drain_deadline_passed,
    "drain_wanted": _drain_wanted,
    "not_drain_wanted": _not_drain_wanted,
    "drain_takes": _drain_takes,
    "drain_nothing_left": _drain_nothing_left,
    "worker_poll": _worker_poll,
    "caller_poll": _caller_poll,
    "drain_work_left": _drain_work_left,
}
"""Every guard name an edge or result row may use, and its predicate."""

SESSION_GUARDS = GUARDS
"""The guards of the session machine (one namespace serves both machines)."""


# --- results -----------------------------------------------------------------------


class ResultRule(NamedTuple):
    """One row of a result table: what ``trigger`` may return in ``sources``."""

    trigger: str
    sources: tuple[str, ...]
    """Abstract states the row applies in (``(ANY_STATE,)``: all)."""
    guards: tuple[str, ...]
    """Guards that must all hold on (session before, event, shutdown before)."""
    results: tuple[str, ...]
    """Allowed results: ``Outcome`` names, or ``GENERATION``."""
    property_id: str
    """The property whose statement this row makes exact."""


_ANY = (ANY_STATE,)
_IN_FLIGHT = (COMMITTING, COMMITTING_DIRTY)
_IDLE_DIRTY = (DIRTY, ORPHANED)

SESSION_RESULTS: tuple[ResultRule, ...] = (
    ResultRule("RegisterAgent", _ANY, (), ("DONE",), "S4"),
    ResultRule("UnregisterAgent", _ANY, (), ("DONE",), "S4"),
    ResultRule("TurnCompleted", _ANY, (), (GENERATION,), "S1"),
    ResultRule("CommitRequested", (ABSENT,), (), ("NOT_FOUND",), "S9"),
    ResultRule("CommitRequested", (CLEAN,), (), ("NOTHING_TO_COMMIT",), "S9"),
    ResultRule("CommitRequested", _IDLE_DIRTY, ("paid_follow_up",), ("NOTHING_TO_COMMIT",), "S1"),
    ResultRule("CommitRequested", _IDLE_DIRTY, ("starts_call",), ("STARTED",), "S4"),
    ResultRule("CommitRequested", _IDLE_DIRTY, ("no_call_possible",), ("NO_AGENT",), "S4"),
    ResultRule("CommitRequested", _IN_FLIGHT, ("is_follow_up",), ("BUSY",), "S5"),
    ResultRule("CommitRequested", _IN_FLIGHT, ("does_not_wait",), ("BUSY",), "S5"),
    ResultRule("CommitRequested", _IN_FLIGHT, ("from_call",), ("BUSY",), "L3"),
    ResultRule("CommitRequested", _IN_FLIGHT, ("waits", "wait_time_left"), ("WAIT",), "L3"),
    ResultRule("CommitRequested", _IN_FLIGHT, ("waits", "wait_expired"), ("TIMED_OUT",), "L3"),
    ResultRule("CommitSucceeded", _IN_FLIGHT, ("running_call",), ("COMMITTED",), "S2"),
    ResultRule("CommitSucceeded", _ANY, ("not_running_call",), ("STALE",), "S5"),
    ResultRule("CommitFailed", _IN_FLIGHT, ("running_call",), ("FAILED",), "S3"),
    ResultRule("CommitFailed", _ANY, ("not_running_call",), ("STALE",), "S5"),
    ResultRule("Discard", (ABSENT,), (), ("ALREADY_ABSENT",), "S8"),
    ResultRule("Discard", (CLEAN,), (), ("DISCARDED",), "L4"),
    ResultRule("Discard", _IDLE_DIRTY, (), ("KEPT_DIRTY",), "S8"),
    ResultRule("Discard", _IN_FLIGHT, (), ("KEPT_IN_FLIGHT",), "S8"),
    ResultRule("EntryEdited", _ANY, (), ("DONE",), "S7"),
    ResultRule("DrainNext", _ANY, ("not_draining",), ("FINISHED",), "L2"),
    ResultRule("DrainNext", _ANY, ("draining", "drain_deadline_passed"), ("TIMED_OUT",), "L2"),
    ResultRule("DrainNext", (DIRTY,), ("drain_takes",), ("STARTED",), "L2"),
    ResultRule(
        "DrainNext", _ANY, ("draining", "drain_time_left", "not_drain_wanted"), ("SKIPPED",), "L2"
    ),
)
"""What each session event may return in each abstract session state."""

PROCESS_RESULTS: tuple[ResultRule, ...] = (
    ResultRule("BackgroundCommitRequested", (RUNNING, DRAINED), (), ("ADMITTED",), "L2"),
    ResultRule("BackgroundCommitRequested", (DRAINING,), (), ("REFUSED_DRAINING",), "L2"),
    ResultRule("BackgroundCommitEnded", _ANY, (), ("DONE",), "L2"),
    ResultRule("DrainStarted", (RUNNING, DRAINED), (), ("STARTED",), "L2"),
    ResultRule("DrainStarted", (DRAINING,), (), ("BUSY",), "L2"),
    ResultRule("DrainPoll", (RUNNING, DRAINED), (), ("FINISHED",), "L2"),
    ResultRule("DrainPoll", (DRAINING,), ("drain_deadline_passed",), ("TIMED_OUT",), "L2"),
    ResultRule(
        "DrainPoll",
        (DRAINING,),
        ("drain_time_left", "drain_nothing_left", "caller_poll"),
        ("FINISHED",),
        "L2",
    ),
    ResultRule(
        "DrainPoll",
        (DRAINING,),
        ("drain_time_left", "drain_nothing_left", "worker_poll"),
        ("WAIT",),
        "L2",
    ),
    ResultRule("DrainPoll", (DRAINING,), ("drain_time_left", "drain_work_left"), ("WAIT",), "L2"),
    ResultRule("DrainFinished", _ANY, (), ("DONE",), "L2"),
    ResultRule("Reset", _ANY, (), ("DONE",), "S8"),
)
"""What each process event may return in each abstract process state."""

SESSION_RESULT_TRIGGERS: frozenset[str] = frozenset(rule.trigger for rule in SESSION_RESULTS)
"""Triggers whose results depend on one session (``DrainNext`` among them)."""


def result_token(result: Result) -> str:
    """The token a result table uses for ``result``."""
    return result.name if isinstance(result, Outcome) else GENERATION


class ResultVerdict(NamedTuple):
    """A result a step returned that its table does not allow."""

    property_id: str
    message: str


def _index(rows: Sequence[ResultRule]) -> dict[str, list[ResultRule]]:
    index: dict[str, list[ResultRule]] = {}
    for row in rows:
        missing = [name for name in row.guards if name not in GUARDS]
        if missing:
            raise ValueError(f"result row {row} names unknown guards {missing}")
        index.setdefault(row.trigger, []).append(row)
    return index


class ResultTable:
    """The allowed results of a session and a process table, looked up by step."""

    def __init__(
        self,
        session_rows: Sequence[ResultRule] = SESSION_RESULTS,
        process_rows: Sequence[ResultRule] = PROCESS_RESULTS,
    ) -> None:
        self.session_rows = _index(session_rows)
        self.process_rows = _index(process_rows)

    def allowed(
        self, session: Session | None, event: Event, shutdown: Shutdown
    ) -> tuple[set[str], list[ResultRule]]:
        """The results ``event`` may return, and the rows that say so."""
        trigger = type(event).__name__
        if trigger in self.session_rows:
            rows, state = self.session_rows[trigger], session_state(session)
        else:
            rows, state = self.process_rows.get(trigger, []), process_state(shutdown)
        matching = [
            row
            for row in rows
            if (ANY_STATE in row.sources or state in row.sources)
            and all(GUARDS[name](session, event, shutdown) for name in row.guards)
        ]
        allowed = {token for row in matching for token in row.results}
        return allowed, matching

    def judge(
        self,
        session: Session | None,
        event: Event,
        shutdown: Shutdown,
        result: Result,
        after: Session | None,
    ) -> ResultVerdict | None:
        """Why ``result`` is not allowed for ``event`` (None when it is).

        ``session`` and ``after`` are the event's session before and after it
        (None for process events or no entry).
        """
        trigger = type(event).__name__
        allowed, matching = self.allowed(session, event, shutdown)
        token = result_token(result)
        in_session = trigger in self.session_rows
        state = session_state(session) if in_session else process_state(shutdown)
        if not matching:
            owners = self.session_rows.get(trigger) or self.process_rows.get(trigger) or []
            property_id = owners[0].property_id if owners else "S6"
            return ResultVerdict(
                property_id,
                f"no result is declared for {trigger} in {state} (the step returned {token})",
            )
        if token not in allowed:
            return ResultVerdict(
                matching[0].property_id,
                f"{trigger} in {state} returned {token}; allowed: {', '.join(sorted(allowed))}",
            )
        if token == GENERATION:
            expected = 0 if after is None else after.generation
            if result != expected:
                return ResultVerdict(
                    matching[0].property_id,
                    f"{trigger} returned generation {result}, but the session's generation "
                    f"is {expected}",
                )
        return None


# --- executable machines -----------------------------------------------------


class _Cursor:
    """The model a machine is bound to (it only holds the state)."""

    state: str


class AbstractMachine:
    """A ``transitions`` machine built from a table, queried with concrete data.

    Queries never fire the machine: they ask it for the transitions of a
    trigger from a state and evaluate their conditions, so nothing is logged.
    """

    def __init__(
        self,
        states: Sequence[str],
        edges: Sequence[AbstractEdge],
        guards: dict[str, Guard] | None = None,
    ) -> None:
        known = GUARDS if guards is None else guards
        for edge in edges:
            missing = [name for name in edge.guards if name not in known]
            if missing:
                raise ValueError(
                    f"edge {edge.source} --{edge.trigger}--> {edge.dest} names unknown "
                    f"guards {missing}; define them in the guard table"
                )
        self.states = tuple(states)
        self.edges = tuple(edges)
        self._cursor = _Cursor()
        rows: list[dict[str, Any]] = [
            {
                "trigger": edge.trigger,
                "source": edge.source,
                "dest": edge.dest,
                "conditions": [known[name] for name in edge.guards],
            }
            for edge in edges
        ]
        self.machine = Machine(
            model=self._cursor,
            states=list(states),
            transitions=rows,
            initial=states[0],
            auto_transitions=False,
            ignore_invalid_triggers=True,
        )

    def fire(self, source: str, trigger: str, *data: object) -> str:
        """The state the machine reaches from ``source`` on ``trigger`` with ``data``.

        The first row whose guards all hold is taken; with none, the state stays.
        """
        transitions = self.machine.get_transitions(trigger, source=source)
        if not transitions:
            return source
        event_data = EventData(
            self.machine.get_state(source),
            MachineEvent(trigger, self.machine),
            self.machine,
            self._cursor,
            args=data,
            kwargs={},
        )
        for transition in transitions:
            if all(condition.check(event_data) for condition in transition.conditions):
                return str(transition.dest)
        return source


def build_session_machine(edges: Sequence[AbstractEdge] = SESSION_EDGES) -> AbstractMachine:
    """The executable session machine (guards get ``(session, event, shutdown)``)."""
    return AbstractMachine(SESSION_STATES, edges, GUARDS)


def build_process_machine(edges: Sequence[AbstractEdge] = PROCESS_EDGES) -> AbstractMachine:
    """The executable process machine (guards get ``(None, event, shutdown)``)."""
    return AbstractMachine(PROCESS_STATES, edges, GUARDS)
