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
from itertools import permutations
from typing import NamedTuple

from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Effect, Event, Process, Result, Step
from memory_lifecycle.specs.properties import ALL, Property, StepFn
from memory_lifecycle.specs.trace import Trace, TraceStep

from .canonical import Key, canonical, plain_key, rename_session
from .render import actor_of, event_text, result_text, state_text
from .world import AGENTS, CHECK_BOUNDS, GRAPH_BOUNDS, Bounds, enabled_events


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
    depth: int
    """Events up to the violating state or transition; the trace may add a liveness
    witness after them."""


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
    """Wall-clock seconds."""
    violations: tuple[Violation, ...] = field(default=())
    complete: bool = True
    """False when exploration stopped early (first violation or state limit)."""
    cpu: float = 0.0
    """Processor seconds spent by this process (less than ``elapsed`` on a busy machine)."""

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
            f"depth {self.depth}, {self.elapsed:.2f} s ({self.cpu:.2f} s CPU), "
            f"{self.states_per_second:,.0f} states/s"
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
        states, events = self._path(number)
        self.violations[item.id] = build_violation(
            item, states, events + list(extra), len(events) - 1, self.step_fn, self.bounds
        )

    def _path(self, number: int) -> tuple[list[Process], list[Event]]:
        """The canonical states and events from the initial state to ``number``."""
        states = [self.states[number]]
        events: list[Event] = []
        while number > 0:
            event = self.via[number]
            assert event is not None
            events.append(event)
            number = self.parent[number]
            states.append(self.states[number])
        states.reverse()
        events.reverse()
        return states, events

    def run(
        self,
        *,
        on_edge: Callable[[Edge], None] | None = None,
        stop_at_first: bool = False,
        max_states: int | None = None,
    ) -> CheckResult:
        started, cpu_started = time.perf_counter(), time.process_time()
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
                        path, events = self._path(head)
                        events.append(event)
                        violations[item.id] = build_violation(
                            item, path, events, len(events) - 1, step_fn, bounds
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
            cpu=time.process_time() - cpu_started,
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
    engine: str = "auto",
) -> CheckResult:
    """Explore every reachable state of ``step_fn`` within ``bounds``; check ``properties``.

    Without ``bounds``, explores ``CHECK_BOUNDS`` (what ``memory-lifecycle check`` does).

    ``symmetry`` stores one state per renaming class; ``stop_at_first`` ends at
    the first violation; ``max_states`` caps the exploration. Each violation
    carries the shortest trace that shows it.

    ``engine``: ``"product"`` steps whole processes (checks S6 directly);
    ``"sessions"`` steps each session alone and caches (much faster; it relies
    on S6 and on a session event reading only its own session, which the
    product engine checks); ``"auto"`` picks ``"sessions"`` for ``model.step``
    and ``"product"`` for any other step function.
    """
    chosen = bounds or CHECK_BOUNDS
    checked = tuple(properties)
    if engine == "auto":
        engine = "sessions" if step_fn is model.step else "product"
    if engine == "sessions":
        from .sessions import explore_sessions

        return explore_sessions(
            chosen,
            step_fn,
            checked,
            progress,
            symmetry=symmetry,
            stop_at_first=stop_at_first,
            max_states=max_states,
        )
    if engine != "product":
        raise ValueError(f"engine must be 'auto', 'product' or 'sessions', got {engine!r}")
    search = _Search(chosen, step_fn, checked, symmetry, progress)
    return search.run(stop_at_first=stop_at_first, max_states=max_states)


def reachable_graph(bounds: Bounds | None = None, step_fn: StepFn = model.step) -> ReachableGraph:
    """Every reachable canonical state and every transition between them.

    Meant for small bounds (diagrams, tests): it keeps every edge in memory.
    Without ``bounds``, explores ``GRAPH_BOUNDS`` (one session).
    """
    edges: list[Edge] = []
    search = _Search(bounds or GRAPH_BOUNDS, step_fn, (), True, None)
    search.run(on_edge=edges.append)
    return ReachableGraph(initial=search.states[0], states=search.states, edges=edges)


# --- counterexample traces on the original names ---------------------------------------


def build_violation(
    item: Property,
    path_states: Sequence[Process],
    events: Sequence[Event],
    check_after: int,
    step_fn: StepFn,
    bounds: Bounds,
) -> Violation:
    """Build the trace of a violation found after event ``check_after`` (-1: the
    initial state).

    ``events[i]`` for ``i < len(path_states)`` is named as in the canonical state
    ``path_states[i]`` it leaves; later events (a liveness witness) are named as in
    the last path state. The trace is replayed on one consistent naming: the
    names of the first step, carried along by undoing each canonical renaming.
    """
    raw = path_states[0]
    raw_events: list[Event] = []
    sessions: dict[object, object] = {}
    agents: dict[object, object] = {}
    for position, event in enumerate(events):
        if position < len(path_states):
            sessions, agents = _renaming_to(raw, path_states[position], bounds)
        raw_events.append(_rename_event(event, sessions, agents))
        raw = step_fn(raw, raw_events[-1]).state
    helper = AGENTS[0]
    message, steps = _replay(item, path_states[0], raw_events, check_after, step_fn, helper)
    return Violation(item.id, message, Trace(item.id, message, steps), check_after + 1)


def _replay(
    item: Property,
    initial: Process,
    events: list[Event],
    check_after: int,
    step_fn: StepFn,
    helper_agent: object,
) -> tuple[str, tuple[TraceStep, ...]]:
    """Run ``events`` from the initial state; say what the property finds."""
    state = initial
    message = None
    if check_after < 0:
        done = Step(state, (), model.Outcome.DONE)
        message = _message_at(item, None, None, done, step_fn, helper_agent)
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


def _renaming_to(
    raw: Process, target: Process, bounds: Bounds
) -> tuple[dict[object, object], dict[object, object]]:
    """Maps from ``target``'s names to ``raw``'s, where ``target`` is a renaming of ``raw``.

    Found by trying every renaming (only ever done for the few states of a trace).
    """
    raw_ids = [key for key, _ in raw.sessions]
    target_ids = [key for key, _ in target.sessions]
    all_agents = list(bounds.agent_handles)
    for order in permutations(raw_ids):
        session_map = dict(zip(order, target_ids, strict=True))
        for agent_order in permutations(all_agents):
            agent_map: dict[object, object] = dict(zip(all_agents, agent_order, strict=True))
            if _renamed(raw, session_map, agent_map) == target:
                to_raw_sessions: dict[object, object] = {t: r for r, t in session_map.items()}
                spare_raw = [key for key in bounds.session_ids if key not in raw_ids]
                for key in bounds.session_ids:
                    if key not in to_raw_sessions:
                        to_raw_sessions[key] = spare_raw.pop(0)
                return to_raw_sessions, {t: r for r, t in agent_map.items()}
    raise AssertionError(f"no renaming maps {state_text(raw)} onto {state_text(target)}")


def _renamed(
    process: Process, sessions: dict[object, object], agents: dict[object, object]
) -> Process:
    pairs = [(sessions[key], rename_session(value, agents)) for key, value in process.sessions]
    pairs.sort(key=lambda pair: str(pair[0]))
    return Process(tuple(pairs), process.draining, process.drained)


def _rename_event(
    event: Event, sessions: dict[object, object], agents: dict[object, object]
) -> Event:
    changes: dict[str, object] = {}
    session_id = getattr(event, "session_id", None)
    if session_id is not None:
        changes["session_id"] = sessions.get(session_id, session_id)
    agent = getattr(event, "agent", None)
    if agent is not None:
        changes["agent"] = agents.get(agent, agent)
    if not changes:
        return event
    renamed: Event = event._replace(**changes)  # type: ignore[arg-type]
    return renamed
