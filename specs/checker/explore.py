"""Breadth-first exploration of every reachable state of ``step`` in a bounded world.

States are stored once per class of renamings (see ``canonical``), every
property is checked on every new state and every transition, test-hook edits
are probed from every state, and each violation comes with the shortest trace
that reaches it (BFS parent pointers), replayed on the original names so it
reads as one consistent story. A step function that raises is reported as a
violation (``STEP``) with its trace, not as a crash, and a state outside the
world's bounds is checked but not explored further, so every exploration ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from typing import NamedTuple

from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Effect, EntryEdited, Event, Process, Result, Step
from memory_lifecycle.specs.properties import (
    ALL,
    STEP_RAISED,
    ProgressFailure,
    Property,
    StepFn,
    StepRaised,
    answer,
)
from memory_lifecycle.specs.trace import Trace, TraceStep

from .canonical import Key, canonical, normal_process, plain_key, rename_session
from .render import actor_of, event_text, result_text, state_text
from .watchdog import DEFAULT_STEP_TIMEOUT, step_watchdog, timed_out
from .world import (
    AGENTS,
    CHECK_BOUNDS,
    GRAPH_BOUNDS,
    SESSION_IDS,
    Bounds,
    Probe,
    edit_probes,
    enabled_events,
    offered_agents,
    within_bounds,
)


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
    """False when states were left unexplored (first violation, state limit, or
    transitions not followed)."""
    cpu: float = 0.0
    """Processor seconds spent by this process (less than ``elapsed`` on a busy machine)."""
    engine: str = "product"
    """The engine that ran: ``product`` or ``sessions``."""
    probes: int = 0
    """Test-hook edits probed (applied and judged, not explored)."""
    beyond_bounds: int = 0
    """States outside the world's bounds: checked, not explored (0 for the model)."""
    interrupted: bool = False
    """Ctrl-C ended the exploration: the violations are those found until then."""
    unfollowed: int = 0
    """Transitions reported as violations (the drain's counts left wrong, L2) whose
    state the sessions engine cannot represent, so it did not explore past them."""

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
        text = (
            f"{self.states:,} distinct states, {self.transitions:,} transitions, "
            f"{self.probes:,} probes, depth {self.depth}, {self.elapsed:.2f} s "
            f"({self.cpu:.2f} s CPU), {self.states_per_second:,.0f} states/s"
        )
        if self.beyond_bounds:
            text += f", {self.beyond_bounds:,} states beyond the bounds (not explored)"
        if self.unfollowed:
            text += (
                f", {self.unfollowed:,} transitions not followed (they leave the drain's "
                f"counts wrong, L2)"
            )
        return text


def search_ends(
    stored: int, violations: dict[str, Violation], stop_at_first: bool, max_states: int | None
) -> bool:
    """True when a search stops before expanding more: a violation found with
    ``stop_at_first``, ``max_states`` states stored, or a step that did not return."""
    return (
        (stop_at_first and bool(violations))
        or (max_states is not None and stored >= max_states)
        or timed_out()
    )


PROGRESS_EVERY = 50_000
"""States between two progress reports."""

STEP_PROPERTY = Property(
    STEP_RAISED,
    "step-total",
    "The step function answers every event of the world without raising.",
)


def try_step(step_fn: StepFn, state: Process, event: Event) -> Step | Exception:
    """``step_fn(state, event)``, or the exception it raised (a TypeError when it
    answered something other than a Step)."""
    try:
        step = answer(step_fn, state, event)
    except Exception as error:  # a broken step function is a finding, not a crash
        return error
    if step_fn is model.step:
        return step
    unknown = [key for key, _ in step.state.sessions if key not in SESSION_IDS]
    if unknown:
        return TypeError(f"the step function answered sessions {unknown} outside the world")
    return step


def raised_message(event: Event, error: Exception) -> str:
    """What a violation says about a step that raised."""
    return f"step raised {type(error).__name__}: {error} on {event_text(event)}"


Failure = tuple[Property, tuple[Event, ...]]
"""A violated property and the witness events after the state or transition."""


def _driven(item: Property, drive: Callable[[], ProgressFailure | None]) -> Failure | None:
    """Run a check that drives the state forward; a step that raises in it is ``STEP``."""
    try:
        found = drive()
    except StepRaised as raised:
        return (STEP_PROPERTY, raised.events)
    return None if found is None else (item, found.events)


def transition_failures(
    properties: Sequence[Property], before: Process, event: Event, step: Step, step_fn: StepFn
) -> list[Failure]:
    """The properties a transition violates, each with the witness events after it."""
    failures: list[Failure] = []
    for item in properties:
        if item.on_transition is not None and item.on_transition(before, event, step) is not None:
            failures.append((item, ()))
        elif (after := item.after_transition) is not None:
            found = _driven(item, lambda: after(before, event, step, step_fn))
            if found is not None:
                failures.append(found)
    return failures


def state_failures(
    properties: Sequence[Property], state: Process, step_fn: StepFn
) -> list[Failure]:
    """The state and progress properties ``state`` violates, with witness events."""
    failures: list[Failure] = []
    for item in properties:
        if item.on_state is not None and item.on_state(state) is not None:
            failures.append((item, ()))
        elif (progress := item.on_progress) is not None:
            found = _driven(item, lambda: progress(state, step_fn, AGENTS[0]))
            if found is not None:
                failures.append(found)
    return failures


def probe_failures(
    properties: Sequence[Property], state: Process, probes: Iterable[Probe], step_fn: StepFn
) -> list[tuple[Property, Probe]]:
    """The properties a test-hook edit of ``state`` violates, with the edit."""
    checks = [item for item in properties if item.on_probe is not None]
    failures: list[tuple[Property, Probe]] = []
    if not checks:
        return failures
    for probe in probes:
        outcome = try_step(step_fn, state, probe.event)
        for item in checks:
            assert item.on_probe is not None
            if item.on_probe(state, probe.event, probe.malformed, outcome) is not None:
                failures.append((item, probe))
    return failures


def state_probes(state: Process, bounds: Bounds, *, symmetric: bool) -> list[Probe]:
    """The test-hook edits probed from ``state``: of each session the world offers
    events to (under symmetry, the present ones and the first absent one)."""
    present = dict(state.sessions)
    agents = offered_agents(state, bounds, symmetric=symmetric)
    ids = [key for key in bounds.session_ids if key in present]
    absent = [key for key in bounds.session_ids if key not in present]
    ids += absent[:1] if symmetric else absent
    probes: list[Probe] = []
    for session_id in ids:
        probes.extend(edit_probes(session_id, present.get(session_id), agents, bounds))
    return probes


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
        self.probes = 0
        self.beyond = 0
        self.violations: dict[str, Violation] = {}

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
        for item, extra in state_failures(self._unviolated(), canon, self.step_fn):
            self._record(item, number, list(extra), transition=False)
        if not within_bounds(canon, self.bounds):
            self.beyond += 1
        return number

    def _unviolated(self) -> list[Property]:
        return [item for item in self.properties if item.id not in self.violations]

    def _record(
        self,
        item: Property,
        number: int,
        extra: list[Event],
        *,
        transition: bool,
        probe: Probe | None = None,
    ) -> None:
        """Record a violation found at state ``number`` (its state, or a transition
        from it when ``extra`` starts with that transition's event)."""
        if item.id in self.violations:
            return
        states, events = self._path(number)
        check_after = len(events) if transition else len(events) - 1
        self.violations[item.id] = build_violation(
            item, states, events + extra, check_after, self.step_fn, self.bounds, probe
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
        step_fn, bounds, symmetry = self.step_fn, self.bounds, self.symmetry
        states = self.states
        head = 0
        complete = True
        next_report = PROGRESS_EVERY
        interrupted = False
        try:
            while head < len(states):
                if search_ends(len(states), self.violations, stop_at_first, max_states):
                    complete = False
                    break
                before = states[head]
                if not within_bounds(before, bounds):
                    head += 1
                    continue
                checks = self._unviolated()
                probes = state_probes(before, bounds, symmetric=symmetry)
                self.probes += len(probes)
                for item, probe in probe_failures(checks, before, probes, step_fn):
                    self._record(item, head, [probe.event], transition=True, probe=probe)
                for event in enabled_events(before, bounds, symmetric=symmetry):
                    self.transitions += 1
                    step = try_step(step_fn, before, event)
                    if isinstance(step, Exception):
                        self._record(STEP_PROPERTY, head, [event], transition=True)
                        if timed_out():
                            break
                        continue
                    for item, extra in transition_failures(
                        self._unviolated(), before, event, step, step_fn
                    ):
                        self._record(item, head, [event, *extra], transition=True)
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
        except KeyboardInterrupt:  # Ctrl-C: report what was found so far
            interrupted = True
        return CheckResult(
            bounds=bounds,
            symmetry=symmetry,
            states=len(states),
            transitions=self.transitions,
            depth=self.depth[-1],
            elapsed=time.perf_counter() - started,
            violations=ordered(self.violations, self.properties),
            complete=complete and not interrupted,
            cpu=time.process_time() - cpu_started,
            engine="product",
            interrupted=interrupted,
            probes=self.probes,
            beyond_bounds=self.beyond,
        )


def ordered(found: dict[str, Violation], properties: Sequence[Property]) -> tuple[Violation, ...]:
    """Violations in catalogue order, a raising step first."""
    order = {STEP_RAISED: -1, **{item.id: place for place, item in enumerate(properties)}}
    return tuple(sorted(found.values(), key=lambda v: order.get(v.property_id, len(order))))


class EngineMismatch(ValueError):
    """The step function breaks an assumption of the session-compositional engine."""


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
    step_timeout: float | None = DEFAULT_STEP_TIMEOUT,
) -> CheckResult:
    """Explore every reachable state of ``step_fn`` within ``bounds``; check ``properties``.

    Without ``bounds``, explores ``CHECK_BOUNDS`` (what ``memory-lifecycle check`` does).

    ``symmetry`` stores one state per renaming class; ``stop_at_first`` ends at
    the first violation; ``max_states`` caps the exploration. Each violation
    carries the shortest trace that shows it.

    ``engine``: ``"product"`` steps whole processes (checks S6 and every count
    over sessions directly); ``"sessions"`` steps each session alone and caches
    (much faster; it relies on S6, on a session event reading only its own
    session and the shutdown phase, and on the drain's counts being sums over
    sessions, which the product engine checks); ``"auto"`` picks
    ``"sessions"`` for ``model.step`` and ``"product"`` for any other step
    function. A step function that breaks those assumptions is explored with
    the product engine instead (``CheckResult.engine`` says which ran).

    ``step_timeout``: a step still running after that many seconds has
    ``StepTimedOut`` raised inside it, a ``STEP`` violation (called from the
    main thread; None: no limit; see ``watchdog``).
    """
    with step_watchdog(step_timeout):
        return _explore(
            bounds, step_fn, properties, progress, symmetry, stop_at_first, max_states, engine
        )


def _explore(
    bounds: Bounds | None,
    step_fn: StepFn,
    properties: Iterable[Property],
    progress: Callable[[Progress], None] | None,
    symmetry: bool,
    stop_at_first: bool,
    max_states: int | None,
    engine: str,
) -> CheckResult:
    chosen = bounds or CHECK_BOUNDS
    checked = tuple(properties)
    if engine == "auto":
        engine = "sessions" if step_fn is model.step else "product"
    if engine == "sessions":
        from .sessions import explore_sessions

        try:
            return explore_sessions(
                chosen,
                step_fn,
                checked,
                progress,
                symmetry=symmetry,
                stop_at_first=stop_at_first,
                max_states=max_states,
            )
        except EngineMismatch:
            engine = "product"
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
    if search.run(on_edge=edges.append).interrupted:
        raise KeyboardInterrupt  # a partial graph would draw wrong diagrams
    return ReachableGraph(initial=search.states[0], states=search.states, edges=edges)


# --- counterexample traces on the original names ---------------------------------------


def build_violation(
    item: Property,
    path_states: Sequence[Process],
    events: Sequence[Event],
    check_after: int,
    step_fn: StepFn,
    bounds: Bounds,
    probe: Probe | None = None,
) -> Violation:
    """Build the trace of a violation found after event ``check_after`` (-1: the
    initial state); ``probe`` when that event is a test-hook edit.

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
        step = try_step(step_fn, raw, raw_events[-1])
        if isinstance(step, Exception):
            break
        raw = step.state
    malformed = None if probe is None else probe.malformed
    message, steps = _replay(item, path_states[0], raw_events, check_after, step_fn, malformed)
    return Violation(item.id, message, Trace(item.id, message, steps), check_after + 1)


def _replay(
    item: Property,
    initial: Process,
    events: list[Event],
    check_after: int,
    step_fn: StepFn,
    malformed: bool | None,
) -> tuple[str, tuple[TraceStep, ...]]:
    """Run ``events`` from the initial state; say what the property finds.

    ``malformed`` is set when event ``check_after`` is a probed edit (and says
    whether it must be refused).
    """
    state = initial
    message = None
    if check_after < 0:
        done = Step(state, (), model.Outcome.DONE)
        message = _message_at(item, None, None, done, step_fn)
    steps: list[TraceStep] = []
    for position, event in enumerate(events):
        before = state
        step = try_step(step_fn, state, event)
        if position == check_after and malformed is not None and item.on_probe is not None:
            message = item.on_probe(before, event, malformed, step)
        if isinstance(step, Exception):
            steps.append(
                TraceStep(actor_of(event), event_text(event), _raised_text(step), state_text(state))
            )
            if message is None:
                message = raised_message(event, step)
            break
        state = step.state
        steps.append(
            TraceStep(
                actor_of(event),
                event_text(event),
                result_text(step.result, step.effects),
                state_text(state),
            )
        )
        if position == check_after and message is None:
            message = _message_at(item, before, event, step, step_fn)
    if message is None:
        message = "the property does not hold in the state this trace reaches"
    return message, tuple(steps)


def _raised_text(error: Exception) -> str:
    return f"raised {type(error).__name__}: {error}"


def _message_at(
    item: Property,
    before: Process | None,
    event: Event | None,
    step: Step,
    step_fn: StepFn,
) -> str | None:
    if before is not None and event is not None:
        if item.on_transition is not None:
            found = item.on_transition(before, event, step)
            if found is not None:
                return found
        if item.after_transition is not None:
            try:
                failure = item.after_transition(before, event, step, step_fn)
            except StepRaised as raised:
                return str(raised)
            if failure is not None:
                return failure.message
    if item.on_state is not None:
        found = item.on_state(step.state)
        if found is not None:
            return found
    if item.on_progress is not None:
        try:
            progress = item.on_progress(step.state, step_fn, AGENTS[0])
        except StepRaised as raised:
            return str(raised)
        if progress is not None:
            return progress.message
    return None


def _renaming_to(
    raw: Process, target: Process, bounds: Bounds
) -> tuple[dict[object, object], dict[object, object]]:
    """Maps from ``target``'s names to ``raw``'s, where ``target`` is a renaming of ``raw``.

    Found by trying every renaming (only ever done for the few states of a trace);
    states are compared in normal form (``canonical.normal_process``).
    """
    raw_ids = [key for key, _ in raw.sessions]
    target_ids = [key for key, _ in target.sessions]
    all_agents = list(bounds.agent_handles)
    goal = normal_process(target)
    for order in permutations(raw_ids):
        session_map = dict(zip(order, target_ids, strict=True))
        for agent_order in permutations(all_agents):
            agent_map: dict[object, object] = dict(zip(all_agents, agent_order, strict=True))
            if normal_process(_renamed(raw, session_map, agent_map)) == goal:
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
    return process._replace(sessions=tuple(pairs))


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
    if isinstance(event, EntryEdited) and event.field == "agent" and event.value in agents:
        changes["value"] = agents[event.value]
    if not changes:
        return event
    renamed: Event = event._replace(**changes)
    return renamed
