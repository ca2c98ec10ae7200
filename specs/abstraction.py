"""The abstraction function from model states to abstract states, and the refinement check.

``session_state`` maps every concrete ``Session | None`` to one state of the
session machine; ``process_state`` maps a ``Process`` to one state of the
process machine. ``check_refinement`` takes concrete steps (the model
checker's reachable graph) and reports every step whose abstract image is not
what the declared machines allow; ``refinement_property`` is the same check
as a property the model checker streams every transition through.

A session's abstract state depends on that session alone: the process
flags (draining, drained) change what a step does to follow-ups, never which
abstract state a session is in.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import NamedTuple, Protocol

from memory_lifecycle import model
from memory_lifecycle.model import SESSION_EVENT_TYPES, Event, Process, Session, Step

from .machine import (
    ABSENT,
    ANY_STATE,
    CLEAN,
    COMMITTING,
    COMMITTING_DIRTY,
    DIRTY,
    DRAINED,
    DRAINING,
    ORPHANED,
    PROCESS_EDGES,
    RUNNING,
    SESSION_EDGES,
    AbstractEdge,
    AbstractMachine,
    build_process_machine,
    build_session_machine,
)
from .properties import Property, StepFn


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
    commit adopts it for that agent.
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


def process_state(process: Process) -> str:
    """The abstract state of the process.

    ``DRAINED`` once a drain finished, else ``DRAINING`` once one started,
    else ``RUNNING``. Sessions do not enter into it. ``step`` would also
    accept ``DrainFinished`` before any ``DrainStarted``; neither the shell nor
    the checker's world sends that, so the machine declares no such edge and
    the refinement check would report it.
    """
    if process.drained:
        return DRAINED
    if process.draining:
        return DRAINING
    return RUNNING


# --- refinement -------------------------------------------------------------------


class ConcreteStep(Protocol):
    """One edge of the reachable graph: ``event`` applied to ``before``."""

    @property
    def before(self) -> Process: ...
    @property
    def event(self) -> Event: ...


class RefinementViolation(NamedTuple):
    """A concrete step whose abstract image the machines do not allow."""

    subject: str
    """``"process"`` or ``"session <id>"``."""
    trigger: str
    source: str
    dest: str
    """The abstract state the model actually reached."""
    predicted: str
    """The abstract state the declared machine reaches on the same data."""
    reason: str
    before: Process
    event: Event
    after: Process

    def format(self) -> str:
        """The violation and the concrete step that took it, as text."""
        names = _AgentNames()
        return "\n".join(
            [
                f"{self.subject}: {self.reason}",
                f"  abstract: {self.source} --{self.trigger}--> {self.dest}"
                f" (the declared machine goes to {self.predicted})",
                f"  before:   {describe_process(self.before, names)}",
                f"  event:    {describe_event(self.event, names)}",
                f"  after:    {describe_process(self.after, names)}",
            ]
        )


class RefinementChecker:
    """Decides whether concrete steps refine the declared machines.

    A step is allowed when, for the process and for every session, the
    abstract state either stays the same or moves along a declared edge with
    the event's trigger; and the declared machine, fired from the abstract
    source with the concrete data (so its guards decide), reaches the same
    state. A session event may only move its own session (S6).
    """

    def __init__(
        self,
        session_edges: Iterable[AbstractEdge] = SESSION_EDGES,
        process_edges: Iterable[AbstractEdge] = PROCESS_EDGES,
    ) -> None:
        self.session_machine = build_session_machine(tuple(session_edges))
        self.process_machine = build_process_machine(tuple(process_edges))
        self._declared_sessions = _declared(self.session_machine)
        self._declared_process = _declared(self.process_machine)
        self._session_verdicts: dict[Hashable, tuple[str, str, str, str] | None] = {}
        self.taken: set[tuple[str, str, str, str]] = set()
        """``(machine, trigger, source, dest)`` of every abstract move seen so far."""

    def check(self, before: Process, event: Event, after: Process) -> RefinementViolation | None:
        """The first thing wrong with ``before --event--> after``, or None."""
        trigger = type(event).__name__
        source, dest = process_state(before), process_state(after)
        predicted = self.process_machine.fire(source, trigger, before, event)
        found = _judge("process", trigger, source, dest, predicted, self._declared_process)
        if found is not None:
            return _violation("process", trigger, found, before, event, after)
        if source != dest:
            self.taken.add(("process", trigger, source, dest))
        target = getattr(event, "session_id", None) if type(event) in SESSION_EVENT_TYPES else None
        ids = {key for key, _ in before.sessions} | {key for key, _ in after.sessions}
        for session_id in sorted(ids, key=repr):
            session_before = before.session(session_id)
            session_after = after.session(session_id)
            if target is not None and session_id != target:
                source, dest = session_state(session_before), session_state(session_after)
                if source != dest:
                    reason = f"an event for session {target!r} changed this session"
                    found = (source, dest, source, reason)
                    return _violation(
                        f"session {session_id!r}", trigger, found, before, event, after
                    )
                continue
            found = self._check_session(session_before, event, session_after)
            if found is not None:
                subject = f"session {session_id!r}"
                return _violation(subject, trigger, found, before, event, after)
        return None

    def _check_session(
        self, before: Session | None, event: Event, after: Session | None
    ) -> tuple[str, str, str, str] | None:
        key = (before, event, after)
        if key in self._session_verdicts:
            return self._session_verdicts[key]
        trigger = type(event).__name__
        source, dest = session_state(before), session_state(after)
        predicted = self.session_machine.fire(source, trigger, before, event)
        verdict = _judge("session", trigger, source, dest, predicted, self._declared_sessions)
        self._session_verdicts[key] = verdict
        if verdict is None and source != dest:
            self.taken.add(("session", trigger, source, dest))
        return verdict


class RefinementReport(NamedTuple):
    """What ``check_refinement`` found."""

    violations: list[RefinementViolation]
    """Steps the machines do not allow, one per distinct cause."""
    untaken: list[tuple[str, AbstractEdge]]
    """``(machine, edge)`` of declared moves no step took (wildcard rows excluded)."""


def check_refinement(
    steps: Iterable[ConcreteStep],
    step_fn: StepFn = model.step,
    session_edges: Iterable[AbstractEdge] = SESSION_EDGES,
    process_edges: Iterable[AbstractEdge] = PROCESS_EDGES,
) -> RefinementReport:
    """Check every step of ``steps`` against the machines; list declared moves never taken.

    Each step's successor is recomputed as ``step_fn(before, event)``: the
    model checker stores successors renamed into canonical form, which would
    mix up session identities. Pass the ``step_fn`` that built the graph.
    """
    checker = RefinementChecker(session_edges, process_edges)
    violations: list[RefinementViolation] = []
    causes: set[tuple[str, str, str, str, str]] = set()
    for item in steps:
        after = step_fn(item.before, item.event).state
        found = checker.check(item.before, item.event, after)
        if found is None:
            continue
        cause = (found.reason, found.trigger, found.source, found.dest, found.predicted)
        if cause not in causes:
            causes.add(cause)
            violations.append(found)
    untaken = [
        (kind, edge)
        for kind, machine in (
            ("session", checker.session_machine),
            ("process", checker.process_machine),
        )
        for edge in machine.edges
        if edge.source != ANY_STATE
        and edge.source != edge.dest
        and (kind, edge.trigger, edge.source, edge.dest) not in checker.taken
    ]
    return RefinementReport(violations, untaken)


REFINEMENT_ID = "REFINES"
"""Property id under which the model checker reports refinement failures."""


def refinement_property(
    session_edges: Iterable[AbstractEdge] = SESSION_EDGES,
    process_edges: Iterable[AbstractEdge] = PROCESS_EDGES,
) -> Property:
    """The refinement check as a transition property for ``checker.explore``.

    The explorer then streams every transition through it (no graph kept in
    memory) and reports the shortest trace to the first failing step.
    """
    checker = RefinementChecker(session_edges, process_edges)

    def refines(before: Process, event: Event, step: Step) -> str | None:
        """Every step moves each abstract state along a declared edge or leaves it."""
        found = checker.check(before, event, step.state)
        return None if found is None else found.format()

    return Property(
        REFINEMENT_ID,
        "refines the abstract machines",
        "every step of the model is a declared edge of the session and process "
        "machines, or leaves their states unchanged",
        on_transition=refines,
    )


def _declared(machine: AbstractMachine) -> set[tuple[str, str, str]]:
    """The ``(trigger, source, dest)`` triples a machine declares, wildcards expanded."""
    triples = set()
    for edge in machine.edges:
        sources = machine.states if edge.source == ANY_STATE else (edge.source,)
        for source in sources:
            triples.add((edge.trigger, source, edge.dest))
    return triples


def _judge(
    kind: str,
    trigger: str,
    source: str,
    dest: str,
    predicted: str,
    declared: set[tuple[str, str, str]],
) -> tuple[str, str, str, str] | None:
    """``(source, dest, predicted, reason)`` when this abstract step is not allowed."""
    if source != dest and (trigger, source, dest) not in declared:
        return (source, dest, predicted, f"undeclared {kind} edge")
    if predicted != dest:
        if source == dest:
            reason = f"the {kind} machine's guards take an edge but the model stays put"
        else:
            reason = f"the {kind} machine's guards disagree with the model"
        return (source, dest, predicted, reason)
    return None


def _violation(
    subject: str,
    trigger: str,
    found: tuple[str, str, str, str],
    before: Process,
    event: Event,
    after: Process,
) -> RefinementViolation:
    source, dest, predicted, reason = found
    return RefinementViolation(
        subject, trigger, source, dest, predicted, reason, before, event, after
    )


# --- readable concrete states -------------------------------------------------------


class _AgentNames:
    """Short, stable names for opaque agent handles, by order of first appearance."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}

    def __call__(self, agent: object) -> str:
        if agent is None:
            return "-"
        for attribute in ("name", "label"):
            value = getattr(agent, attribute, None)
            if isinstance(value, str):
                return value
        key = id(agent)
        if key not in self._names:
            self._names[key] = f"agent{len(self._names) + 1}"
        return self._names[key]


def describe_session(session: Session | None, names: _AgentNames | None = None) -> str:
    """One session on one line: counters, owner segments, registration, call in flight."""
    if session is None:
        return "absent"
    name = names or _AgentNames()
    segments = " ".join(
        f"{segment.start}..{segment.end}:{name(segment.owner)}" for segment in session.segments
    )
    parts = [
        f"gen={session.generation} committed={session.committed}",
        f"registered={name(session.registered)}",
        f"segments=[{segments}]",
    ]
    if session.in_flight is not None:
        flight = session.in_flight
        follow = " follow-up" if flight.follow_up else ""
        parts.append(f"in_flight={name(flight.agent)}@{flight.captured_generation}{follow}")
    if session.follow_up_through:
        parts.append(f"owed={session.follow_up_through}")
    return " ".join(parts)


def describe_process(process: Process, names: _AgentNames | None = None) -> str:
    """The process on one line: flags, then each session."""
    name = names or _AgentNames()
    flags = process_state(process)
    sessions = "; ".join(
        f"{session_id!r}: {describe_session(session, name)}"
        for session_id, session in process.sessions
    )
    return f"{flags} {{{sessions}}}"


def describe_event(event: Event, names: _AgentNames | None = None) -> str:
    """An event with agents named readably."""
    name = names or _AgentNames()
    fields = []
    for field, value in zip(event._fields, event, strict=True):
        if field == "agent":
            fields.append(f"agent={name(value)}")
        else:
            fields.append(f"{field}={value!r}")
    return f"{type(event).__name__}({', '.join(fields)})"
