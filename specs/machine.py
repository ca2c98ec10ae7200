"""The abstract machines that ``model.step`` refines, declared once as data.

Two machines: one per session (``SESSION_STATES``) and one for the process
(``PROCESS_STATES``). Their transition tables, ``SESSION_EDGES`` and
``PROCESS_EDGES``, are plain tuples of ``AbstractEdge``; the ``transitions``
library builds the executable machines from them (``build_session_machine``,
``build_process_machine``), and the
diagram renderers draw the same rows. Triggers are the model's event class
names; guards are named predicates over the concrete session before the
event and the event itself (``SESSION_GUARDS``), so a guarded edge says on
which data it is taken.

A trigger with no row for a state, or whose rows' guards all fail, leaves the
state unchanged (the machine ignores it): BUSY, NOTHING_TO_COMMIT, NO_AGENT,
KEPT_DIRTY, KEPT_IN_FLIGHT, STALE, ``WaitExpired`` and ephemeral turns are all
such stay-put steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from memory_lifecycle.model import (
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Event,
    RegisterAgent,
    Session,
    TurnCompleted,
)
from transitions import Machine

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
"""One line per session state, for legends (``abstraction.session_state`` is exact)."""

RUNNING = "RUNNING"
DRAINING = "DRAINING"
DRAINED = "DRAINED"
PROCESS_STATES: tuple[str, ...] = (RUNNING, DRAINING, DRAINED)
"""Abstract states of the process; ``RUNNING`` is initial."""

PROCESS_STATE_MEANINGS: dict[str, str] = {
    RUNNING: "background commits admitted",
    DRAINING: "shutdown drain running, background commits refused",
    DRAINED: "shutdown drain returned",
}
"""One line per process state, for legends."""

ANY_STATE = "*"
"""``AbstractEdge.source`` meaning every state of the machine."""


class AbstractEdge(NamedTuple):
    """One row of a transition table."""

    trigger: str
    """The model event class name that takes this edge."""
    source: str
    """The state it leaves, or ``ANY_STATE``."""
    dest: str
    """The state it enters (equal to ``source`` for a drawn self-loop)."""
    guards: tuple[str, ...] = ()
    """Names of guards that must all hold on (session before, event)."""
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
    AbstractEdge("CommitRequested", DIRTY, COMMITTING, ("captures_all",), "CallProvider"),
    AbstractEdge(
        "CommitRequested", DIRTY, COMMITTING_DIRTY, ("leaves_later_work",), "CallProvider"
    ),
    AbstractEdge("RegisterAgent", ORPHANED, DIRTY, ("agent_given",)),
    AbstractEdge("TurnCompleted", ORPHANED, DIRTY, ("not_ephemeral", "agent_known")),
    AbstractEdge(
        "CommitRequested", ORPHANED, COMMITTING, ("agent_given", "captures_all"), "adopts"
    ),
    AbstractEdge(
        "CommitRequested",
        ORPHANED,
        COMMITTING_DIRTY,
        ("agent_given", "leaves_later_work"),
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
    AbstractEdge("DrainStarted", RUNNING, DRAINING),
    AbstractEdge("BackgroundCommitRequested", DRAINING, DRAINING, (), "REFUSED_DRAINING"),
    AbstractEdge("DrainFinished", DRAINING, DRAINED),
    AbstractEdge("Reset", ANY_STATE, RUNNING, (), "forgets everything"),
)
"""The process machine."""


# --- guards: named predicates over (session before the event, the event) --------

Guard = Callable[[Session | None, Event], bool]


def _not_ephemeral(session: Session | None, event: Event) -> bool:
    """The turn is not ephemeral, so it completes a generation."""
    return isinstance(event, TurnCompleted) and not event.ephemeral


def _turn_agent_known(session: Session | None, event: Event) -> bool:
    """The turn names an agent, or the session has one registered."""
    if not isinstance(event, TurnCompleted):
        return False
    return event.agent is not None or (session is not None and session.registered is not None)


def _agent_given(session: Session | None, event: Event) -> bool:
    """The event carries an agent (a registration, or a commit's adopter)."""
    return isinstance(event, RegisterAgent | CommitRequested) and event.agent is not None


def _first_segment_ownerless(session: Session | None, event: Event) -> bool:
    """The earliest dirty segment has no owner."""
    return session is not None and bool(session.segments) and session.segments[0].owner is None


def _captures_all(session: Session | None, event: Event) -> bool:
    """A commit would capture all dirty work: one segment, or an ownerless run
    followed only by the adopter's own turns (adoption merges the two)."""
    if session is None or not session.segments:
        return False
    segments = session.segments
    if len(segments) == 1:
        return True
    if len(segments) == 2 and segments[0].owner is None:
        explicit = event.agent if isinstance(event, CommitRequested) else None
        adopter = explicit if explicit is not None else session.registered
        return adopter is not None and segments[1].owner is adopter
    return False


def _leaves_later_work(session: Session | None, event: Event) -> bool:
    """A commit would leave dirty work beyond what it captures."""
    return session is not None and bool(session.segments) and not _captures_all(session, event)


def _running_call(session: Session | None, event: Event) -> bool:
    """The event reports the provider call the session records in flight."""
    if session is None or session.in_flight is None:
        return False
    if not isinstance(event, CommitSucceeded | CommitFailed):
        return False
    running = session.in_flight
    return running.agent is event.agent and running.captured_generation == event.captured_generation


def _rest_agent_known(session: Session | None, event: Event) -> bool:
    """After the captured end, the next dirty segment's agent can be resolved."""
    if session is None or session.in_flight is None:
        return False
    captured = session.in_flight.captured_generation
    rest = [segment for segment in session.segments if segment.end > captured]
    if not rest:
        return False
    return rest[0].owner is not None or session.registered is not None


def _rest_no_agent_known(session: Session | None, event: Event) -> bool:
    """After the captured end, the next dirty segment has no resolvable agent."""
    if session is None or session.in_flight is None:
        return False
    captured = session.in_flight.captured_generation
    rest = [segment for segment in session.segments if segment.end > captured]
    return bool(rest) and not _rest_agent_known(session, event)


def _no_agent_known(session: Session | None, event: Event) -> bool:
    """The turn names no agent and the session has none registered."""
    return isinstance(event, TurnCompleted) and not _turn_agent_known(session, event)


SESSION_GUARDS: dict[str, Guard] = {
    "not_ephemeral": _not_ephemeral,
    "agent_known": _turn_agent_known,
    "no_agent_known": _no_agent_known,
    "agent_given": _agent_given,
    "first_segment_ownerless": _first_segment_ownerless,
    "captures_all": _captures_all,
    "leaves_later_work": _leaves_later_work,
    "running_call": _running_call,
    "rest_agent_known": _rest_agent_known,
    "rest_no_agent_known": _rest_no_agent_known,
}
"""Every guard name a session edge may use, and its predicate."""


# --- executable machines -----------------------------------------------------


class _Cursor:
    """The object whose ``state`` a machine moves (one per machine)."""

    state: str


class AbstractMachine:
    """A ``transitions`` machine built from a table, fired with concrete data."""

    def __init__(
        self,
        states: Sequence[str],
        edges: Sequence[AbstractEdge],
        guards: dict[str, Guard] | None = None,
    ) -> None:
        known = guards or {}
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
        self.machine.set_state(source, model=self._cursor)
        event = self.machine.events.get(trigger)
        if event is not None:
            event.trigger(self._cursor, *data)
        return self._cursor.state


def build_session_machine(edges: Sequence[AbstractEdge] = SESSION_EDGES) -> AbstractMachine:
    """The executable session machine (guards are called with ``(session, event)``)."""
    return AbstractMachine(SESSION_STATES, edges, SESSION_GUARDS)


def build_process_machine(edges: Sequence[AbstractEdge] = PROCESS_EDGES) -> AbstractMachine:
    """The executable process machine (its edges have no guards)."""
    return AbstractMachine(PROCESS_STATES, edges)
