"""The session-compositional engine: the same exploration as ``explore``, faster.

A session event changes only its own session (S6), reads nothing but that
session and the shutdown record's phase, and the drain's two counts are sums
over the sessions (``queued``: sessions the drain must commit, by the
specification's ``machine.committable`` rather than the model's own
``drain_wants``; ``calls``: sessions in flight). So a process state is a
*context* (the shutdown record with its counts
left out) plus one session per slot, and the counts are derived from the
sessions. This engine steps each session alone, in a one-session process whose
counts are that session's own, caches every move together with the verdict of
every property on it, and builds process states as tuples of interned numbers:
``(context, n_1, ..., n_k)`` (0: no entry). Sessions are interned in the normal
form of ``canonical.normal_session``.

Process events come in three kinds. ``DrainNext`` names one session and is
expanded with that session's events. ``BackgroundCommitRequested``,
``BackgroundCommitEnded`` and ``DrainPoll`` read only the shutdown record: they
are stepped once per whole shutdown record, counts included. ``DrainStarted``,
``DrainFinished`` and ``Reset`` act on every session alike: they are stepped on
each session alone and must agree on the new context.

Symmetry reduction: the key of a state is the least, over every permutation
of the agents, of its renamed session numbers sorted (sessions are
interchangeable slots). Equal keys mean states that are renamings of one
another, and every renaming of a state has the same key.

A step function seen to break these assumptions (a session event that changes
the shutdown record or creates another session) raises ``EngineMismatch``, and
``explore`` then uses the product engine. Counts that are not the sums are a
violation of L2 (the drain decides its end from them): the step is reported
with its trace, and the state it reaches, which this engine cannot represent,
is counted in ``CheckResult.unexplored`` and not explored (without L2 among the
properties, ``EngineMismatch`` again). A session event that changes another
session cannot be seen here: the product engine, which ``check`` also runs on a
small world of two sessions, is the one that checks S6.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import permutations
from typing import NamedTuple

from memory_lifecycle.model import (
    DRAINING,
    BackgroundCommitEnded,
    BackgroundCommitRequested,
    DrainPoll,
    Event,
    Process,
    Session,
    Shutdown,
)
from memory_lifecycle.specs.machine import committable
from memory_lifecycle.specs.properties import L2, Property, StepFn

from .canonical import normal_session, rename_session
from .explore import (
    PROGRESS_EVERY,
    STEP_PROPERTY,
    CheckResult,
    EngineMismatch,
    Failure,
    Progress,
    Violation,
    build_violation,
    ordered,
    probe_failures,
    search_ends,
    state_failures,
    transition_failures,
    try_step,
)
from .watchdog import timed_out
from .world import (
    SESSION_IDS,
    Bounds,
    Probe,
    edit_probes,
    process_events,
    session_events,
    within_bounds,
)

MINI_ID = SESSION_IDS[0]
"""The session id every session is stepped under in its one-session process."""

SHUTDOWN_ONLY: tuple[type, ...] = (BackgroundCommitRequested, BackgroundCommitEnded, DrainPoll)
"""Process events that read only the shutdown record."""

Failures = tuple[tuple[Property, tuple[Event, ...]], ...]


class Expansion(NamedTuple):
    """Every event of one session in one context, stepped and judged.

    Events are named for ``MINI_ID``.
    """

    transitions: int
    """How many events there are."""
    broken: tuple[tuple[Event, Failures], ...]
    """Events whose transition violates properties, and which (with witnesses)."""
    raised: tuple[Event, ...]
    """Events the step function raised on."""
    successors: tuple[tuple[int, Event], ...]
    """Each other session state reached, with the first event reaching it."""
    probes: int
    """How many test-hook edits were probed."""
    probe_failures: tuple[tuple[Property, Probe], ...]
    miscounted: int
    """Events after which the drain's counts are wrong (reported, not followed)."""


class Move(NamedTuple):
    """A process event applied to one session alone (or to the shutdown record alone)."""

    session: int
    context: int
    failures: Failures
    raised: bool
    miscounted: bool
    """The step left the drain's counts wrong (L2): reported, not followed."""


StateKey = tuple[int, ...]
"""A process state: its context number, then one session number per slot."""


class _Tables:
    """Interned sessions and contexts, their renamings, moves and verdicts."""

    def __init__(self, bounds: Bounds, step_fn: StepFn, properties: Sequence[Property]) -> None:
        self.bounds = bounds
        self.step_fn = step_fn
        self.properties = properties
        agents = bounds.agent_handles
        self.bits: dict[object, int] = {agent: 1 << number for number, agent in enumerate(agents)}
        self.renamings: list[dict[object, object]] = [
            dict(zip(agents, order, strict=True)) for order in permutations(agents)
        ]
        self.sessions: list[Session | None] = [None]
        self.numbers: dict[Session, int] = {}
        self.masks: list[int] = [0]
        self.wants: list[int] = [0]
        self.busy: list[int] = [0]
        self.inside: list[bool] = [True]
        self.renamed: list[list[int]] = [[0] * len(self.renamings)]
        self.contexts: list[Shutdown] = []
        self.counted: dict[tuple[int, int, int], Shutdown] = {}
        self.context_numbers: dict[Shutdown, int] = {}
        self.moves: dict[tuple[int, int, int], Expansion] = {}
        self.process_moves: dict[tuple[int, int, int], Move] = {}
        self.shutdown_moves: dict[tuple[Shutdown, int], Move] = {}
        self.verdicts: dict[tuple[int, int], Failures] = {}

    def intern(self, session: Session | None) -> int:
        """The number of ``session`` in normal form (0 for no entry)."""
        if session is None:
            return 0
        session = normal_session(session)
        number = self.numbers.get(session)
        if number is None:
            number = len(self.sessions)
            self.numbers[session] = number
            self.sessions.append(session)
            self.masks.append(self._mask(session))
            self.wants.append(1 if committable(session) else 0)
            self.busy.append(1 if session.in_flight is not None else 0)
            self.inside.append(within_bounds(Process(((MINI_ID, session),)), self.bounds))
            row = [-1] * len(self.renamings)
            row[0] = number
            self.renamed.append(row)
        return number

    def context(self, shutdown: Shutdown) -> int:
        """The number of ``shutdown`` with its counts left out."""
        shutdown = shutdown._replace(queued=0, calls=0)
        number = self.context_numbers.get(shutdown)
        if number is None:
            number = self.context_numbers[shutdown] = len(self.contexts)
            self.contexts.append(shutdown)
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

    def shutdown_of(self, context: int, numbers: Sequence[int]) -> Shutdown:
        """The whole shutdown record: the context with the counts of ``numbers``."""
        shutdown = self.contexts[context]
        if shutdown.phase != DRAINING:
            return shutdown
        queued = calls = 0
        for number in numbers:
            queued += self.wants[number]
            calls += self.busy[number]
        key = (context, queued, calls)
        found = self.counted.get(key)
        if found is None:
            found = self.counted[key] = shutdown._replace(queued=queued, calls=calls)
        return found

    def mini(self, number: int, context: int) -> Process:
        """Session ``number`` alone under ``MINI_ID``, its own counts in the shutdown."""
        session = self.sessions[number]
        pairs = () if session is None else ((MINI_ID, session),)
        return Process(pairs, self.shutdown_of(context, (number,)))

    def _settle(
        self, before_context: int, after: Process, same_context: bool
    ) -> tuple[int, int] | None:
        """Intern the result of a one-session step, checking the engine's assumptions;
        None when the drain's counts are not the sums over the sessions (L2)."""
        session = after.session(MINI_ID)
        number = self.intern(session)
        context = self.context(after.shutdown)
        if same_context and context != before_context:
            raise EngineMismatch("a session event changed the shutdown record")
        if any(key != MINI_ID for key, _ in after.sessions):
            raise EngineMismatch("a step created another session")
        if after.shutdown != self.shutdown_of(context, (number,)):
            if L2 not in self.properties:
                raise EngineMismatch("the drain's counts are not the sums over the sessions")
            return None
        return number, context

    def _miscounted(self, failing: list[Failure]) -> list[Failure]:
        """``failing`` with L2 added: a step that left the drain's counts wrong."""
        if any(item is L2 for item, _ in failing):
            return failing
        return [*failing, (L2, ())]

    def moves_of(self, number: int, offered: int, context: int) -> Expansion:
        """Every event of one session with the agents in ``offered``, stepped and judged."""
        key = (number, offered, context)
        found = self.moves.get(key)
        if found is not None:
            return found
        agents = tuple(a for a, bit in self.bits.items() if offered & bit)
        before = self.mini(number, context)
        session = self.sessions[number]
        events = session_events(MINI_ID, session, agents, self.bounds, before.shutdown)
        broken: list[tuple[Event, Failures]] = []
        raised: list[Event] = []
        successors: dict[int, Event] = {}
        miscounted = 0
        for event in events:
            step = try_step(self.step_fn, before, event)
            if isinstance(step, Exception):
                raised.append(event)
                if timed_out():
                    break
                continue
            failing = transition_failures(self.properties, before, event, step, self.step_fn)
            settled = self._settle(context, step.state, same_context=True)
            if settled is None:
                failing = self._miscounted(failing)
                miscounted += 1
            if failing:
                broken.append((event, tuple(failing)))
            if settled is not None and settled[0] != number:
                successors.setdefault(settled[0], event)
        probes = edit_probes(MINI_ID, session, agents, self.bounds)
        failed_probes = probe_failures(self.properties, before, probes, self.step_fn)
        expansion = Expansion(
            len(events),
            tuple(broken),
            tuple(raised),
            tuple(successors.items()),
            len(probes),
            tuple(failed_probes),
            miscounted,
        )
        self.moves[key] = expansion
        return expansion

    def process_move(self, number: int, context: int, position: int, event: Event) -> Move:
        """A process event that acts on every session, applied to one session alone
        (``position``: the event's place among the context's process events)."""
        key = (number, context, position)
        found = self.process_moves.get(key)
        if found is not None:
            return found
        before = self.mini(number, context)
        step = try_step(self.step_fn, before, event)
        if isinstance(step, Exception):
            move = Move(number, context, (), True, False)
        else:
            failing = transition_failures(self.properties, before, event, step, self.step_fn)
            settled = self._settle(context, step.state, same_context=False)
            if settled is None:
                move = Move(number, context, tuple(self._miscounted(failing)), False, True)
            else:
                move = Move(settled[0], settled[1], tuple(failing), False, False)
        self.process_moves[key] = move
        return move

    def shutdown_move(self, shutdown: Shutdown, position: int, event: Event) -> Move:
        """A process event that reads only the shutdown record, applied to it alone."""
        key = (shutdown, position)
        found = self.shutdown_moves.get(key)
        if found is not None:
            return found
        before = Process((), shutdown)
        step = try_step(self.step_fn, before, event)
        if isinstance(step, Exception):
            move = Move(0, self.context(shutdown), (), True, False)
        else:
            after = step.state.shutdown
            if step.state.sessions or (after.queued, after.calls) != (
                shutdown.queued,
                shutdown.calls,
            ):
                raise EngineMismatch(f"{type(event).__name__} changed more than the context")
            failing = transition_failures(self.properties, before, event, step, self.step_fn)
            move = Move(0, self.context(step.state.shutdown), tuple(failing), False, False)
        self.shutdown_moves[key] = move
        return move

    def verdicts_of(self, number: int, context: int) -> Failures:
        """The state and progress properties one session violates, with witness events."""
        key = (number, context)
        found = self.verdicts.get(key)
        if found is None:
            state = self.mini(number, context)
            found = tuple(state_failures(self.properties, state, self.step_fn))
            self.verdicts[key] = found
        return found


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
    tables = _Tables(bounds, step_fn, properties)
    slots = bounds.sessions
    all_agents = (1 << bounds.agents) - 1
    masks, inside = tables.masks, tables.inside
    rows = tables.renamed
    renamed_row = tables.renamed_row
    events_of_context: dict[int, list[tuple[Event, bool]]] = {}

    pairs_only = symmetry and slots == 2 and len(tables.renamings) == 2

    def key_of(context: int, numbers: Sequence[int]) -> StateKey:
        """The state's key: under symmetry, the least renaming of its sorted numbers."""
        if not symmetry:
            return (context, *numbers)
        if pairs_only:
            a0, a1 = rows[numbers[0]] if rows[numbers[0]][1] >= 0 else renamed_row(numbers[0])
            b0, b1 = rows[numbers[1]] if rows[numbers[1]][1] >= 0 else renamed_row(numbers[1])
            first = (a0, b0) if a0 <= b0 else (b0, a0)
            second = (a1, b1) if a1 <= b1 else (b1, a1)
            low = first if first <= second else second
            return (context, *low)
        columns = zip(
            *[rows[n] if rows[n][-1] >= 0 else renamed_row(n) for n in numbers], strict=True
        )
        best = min(tuple(sorted(column)) for column in columns)
        return (context, *best)

    initial: StateKey = (tables.context(Shutdown()), *([0] * slots))
    index: dict[StateKey, int] = {initial: 0}
    states: list[StateKey] = [initial]
    parent: list[int] = [-1]
    via: list[Event | None] = [None]
    depth: list[int] = [0]
    violations: dict[str, Violation] = {}
    transitions = probes = beyond = unfollowed = 0

    def build(state: StateKey) -> Process:
        pairs = []
        for slot, number in enumerate(state[1:]):
            session = tables.sessions[number]
            if session is not None:
                pairs.append((SESSION_IDS[slot], session))
        return Process(tuple(pairs), tables.shutdown_of(state[0], state[1:]))

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

    def record(
        item: Property,
        number: int,
        extra: Sequence[Event],
        *,
        transition: bool,
        probe: Probe | None = None,
    ) -> None:
        if item.id in violations:
            return
        path_states, events = path_to(number)
        check_after = len(events) if transition else len(events) - 1
        violations[item.id] = build_violation(
            item, path_states, [*events, *extra], check_after, step_fn, bounds, probe
        )

    def check_new(number: int) -> None:
        state = states[number]
        context = state[0]
        for slot, local in enumerate(state[1:]):
            if local == 0:
                continue
            for item, witness in tables.verdicts_of(local, context):
                extra = [_at_slot(event, slot) for event in witness]
                record(item, number, extra, transition=False)
        for item, witness in tables.verdicts_of(0, context):
            record(item, number, list(witness), transition=False)

    context_inside: dict[int, bool] = {}

    def inside_state(context: int, numbers: Sequence[int]) -> bool:
        found = context_inside.get(context)
        if found is None:
            found = context_inside[context] = within_bounds(
                Process((), tables.contexts[context]), bounds
            )
        return found and all(inside[n] for n in numbers)

    expandable: list[bool] = [True]

    def add(key: StateKey, from_state: int, event: Event) -> None:
        nonlocal beyond
        number = len(states)
        index[key] = number
        states.append(key)
        parent.append(from_state)
        via.append(event)
        depth.append(depth[from_state] + 1)
        check_new(number)
        within = inside_state(key[0], key[1:])
        expandable.append(within)
        if not within:
            beyond += 1

    check_new(0)
    complete, interrupted = True, False
    next_report = PROGRESS_EVERY
    head = 0
    try:
        while head < len(states):
            if search_ends(len(states), violations, stop_at_first, max_states):
                complete = False
                break
            state = states[head]
            context, numbers = state[0], state[1:]
            if not expandable[head]:
                head += 1
                continue
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
                expansion = tables.moves_of(local, offered, context)
                transitions += expansion.transitions
                probes += expansion.probes
                unfollowed += expansion.miscounted
                for item, probe in expansion.probe_failures:
                    record(item, head, [_at_slot(probe.event, slot)], transition=True, probe=probe)
                for event in expansion.raised:
                    record(STEP_PROPERTY, head, [_at_slot(event, slot)], transition=True)
                for event, failing in expansion.broken:
                    for item, witness in failing:
                        renamed = [_at_slot(e, slot) for e in (event, *witness)]
                        record(item, head, renamed, transition=True)
                for after, event in expansion.successors:
                    changed = (*numbers[:slot], after, *numbers[slot + 1 :])
                    key = key_of(context, changed)
                    if key not in index:
                        add(key, head, _at_slot(event, slot))
            process = events_of_context.get(context)
            if process is None:
                process = events_of_context[context] = [
                    (event, isinstance(event, SHUTDOWN_ONLY))
                    for event in process_events(tables.contexts[context], bounds)
                ]
            shutdown: Shutdown | None = None
            for position, (event, shutdown_only) in enumerate(process):
                transitions += 1
                if shutdown_only:
                    if shutdown is None:
                        shutdown = tables.shutdown_of(context, numbers)
                    moves = [tables.shutdown_move(shutdown, position, event)]
                    changed = numbers
                else:
                    moves = [
                        tables.process_move(local, context, position, event) for local in numbers
                    ]
                    changed = tuple([move.session for move in moves])
                for move in moves:
                    for item, witness in move.failures:
                        record(item, head, [event, *witness], transition=True)
                if any(move.raised for move in moves):
                    record(STEP_PROPERTY, head, [event], transition=True)
                    continue
                if any(move.miscounted for move in moves):
                    unfollowed += 1
                    continue
                after_context = moves[0].context
                if any(move.context != after_context for move in moves):
                    name = type(event).__name__
                    raise EngineMismatch(
                        f"{name} moves the shutdown record differently per session"
                    )
                if after_context != context or changed != numbers:
                    key = key_of(after_context, changed)
                    if key not in index:
                        add(key, head, event)
            head += 1
            if progress is not None and len(states) >= next_report:
                next_report += PROGRESS_EVERY
                progress(
                    Progress(len(states), transitions, depth[-1], time.perf_counter() - started)
                )
    except KeyboardInterrupt:  # Ctrl-C: report what was found so far
        interrupted = True
    return CheckResult(
        bounds=bounds,
        symmetry=symmetry,
        states=len(states),
        transitions=transitions,
        depth=depth[-1],
        elapsed=time.perf_counter() - started,
        violations=ordered(violations, properties),
        complete=complete and not unfollowed and not interrupted,
        cpu=time.process_time() - cpu_started,
        engine="sessions",
        probes=probes,
        beyond_bounds=beyond,
        unfollowed=unfollowed,
        interrupted=interrupted,
    )


def _at_slot(event: Event, slot: int) -> Event:
    """``event`` (named for ``MINI_ID``) named for the session in ``slot``."""
    if getattr(event, "session_id", None) != MINI_ID or slot == 0:
        return event
    renamed: Event = event._replace(session_id=SESSION_IDS[slot])
    return renamed
