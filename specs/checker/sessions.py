"""Session-compositional exploration: the fast engine for large bounds.

A session event changes only its own session, and what it does depends only
on that session and the drain flags (S6, which the product engine checks on
whole processes). So this engine steps each *session* once per drain flag and
offered agent set, in a one-session process, caches the move together with
the verdict of every property on it, and builds process states as tuples of
interned session numbers. A process state is ``(flags, n_1, ..., n_k)``, one
number per session slot (0: no entry).

Symmetry reduction: the key of a state is the least, over every permutation
of the agents, of its renamed session numbers sorted (sessions are
interchangeable slots). Equal keys mean states that are renamings of one
another, and every renaming of a state has the same key.

Process events (background commits, drain) are stepped on each session alone
too: they must move every session the same way (the product engine checks
them on whole processes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import permutations
from typing import NamedTuple

from memory_lifecycle.model import Event, Process, Session
from memory_lifecycle.specs.properties import Property, StepFn

from .canonical import rename_session
from .explore import PROGRESS_EVERY, CheckResult, Progress, Violation, build_violation
from .world import AGENTS, SESSION_IDS, Bounds, process_events, session_events

MINI_ID = SESSION_IDS[0]
"""The session id every session is stepped under in its one-session process."""


class Expansion(NamedTuple):
    """Every event of one session in one context, stepped and judged.

    Events are named for ``MINI_ID``.
    """

    transitions: int
    """How many events there are."""
    broken: tuple[tuple[Event, tuple[Property, ...]], ...]
    """Events whose transition violates properties, and which."""
    successors: tuple[tuple[int, Event], ...]
    """Each other session state reached, with the first event reaching it."""


StateKey = tuple[int, ...]
"""A process state: its drain flags, then one session number per slot."""


def _flags(process: Process) -> int:
    return (1 if process.draining else 0) | (2 if process.drained else 0)


class _Sessions:
    """Interned session states, their renamings, moves and verdicts."""

    def __init__(self, bounds: Bounds, step_fn: StepFn, properties: Sequence[Property]) -> None:
        self.bounds = bounds
        self.step_fn = step_fn
        self.transition_checks = [p for p in properties if p.on_transition is not None]
        self.state_checks = [
            p for p in properties if p.on_state is not None or p.on_progress is not None
        ]
        agents = bounds.agent_handles
        self.bits: dict[object, int] = {agent: 1 << number for number, agent in enumerate(agents)}
        self.renamings: list[dict[object, object]] = [
            dict(zip(agents, order, strict=True)) for order in permutations(agents)
        ]
        self.sessions: list[Session | None] = [None]
        self.numbers: dict[Session, int] = {}
        self.masks: list[int] = [0]
        self.renamed: list[list[int]] = [[0] * len(self.renamings)]
        self.moves: dict[tuple[int, int, int], Expansion] = {}
        self.process_moves: dict[tuple[int, int, type], tuple[int, int, tuple[Property, ...]]] = {}
        self.verdicts: dict[tuple[int, int], list[tuple[Property, tuple[Event, ...]]]] = {}

    def intern(self, session: Session | None) -> int:
        """The number of ``session`` (0 for no entry)."""
        if session is None:
            return 0
        number = self.numbers.get(session)
        if number is None:
            number = len(self.sessions)
            self.numbers[session] = number
            self.sessions.append(session)
            self.masks.append(self._mask(session))
            row = [-1] * len(self.renamings)
            row[0] = number
            self.renamed.append(row)
        return number

    def _mask(self, session: Session) -> int:
        bits = self.bits
        mask = bits.get(session.registered, 0)
        for segment in session.segments:
            mask |= bits.get(segment.owner, 0)
        if session.in_flight is not None:
            mask |= bits.get(session.in_flight.agent, 0)
        return mask

    def renamed_row(self, number: int) -> list[int]:
        """The numbers of session ``number`` under every agent renaming."""
        row = self.renamed[number]
        if row[-1] < 0:
            session = self.sessions[number]
            assert session is not None
            for renaming, agents in enumerate(self.renamings):
                if row[renaming] < 0:
                    row[renaming] = self.intern(rename_session(session, agents))
        return row

    def mini(self, number: int, flags: int) -> Process:
        session = self.sessions[number]
        pairs = () if session is None else ((MINI_ID, session),)
        return Process(pairs, bool(flags & 1), bool(flags & 2))

    def moves_of(self, number: int, offered: int, flags: int) -> Expansion:
        """Every event of one session with the agents in ``offered``, stepped and judged."""
        key = (number, offered, flags)
        found = self.moves.get(key)
        if found is not None:
            return found
        agents = tuple(a for a, bit in self.bits.items() if offered & bit)
        before = self.mini(number, flags)
        events = session_events(MINI_ID, self.sessions[number], agents, self.bounds)
        broken: list[tuple[Event, tuple[Property, ...]]] = []
        successors: dict[int, Event] = {}
        for event in events:
            step = self.step_fn(before, event)
            failing = tuple(
                p
                for p in self.transition_checks
                if p.on_transition is not None and p.on_transition(before, event, step) is not None
            )
            if failing:
                broken.append((event, failing))
            after = self.intern(step.state.session(MINI_ID))
            if after != number:
                successors.setdefault(after, event)
        expansion = Expansion(
            len(events), tuple(broken), tuple((after, e) for after, e in successors.items())
        )
        self.moves[key] = expansion
        return expansion

    def process_move(
        self, number: int, flags: int, event: Event
    ) -> tuple[int, int, tuple[Property, ...]]:
        """A process event applied to one session alone: its next number, the next
        drain flags, and the properties the transition violates."""
        key = (number, flags, type(event))  # process events have no fields: equal tuples
        found = self.process_moves.get(key)
        if found is not None:
            return found
        before = self.mini(number, flags)
        step = self.step_fn(before, event)
        failing = tuple(
            p
            for p in self.transition_checks
            if p.on_transition is not None and p.on_transition(before, event, step) is not None
        )
        move = (self.intern(step.state.session(MINI_ID)), _flags(step.state), failing)
        self.process_moves[key] = move
        return move

    def verdicts_of(self, number: int, flags: int) -> list[tuple[Property, tuple[Event, ...]]]:
        """The state and progress properties one session violates, with witness events."""
        key = (number, flags)
        found = self.verdicts.get(key)
        if found is not None:
            return found
        state = self.mini(number, flags)
        verdicts: list[tuple[Property, tuple[Event, ...]]] = []
        for item in self.state_checks:
            if item.on_state is not None and item.on_state(state) is not None:
                verdicts.append((item, ()))
            elif item.on_progress is not None:
                failure = item.on_progress(state, self.step_fn, AGENTS[0])
                if failure is not None:
                    verdicts.append((item, failure.events))
        self.verdicts[key] = verdicts
        return verdicts


def explore_sessions(
    bounds: Bounds,
    step_fn: StepFn,
    properties: Sequence[Property],
    progress: Callable[[Progress], None] | None = None,
    *,
    symmetry: bool = True,
    stop_at_first: bool = False,
    max_states: int | None = None,
) -> CheckResult:
    """Explore like ``explore`` with the session-compositional engine."""
    started, cpu_started = time.perf_counter(), time.process_time()
    tables = _Sessions(bounds, step_fn, properties)
    slots = bounds.sessions
    all_agents = (1 << bounds.agents) - 1
    masks, moves_of, process_move = tables.masks, tables.moves_of, tables.process_move
    events_by_flags = {
        flags: process_events(Process((), bool(flags & 1), bool(flags & 2)), bounds)
        for flags in range(4)
    }

    rows = tables.renamed
    renamed_row = tables.renamed_row

    def key_of(flags: int, numbers: Sequence[int]) -> StateKey:
        if not symmetry:
            return (flags, *numbers)
        columns = zip(
            *[rows[n] if rows[n][-1] >= 0 else renamed_row(n) for n in numbers], strict=True
        )
        if slots == 2:
            best = min((a, b) if a <= b else (b, a) for a, b in columns)
        else:
            best = min(tuple(sorted(column)) for column in columns)
        return (flags, *best)

    initial: StateKey = (0, *([0] * slots))
    index: dict[StateKey, int] = {initial: 0}
    states: list[StateKey] = [initial]
    parent: list[int] = [-1]
    via: list[Event | None] = [None]
    depth: list[int] = [0]
    violations: dict[str, Violation] = {}
    transitions = 0

    def build(state: StateKey) -> Process:
        pairs = []
        for slot, number in enumerate(state[1:]):
            session = tables.sessions[number]
            if session is not None:
                pairs.append((SESSION_IDS[slot], session))
        return Process(tuple(pairs), bool(state[0] & 1), bool(state[0] & 2))

    def path_to(number: int) -> tuple[list[Process], list[Event]]:
        path_states = [build(states[number])]
        events: list[Event] = []
        while number > 0:
            event = via[number]
            assert event is not None
            events.append(event)
            number = parent[number]
            path_states.append(build(states[number]))
        path_states.reverse()
        events.reverse()
        return path_states, events

    def record(item: Property, number: int, extra: Sequence[Event], transition: bool) -> None:
        path_states, events = path_to(number)
        check_after = len(events) if transition else len(events) - 1
        violations[item.id] = build_violation(
            item, path_states, [*events, *extra], check_after, step_fn, bounds
        )

    def check_new(number: int) -> None:
        state = states[number]
        flags = state[0]
        for slot, local in enumerate(state[1:]):
            if local == 0:
                continue
            for item, witness in tables.verdicts_of(local, flags):
                if item.id not in violations:
                    extra = [_at_slot(event, slot) for event in witness]
                    record(item, number, extra, transition=False)

    def add(flags: int, numbers: Sequence[int], from_state: int, event: Event) -> None:
        key = key_of(flags, numbers)
        if key in index:
            return
        number = len(states)
        index[key] = number
        states.append(key)
        parent.append(from_state)
        via.append(event)
        depth.append(depth[from_state] + 1)
        check_new(number)

    head = 0
    complete = True
    next_report = PROGRESS_EVERY
    while head < len(states):
        if (stop_at_first and violations) or (max_states and len(states) >= max_states):
            complete = False
            break
        state = states[head]
        flags, numbers = state[0], state[1:]
        used = 0
        for local in numbers:
            used |= masks[local]
        if symmetry:
            free = all_agents & ~used
            offered = used | (free & -free)
        else:
            offered = all_agents
        absent_seen = False
        for slot, local in enumerate(numbers):
            if local == 0:
                if symmetry and absent_seen:
                    continue
                absent_seen = True
            expansion = moves_of(local, offered, flags)
            transitions += expansion.transitions
            broken, successors = expansion.broken, expansion.successors
            for event, failing in broken:
                for item in failing:
                    if item.id not in violations:
                        path_states, events = path_to(head)
                        events.append(_at_slot(event, slot))
                        violations[item.id] = build_violation(
                            item, path_states, events, len(events) - 1, step_fn, bounds
                        )
            for after, event in successors:
                changed = (*numbers[:slot], after, *numbers[slot + 1 :])
                key = key_of(flags, changed)
                if key not in index:
                    add(flags, changed, head, _at_slot(event, slot))
        for event in events_by_flags[flags]:
            transitions += 1
            moves = [process_move(local, flags, event) for local in numbers]
            after_flags = moves[0][1]
            for _, _, failing in moves:
                for item in failing:
                    if item.id not in violations:
                        path_states, events = path_to(head)
                        events.append(event)
                        violations[item.id] = build_violation(
                            item, path_states, events, len(events) - 1, step_fn, bounds
                        )
            changed = tuple(after for after, _, _ in moves)
            if any(move[1] != after_flags for move in moves):
                raise ValueError(
                    f"{type(event).__name__} moves the drain flags differently per session; "
                    f"explore this step function with engine='product'"
                )
            if after_flags != flags or changed != numbers:
                add(after_flags, changed, head, event)
        head += 1
        if progress is not None and len(states) >= next_report:
            next_report += PROGRESS_EVERY
            progress(Progress(len(states), transitions, depth[-1], time.perf_counter() - started))
    order = {item.id: position for position, item in enumerate(properties)}
    return CheckResult(
        bounds=bounds,
        symmetry=symmetry,
        states=len(states),
        transitions=transitions,
        depth=depth[-1],
        elapsed=time.perf_counter() - started,
        violations=tuple(sorted(violations.values(), key=lambda v: order[v.property_id])),
        complete=complete,
        cpu=time.process_time() - cpu_started,
    )


def _at_slot(event: Event, slot: int) -> Event:
    """``event`` (named for ``MINI_ID``) named for the session in ``slot``."""
    if getattr(event, "session_id", None) != MINI_ID or slot == 0:
        return event
    renamed: Event = event._replace(session_id=SESSION_IDS[slot])  # type: ignore[call-arg]
    return renamed
