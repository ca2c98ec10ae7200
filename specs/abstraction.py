"""The abstraction functions, the refinement check, and readable concrete states.

``session_state`` maps every concrete ``Session | None`` to one state of the
session machine; ``process_state`` maps a ``Process`` to one state of the
process machine (both are declared in ``specs/machine.py``, beside the
machines). ``check_refinement`` takes concrete steps (the model checker's
reachable graph) and reports every step whose abstract image is not what the
declared machines allow, or whose result the result tables do not allow;
``refinement_property`` is the same check as a property the model checker
streams every transition through.

A session's abstract state depends on that session alone: the shutdown record
changes what a step does (follow-ups, the drain's queue), never which abstract
state a session is in.

``EntryEdited``, the drop-in's test hook, writes whatever entry a test asks
for: the refinement lets it move its own session to any abstract state (it is
no edge of the lifecycle, so the machines draw none) and checks only that it
moves no other session. S7 checks the entries it writes (the model checker
probes it from every reachable state).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import NamedTuple, Protocol

from memory_lifecycle import model
from memory_lifecycle.model import Event, Process, Session, Shutdown, Step

from .machine import (
    ANY_STATE,
    PROCESS_EDGES,
    SESSION_EDGES,
    TEST_HOOKS,
    AbstractEdge,
    AbstractMachine,
    ResultTable,
    build_process_machine,
    build_session_machine,
    process_state,
    session_state,
)
from .properties import Property, StepFn

__all__ = [
    "REFINEMENT_ID",
    "ConcreteStep",
    "RefinementChecker",
    "RefinementReport",
    "RefinementViolation",
    "check_refinement",
    "describe_event",
    "describe_process",
    "describe_session",
    "describe_shutdown",
    "process_state",
    "refinement_property",
    "session_state",
]


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
    the event's trigger; the declared machine, fired from the abstract source
    with the concrete data (so its guards decide), reaches the same state; and
    the step's result is one the result tables allow. An event that names a
    session (session events, ``DrainNext``) may only move that session (S6);
    a test hook (``TEST_HOOKS``) may move its own session anywhere.
    """

    def __init__(
        self,
        session_edges: Iterable[AbstractEdge] = SESSION_EDGES,
        process_edges: Iterable[AbstractEdge] = PROCESS_EDGES,
        results: ResultTable | None = None,
    ) -> None:
        self.session_machine = build_session_machine(tuple(session_edges))
        self.process_machine = build_process_machine(tuple(process_edges))
        self.results = results or ResultTable()
        self._declared_sessions = _declared(self.session_machine)
        self._declared_process = _declared(self.process_machine)
        self._session_verdicts: dict[Hashable, tuple[str, str, str, str] | None] = {}
        self.taken: set[tuple[str, str, str, str]] = set()
        """``(machine, trigger, source, dest)`` of every abstract move seen so far."""

    def check(
        self, before: Process, event: Event, after: Process, result: model.Result | None = None
    ) -> RefinementViolation | None:
        """The first thing wrong with ``before --event--> after`` (returning ``result``,
        when given), or None."""
        trigger = type(event).__name__
        hook = trigger in TEST_HOOKS
        phase = source = process_state(before)
        dest = process_state(after)
        if not hook:
            predicted = self.process_machine.fire(source, trigger, None, event, before.shutdown)
            found = _judge("process", trigger, source, dest, predicted, self._declared_process)
            if found is not None:
                return _violation("process", trigger, found, before, event, after)
            if source != dest:
                self.taken.add(("process", trigger, source, dest))
        target = getattr(event, "session_id", None)
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
            if hook:
                continue
            found = self._check_session(session_before, event, session_after, before.shutdown)
            if found is not None:
                subject = f"session {session_id!r}"
                return _violation(subject, trigger, found, before, event, after)
        if result is not None:
            session_before = None if target is None else before.session(target)
            session_after = None if target is None else after.session(target)
            verdict = self.results.judge(
                session_before, event, before.shutdown, result, session_after
            )
            if verdict is not None:
                state = phase if target is None else session_state(session_before)
                subject = "process" if target is None else f"session {target!r}"
                found = (state, state, state, f"{verdict.property_id}: {verdict.message}")
                return _violation(subject, trigger, found, before, event, after)
        return None

    def _check_session(
        self, before: Session | None, event: Event, after: Session | None, shutdown: Shutdown
    ) -> tuple[str, str, str, str] | None:
        key = (before, event, after, shutdown)
        if key in self._session_verdicts:
            return self._session_verdicts[key]
        trigger = type(event).__name__
        source, dest = session_state(before), session_state(after)
        predicted = self.session_machine.fire(source, trigger, before, event, shutdown)
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
        step = step_fn(item.before, item.event)
        found = checker.check(item.before, item.event, step.state, step.result)
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
        """Every step moves each abstract state along a declared edge or leaves it,
        and returns a result the result tables allow."""
        found = checker.check(before, event, step.state, step.result)
        return None if found is None else found.format()

    return Property(
        REFINEMENT_ID,
        "refines the abstract machines",
        "every step of the model is a declared edge of the session and process "
        "machines, or leaves their states unchanged, with an allowed result",
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
        parts.append(
            f"in_flight={name(flight.agent)}@{flight.captured_generation}"
            f" call={flight.call_id}{follow}"
        )
    if session.follow_up_through:
        parts.append(f"owed={session.follow_up_through}")
    if session.drain_failures:
        parts.append(f"drain_failures={session.drain_failures}")
    return " ".join(parts)


def describe_shutdown(shutdown: Shutdown) -> str:
    """The shutdown record on one line: phase, then what else is set."""
    parts = [process_state(shutdown)]
    if shutdown.phase == model.DRAINING:
        parts.append(
            f"deadline={shutdown.deadline:g} queued={shutdown.queued} calls={shutdown.calls}"
        )
        if not shutdown.waits_for_calls:
            parts.append("waits for no call")
    if shutdown.background_commits:
        parts.append(f"background={shutdown.background_commits}")
    return " ".join(parts)


def describe_process(process: Process, names: _AgentNames | None = None) -> str:
    """The process on one line: the shutdown record, then each session."""
    name = names or _AgentNames()
    sessions = "; ".join(
        f"{session_id!r}: {describe_session(session, name)}"
        for session_id, session in process.sessions
    )
    return f"{describe_shutdown(process.shutdown)} {{{sessions}}}"


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
