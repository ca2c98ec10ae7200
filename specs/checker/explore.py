"""Breadth-first exploration of every reachable state of ``step`` in a bounded world.

States are stored once per class of renamings (see ``canonical``), every
property is checked on every new state and every transition, and each
violation comes with the shortest trace that reaches it (BFS parent pointers),
replayed on the original names so it reads as one consistent story.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Effect, Event, Process, Result, Step
from memory_lifecycle.specs.properties import ALL, Property, StepFn
from memory_lifecycle.specs.trace import Trace, TraceStep

from .canonical import Key, canonical, canonical_key, plain_key
from .render import actor_of, event_text, result_text, state_text
from .world import AGENTS, DEFAULT_BOUNDS, SESSION_IDS, Bounds, enabled_events


class Edge(NamedTuple):
    """One transition: ``event`` (named as in ``before``) leads to ``after``.

    ``before`` and ``after`` are canonical states; ``effects`` and ``result``
    are what ``step`` returned, named as in ``before``.
    """

    before: Process
    event: Event
    after: Process
    effects: tuple[Effect, ...]
    result: Result


@dataclass(frozen=True)
class ReachableGraph:
    """Every reachable canonical state of a bounded world, and every transition."""

    initial: Process
    states: list[Process]
    edges: list[Edge]


class Violation(NamedTuple):
    """A property that does not hold, with its shortest counterexample."""

    property_id: str
    message: str
    trace: Trace


class Progress(NamedTuple):
    """A progress report during exploration."""

    states: int
    transitions: int
    depth: int
    elapsed: float


@dataclass(frozen=True)
class CheckResult:
    """What an exploration found."""

    bounds: Bounds
    symmetry: bool
    states: int
    """Distinct (canonical) states."""
    transitions: int
    depth: int
    """Length of the longest shortest path from the initial state."""
    elapsed: float
    violations: tuple[Violation, ...] = field(default=())
    complete: bool = True
    """False when exploration stopped early (first violation or state limit)."""

    @property
    def ok(self) -> bool:
        """True when no property was violated."""
        return not self.violations

    @property
    def states_per_second(self) -> float:
        """Distinct states found per second."""
        return self.states / self.elapsed if self.elapsed > 0 else float("inf")

    def violation(self, property_id: str) -> Violation | None:
        """The violation of one property, if any."""
        for item in self.violations:
            if item.property_id == property_id:
                return item
        return None

    def summary(self) -> str:
        """One line: states, transitions, depth, time and rate."""
        return (
            f"{self.states:,} distinct states, {self.transitions:,} transitions, "
            f"depth {self.depth}, {self.elapsed:.2f} s, {self.states_per_second:,.0f} states/s"
        )


PROGRESS_EVERY = 50_000
"""States between two progress reports."""


class _Search:
    """The breadth-first search and its bookkeeping."""

    def __init__(
        self,
        bounds: Bounds,
        step_fn: StepFn,
        properties: Sequence[Property],
        symmetry: bool,
        progress: Callable[[Progress], None] | None,
    ) -> None:
        self.bounds = bounds
        self.step_fn = step_fn
        self.properties = properties
        self.symmetry = symmetry
        self.progress = progress
        self.index: dict[Key, int] = {}
        self.states: list[Process] = []
        self.parent: list[int] = []
        self.via: list[Event | None] = []
        self.depth: list[int] = []
        self.transitions = 0
        self.violations: dict[str, Violation] = {}
        self.helper_agent = AGENTS[0]

    def _key(self, process: Process) -> tuple[Key, Process]:
        if self.symmetry:
            key, canon, _ = canonical(process)
            return key, canon
        return plain_key(process), process

    def _add(self, process: Process, parent: int, event: Event | None) -> int:
        key, canon = self._key(process)
        found = self.index.get(key)
        if found is not None:
            return found
        number = len(self.states)
        self.index[key] = number
        self.states.append(canon)
        self.parent.append(parent)
        self.via.append(event)
        self.depth.append(0 if parent < 0 else self.depth[parent] + 1)
        self._check_state(number)
        return number

    def _check_state(self, number: int) -> None:
        state = self.states[number]
        for item in self.properties:
            if item.id in self.violations:
                continue
            if item.on_state is not None and item.on_state(state) is not None:
                self._record(item, number, ())
            elif item.on_progress is not None:
                failure = item.on_progress(state, self.step_fn, self.helper_agent)
                if failure is not None:
                    self._record(item, number, failure.events)

    def _record(self, item: Property, number: int, extra: tuple[Event, ...]) -> None:
        path = self._path(number)
        self.violations[item.id] = _violation(
            item, path + list(extra), len(path) - 1, self.step_fn, self.symmetry, self.helper_agent
        )

    def _path(self, number: int) -> list[Event]:
        events: list[Event] = []
        while number > 0:
            event = self.via[number]
            assert event is not None
            events.append(event)
            number = self.parent[number]
        events.reverse()
        return events

    def run(
        self,
        *,
        on_edge: Callable[[Edge], None] | None = None,
        stop_at_first: bool = False,
        max_states: int | None = None,
    ) -> CheckResult:
        started = time.perf_counter()
        self._add(EMPTY_PROCESS, -1, None)
        transition_checks = [item for item in self.properties if item.on_transition is not None]
        step_fn, bounds, symmetry = self.step_fn, self.bounds, self.symmetry
        states, violations = self.states, self.violations
        head = 0
        complete = True
        next_report = PROGRESS_EVERY
        while head < len(states):
            if (stop_at_first and violations) or (max_states and len(states) >= max_states):
                complete = False
                break
            before = states[head]
            for event in enabled_events(before, bounds, symmetric=symmetry):
                step = step_fn(before, event)
                self.transitions += 1
                for item in transition_checks:
                    if item.id in violations:
                        continue
                    assert item.on_transition is not None
                    if item.on_transition(before, event, step) is not None:
                        path = self._path(head)
                        path.append(event)
                        violations[item.id] = _violation(
                            item, path, len(path) - 1, step_fn, symmetry, self.helper_agent
                        )
                after = step.state
                number = head if after is before else self._add(after, head, event)
                if on_edge is not None:
                    on_edge(Edge(before, event, states[number], step.effects, step.result))
            head += 1
            if self.progress is not None and len(states) >= next_report:
                next_report += PROGRESS_EVERY
                self.progress(
                    Progress(
                        len(states),
                        self.transitions,
                        self.depth[-1],
                        time.perf_counter() - started,
                    )
                )
        order = {item.id: position for position, item in enumerate(self.properties)}
        return CheckResult(
            bounds=bounds,
            symmetry=symmetry,
            states=len(states),
            transitions=self.transitions,
            depth=self.depth[-1],
            elapsed=time.perf_counter() - started,
            violations=tuple(sorted(violations.values(), key=lambda v: order[v.property_id])),
            complete=complete,
        )


def explore(
    bounds: Bounds | None = None,
    step_fn: StepFn = model.step,
    properties: Iterable[Property] = ALL,
    progress: Callable[[Progress], None] | None = None,
    *,
    symmetry: bool = True,
    stop_at_first: bool = False,
    max_states: int | None = None,
) -> CheckResult:
    """Explore every reachable state of ``step_fn`` within ``bounds``; check ``properties``.

    ``symmetry`` stores one state per renaming class; ``stop_at_first`` ends at
    the first violation; ``max_states`` caps the exploration. Each violation
    carries the shortest trace that shows it.
    """
    search = _Search(bounds or DEFAULT_BOUNDS, step_fn, tuple(properties), symmetry, progress)
    return search.run(stop_at_first=stop_at_first, max_states=max_states)


def reachable_graph(bounds: Bounds | None = None, step_fn: StepFn = model.step) -> ReachableGraph:
    """Every reachable canonical state and every transition between them.

    Meant for small bounds (diagrams, tests): it keeps every edge in memory.
    """
    edges: list[Edge] = []
    search = _Search(bounds or DEFAULT_BOUNDS, step_fn, (), True, None)
    search.run(on_edge=edges.append)
    return ReachableGraph(initial=search.states[0], states=search.states, edges=edges)


# --- counterexample traces on the original names ---------------------------------------


def _violation(
    item: Property,
    events: list[Event],
    check_after: int,
    step_fn: StepFn,
    symmetry: bool,
    helper_agent: object,
) -> Violation:
    """Build the trace of a violation found after event ``check_after`` (-1: the
    initial state).

    Events up to ``check_after`` are named as in the canonical state each one
    leaves; later ones (a liveness witness) as in the state they start from. The
    trace is replayed on one consistent naming: the names of the first path.
    """
    raw = EMPTY_PROCESS
    raw_events: list[Event] = []
    sessions: dict[object, object] = {}
    agents: dict[object, object] = {}
    for position, event in enumerate(events):
        if symmetry and position <= check_after + 1:
            sessions, agents = _to_raw(raw)
        raw_events.append(_rename_event(event, sessions, agents) if symmetry else event)
        raw = step_fn(raw, raw_events[-1]).state
    message, steps = _replay(item, raw_events, check_after, step_fn, helper_agent)
    return Violation(item.id, message, Trace(item.id, message, steps))


def _replay(
    item: Property,
    events: list[Event],
    check_after: int,
    step_fn: StepFn,
    helper_agent: object,
) -> tuple[str, tuple[TraceStep, ...]]:
    """Run ``events`` from the initial state; say what the property finds."""
    state = EMPTY_PROCESS
    message = None
    if check_after < 0:
        message = _message_at(
            item, None, None, Step(state, (), model.Outcome.DONE), step_fn, helper_agent
        )
    steps: list[TraceStep] = []
    for position, event in enumerate(events):
        before = state
        step = step_fn(state, event)
        state = step.state
        steps.append(
            TraceStep(
                actor_of(event),
                event_text(event),
                result_text(step.result, step.effects),
                state_text(state),
            )
        )
        if position == check_after:
            message = _message_at(item, before, event, step, step_fn, helper_agent)
    if message is None:
        message = "the property does not hold in the state this trace reaches"
    return message, tuple(steps)


def _message_at(
    item: Property,
    before: Process | None,
    event: Event | None,
    step: Step,
    step_fn: StepFn,
    helper_agent: object,
) -> str | None:
    if item.on_transition is not None and before is not None and event is not None:
        found = item.on_transition(before, event, step)
        if found is not None:
            return found
    if item.on_state is not None:
        found = item.on_state(step.state)
        if found is not None:
            return found
    if item.on_progress is not None:
        failure = item.on_progress(step.state, step_fn, helper_agent)
        if failure is not None:
            return failure.message
    return None


def _to_raw(raw: Process) -> tuple[dict[object, object], dict[object, object]]:
    """Maps from the canonical names of ``raw``'s class back to ``raw``'s names."""
    _, renaming = canonical_key(raw)
    sessions: dict[object, object] = {}
    for index, session_id in enumerate(renaming.sessions):
        sessions[SESSION_IDS[index]] = session_id
    spare_ids = [key for key in SESSION_IDS if key not in renaming.sessions]
    for key in SESSION_IDS[len(renaming.sessions) :]:
        sessions[key] = spare_ids.pop(0)
    agents: dict[object, object] = {}
    for agent, number in renaming.agents.items():
        agents[AGENTS[number - 1]] = agent
    spare_agents = [agent for agent in AGENTS if agent not in renaming.agents]
    for agent in AGENTS[len(renaming.agents) :]:
        agents[agent] = spare_agents.pop(0)
    return sessions, agents


def _rename_event(
    event: Event, sessions: dict[object, object], agents: dict[object, object]
) -> Event:
    changes: dict[str, object] = {}
    session_id = getattr(event, "session_id", None)
    if session_id is not None:
        changes["session_id"] = sessions[session_id]
    agent = getattr(event, "agent", None)
    if agent is not None:
        changes["agent"] = agents[agent]
    if not changes:
        return event
    renamed: Event = event._replace(**changes)  # type: ignore[arg-type]
    return renamed
