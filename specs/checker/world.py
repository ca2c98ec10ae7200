"""The bounded world the model checker explores: its handles, bounds and events.

Agents and sessions are small fixed handles. The model compares agents with
``is``, so every state and event uses the same ``AGENTS`` objects; session ids
are the strings in ``SESSION_IDS`` (ordered, as ``Process`` requires).

Time is abstract: a drain started at ``BEFORE`` has the deadline ``DEADLINE``,
and a clock reading is either ``BEFORE`` (time left) or ``DEADLINE`` (the
deadline has passed). Call ids are abstract too: every request offers the id
``FRESH_CALL_ID`` (the model records it only if a call starts, and a session
runs one call at a time), and a call end names either the running call or a
*foreign* id, which stands for every call the session no longer runs (a late
end after a reset, a failure or a test's edit).

Test-hook edits (``EntryEdited``) are *probes*: the checker applies each to
every reachable state to see that it raises exactly when the entry would be
malformed (S7), but never explores the states they write.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

from memory_lifecycle import model


class Handle:
    """An opaque agent handle with a readable name; equal only to itself."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


AGENTS: tuple[Handle, ...] = tuple(Handle(name) for name in "ABCDEF")
"""Every agent handle the checker may use, in canonical order."""

SESSION_IDS: tuple[str, ...] = ("s1", "s2", "s3", "s4")
"""Every session id the checker may use, in canonical order."""

BEFORE = 0.0
"""A clock reading with time left before ``DEADLINE``."""
DEADLINE = 1.0
"""The deadline of every drain and timed wait; a reading of ``DEADLINE`` means it passed."""
FRESH_CALL_ID = 1
"""The id every request offers for the provider call it may start."""
DRAIN_WORKERS = 2
"""The ``workers`` a drain is started with."""


@dataclass(frozen=True)
class Bounds:
    """How large a world to explore, and which kinds of event may happen in it.

    ``sessions``/``agents``: how many handles of each kind exist.
    ``max_generation``: turns a session may complete (its entry may be
    discarded or reset and recreated); ephemeral turns are offered under the
    same bound, so a model that counts them stays finite. The flags switch
    event families on or off (``FAMILIES`` says what each one adds).
    """

    sessions: int = 2
    agents: int = 2
    max_generation: int = 3
    explicit_turn_agent: bool = True
    ephemeral: bool = True
    commit_agent: bool = True
    agent_cannot_commit: bool = True
    wait: bool = True
    in_call: bool = True
    whole: bool = True
    unregister: bool = True
    provider_success: bool = True
    provider_failure: bool = True
    provider_fatal: bool = True
    stale_ends: bool = True
    follow_up: bool = True
    discard: bool = True
    drain: bool = True
    background: bool = True
    reset: bool = True
    edits: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.sessions <= len(SESSION_IDS):
            raise ValueError(f"sessions must be 1..{len(SESSION_IDS)}, got {self.sessions}")
        if not 1 <= self.agents <= len(AGENTS):
            raise ValueError(f"agents must be 1..{len(AGENTS)}, got {self.agents}")
        if self.max_generation < 1:
            raise ValueError(f"max_generation must be at least 1, got {self.max_generation}")

    def without(self, *families: str) -> Bounds:
        """These bounds with the named event families (``FAMILIES``) left out."""
        unknown = [
            repr(name) for name in families if not isinstance(name, str) or name not in FAMILIES
        ]
        if unknown:
            raise ValueError(
                f"unknown event famil{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(unknown)}; choose from {', '.join(FAMILIES)}"
            )
        return dataclasses.replace(self, **dict.fromkeys(families, False))

    @property
    def agent_handles(self) -> tuple[Handle, ...]:
        """The agents of this world."""
        return AGENTS[: self.agents]

    @property
    def session_ids(self) -> tuple[str, ...]:
        """The session ids of this world."""
        return SESSION_IDS[: self.sessions]


FAMILIES: dict[str, str] = {
    "explicit_turn_agent": "turns that name an agent (which registers it)",
    "ephemeral": "ephemeral turns",
    "commit_agent": "commits that name an agent to adopt an ownerless segment",
    "agent_cannot_commit": "commits naming an agent that cannot commit",
    "wait": "waiting commits, with time left, expired, or unbounded",
    "in_call": "commits and drains requested from inside a provider call",
    "whole": "whole commits (commit_in_background)",
    "unregister": "unregistering agents",
    "provider_success": "providers that succeed",
    "provider_failure": "providers that raise an Exception",
    "provider_fatal": "providers that raise a BaseException",
    "stale_ends": "call ends naming a call the session does not run",
    "follow_up": "follow-up commits run by the lifecycle",
    "discard": "discarding entries",
    "drain": "the shutdown drain: start, workers taking sessions, polls, end",
    "background": "background commits admitted and ended",
    "reset": "reset (forget everything)",
    "edits": "test-hook edits of an entry (probed, not followed)",
}
"""Every event family flag of ``Bounds``, and what it adds to the world."""


DEFAULT_BOUNDS = Bounds()
"""Two sessions, two agents, three turns each, every event family (about eleven
million states: longer than ``THOROUGH_BOUNDS``)."""

CHECK_BOUNDS = Bounds(sessions=2, agents=2, max_generation=2)
"""What ``memory-lifecycle check`` explores by default: two sessions, two agents,
two turns each, every event family (seconds)."""

SEGMENT_BOUNDS = Bounds(sessions=1, agents=2, max_generation=3).without(
    "wait", "in_call", "drain", "background", "reset", "edits"
)
"""The second world ``memory-lifecycle check`` explores by default: one session with
three turns, so that extensions and merges across segment boundaries (three turns
of two owners) are reached, with only the families that shape segments (under a
second)."""

PROCESS_BOUNDS = Bounds(sessions=2, agents=1, max_generation=1).without(
    "ephemeral", "wait", "in_call", "provider_fatal", "stale_ends", "edits"
)
"""The third world ``memory-lifecycle check`` explores by default, stepping whole
processes (the product engine): two sessions, one agent, one turn each. The
sessions engine steps each session alone, so this is where ``model.step`` runs
with two sessions present and where S6 (a session event changes no other
session) is checked (seconds)."""

GRAPH_BOUNDS = Bounds(sessions=1, agents=2, max_generation=3)
"""What ``reachable_graph()`` explores by default: one session, two agents, three
turns, small enough to hold every edge."""

THOROUGH_BOUNDS = Bounds(sessions=2, agents=2, max_generation=3).without("in_call", "background")
"""What ``check --thorough`` explores: two sessions, two agents, three turns each
(merges across segment boundaries need three turns), in minutes. It leaves out
the two families whose behaviour does not depend on turns, requests and drains
from inside a provider call and background commits (the default bound has
them): each would double the states."""


# --- events ----------------------------------------------------------------------


def foreign_call_id(session: model.Session | None) -> int:
    """An id that is not the session's running call."""
    if session is None or session.in_flight is None:
        return FRESH_CALL_ID
    return session.in_flight.call_id + 1


def session_events(
    session_id: str,
    session: model.Session | None,
    agents: tuple[object, ...],
    bounds: Bounds,
    shutdown: model.Shutdown,
) -> list[model.Event]:
    """The events of one session allowed in its state, naming only ``agents``.

    They read nothing but this session and the shutdown record's phase, so the
    session-compositional engine can expand each session alone.
    """
    events: list[model.Event] = [model.RegisterAgent(session_id, agent) for agent in agents]
    generation = 0 if session is None else session.generation
    if generation < bounds.max_generation:
        events.append(model.TurnCompleted(session_id))
        if bounds.explicit_turn_agent:
            events.extend(model.TurnCompleted(session_id, agent) for agent in agents)
        if bounds.ephemeral:
            events.append(model.TurnCompleted(session_id, None, True))
    if session is not None and bounds.unregister and session.registered is not None:
        events.append(model.UnregisterAgent(session_id))
    events.extend(_commit_requests(session_id, session, agents, bounds))
    running = session.in_flight if session is not None else None
    if running is not None and running.agent is not None:
        if bounds.provider_success:
            events.append(model.CommitSucceeded(session_id, running.call_id))
        if bounds.provider_failure:
            events.append(model.CommitFailed(session_id, running.call_id))
        if bounds.provider_fatal:
            events.append(model.CommitFailed(session_id, running.call_id, fatal=True))
    if bounds.stale_ends:
        foreign = foreign_call_id(session)
        events.append(model.CommitSucceeded(session_id, foreign))
        events.append(model.CommitFailed(session_id, foreign))
    if bounds.discard:
        events.append(model.Discard(session_id))
    if bounds.drain:
        events.append(model.DrainNext(session_id, BEFORE, FRESH_CALL_ID))
        if shutdown.phase == model.DRAINING:
            events.append(model.DrainNext(session_id, DEADLINE, FRESH_CALL_ID))
    return events


def _commit_requests(
    session_id: str, session: model.Session | None, agents: tuple[object, ...], bounds: Bounds
) -> list[model.Event]:
    call = FRESH_CALL_ID
    adopters: tuple[object | None, ...] = (None, *agents) if bounds.commit_agent else (None,)
    events: list[model.Event] = [
        model.CommitRequested(session_id, call, agent) for agent in adopters
    ]
    if bounds.agent_cannot_commit:
        events.extend(
            model.CommitRequested(session_id, call, agent, agent_can_commit=False)
            for agent in agents
        )
    if bounds.whole:
        events.extend(
            model.CommitRequested(session_id, call, agent, whole=True) for agent in adopters
        )
    if bounds.wait:
        events.append(
            model.CommitRequested(session_id, call, wait=True, now=BEFORE, deadline=DEADLINE)
        )
        events.append(
            model.CommitRequested(session_id, call, wait=True, now=DEADLINE, deadline=DEADLINE)
        )
        events.append(model.CommitRequested(session_id, call, wait=True))
    if bounds.in_call:
        events.append(model.CommitRequested(session_id, call, in_call=True))
        if bounds.wait:
            events.append(
                model.CommitRequested(
                    session_id, call, wait=True, in_call=True, now=BEFORE, deadline=DEADLINE
                )
            )
    if bounds.follow_up and session is not None:
        events.append(model.CommitRequested(session_id, call, follow_up=True))
    return events


def process_events(shutdown: model.Shutdown, bounds: Bounds) -> list[model.Event]:
    """The process events allowed with ``shutdown``: background commits, the drain, reset.

    They read only the shutdown record (``DrainNext`` names a session and is
    offered with that session's events).
    """
    events: list[model.Event] = []
    if bounds.background:
        if shutdown.background_commits < 1:
            events.append(model.BackgroundCommitRequested())
        else:
            events.append(model.BackgroundCommitEnded())
    if bounds.drain:
        events.append(model.DrainStarted(BEFORE, DEADLINE, DRAIN_WORKERS))
        if bounds.in_call:
            events.append(model.DrainStarted(BEFORE, DEADLINE, DRAIN_WORKERS, in_call=True))
        # In every phase: a drain's end and its workers' last polls may come after
        # another drain, or a reset, has already ended it.
        events.append(model.DrainPoll(BEFORE))
        events.append(model.DrainPoll(BEFORE, worker=True))
        events.append(model.DrainPoll(DEADLINE))
        events.append(model.DrainFinished())
    if bounds.reset:
        events.append(model.Reset())
    return events


def enabled_events(
    state: model.Process, bounds: Bounds, *, symmetric: bool = False
) -> list[model.Event]:
    """Every event the world offers in ``state`` (probes not included).

    With ``symmetric``, interchangeable handles are represented once: of the
    sessions without an entry only the first is offered, and of the agents no
    state mentions only the first. Under symmetry reduction that loses nothing
    (the other choices lead to renamings of the same states).
    """
    present = dict(state.sessions)
    agents = offered_agents(state, bounds, symmetric=symmetric)
    session_ids = list(bounds.session_ids)
    if symmetric:
        absent = [key for key in session_ids if key not in present]
        session_ids = [key for key in session_ids if key in present] + absent[:1]
    events: list[model.Event] = []
    for session_id in session_ids:
        events.extend(
            session_events(session_id, present.get(session_id), agents, bounds, state.shutdown)
        )
    events.extend(process_events(state.shutdown, bounds))
    return events


def offered_agents(state: model.Process, bounds: Bounds, *, symmetric: bool) -> tuple[Handle, ...]:
    """The agents events may name: all, or under symmetry the used ones and one fresh."""
    agents = bounds.agent_handles
    if not symmetric:
        return agents
    used = agents_in(state)
    fresh = [agent for agent in agents if agent not in used]
    return tuple(agent for agent in agents if agent in used) + tuple(fresh[:1])


def agents_in(state: model.Process) -> set[object]:
    """Every agent handle the state mentions."""
    used: set[object] = set()
    for _, session in state.sessions:
        if session.registered is not None:
            used.add(session.registered)
        for segment in session.segments:
            if segment.owner is not None:
                used.add(segment.owner)
        if session.in_flight is not None and session.in_flight.agent is not None:
            used.add(session.in_flight.agent)
    return used


# --- probes: test-hook edits -----------------------------------------------------


class Probe(NamedTuple):
    """An edit applied to a state to check the answer, never explored further."""

    event: model.EntryEdited
    malformed: bool
    """True when the entry it would write is not well-formed: the edit must raise."""


def edit_probes(
    session_id: str, session: model.Session | None, agents: tuple[object, ...], bounds: Bounds
) -> list[Probe]:
    """Test-hook edits of one entry: well-formed ones and ones that must be refused."""
    if not bounds.edits:
        return []
    generation = 0 if session is None else session.generation
    committed = 0 if session is None else session.committed
    edit = model.EntryEdited

    def ok(field: str, value: object) -> Probe:
        return Probe(edit(session_id, field, value), False)

    def bad(field: str, value: object) -> Probe:
        return Probe(edit(session_id, field, value), True)

    probes = [
        ok("in_flight", True),
        ok("in_flight", False),
        ok("agent", None),
        *(ok("agent", agent) for agent in agents[:1]),
        ok("generation", generation),
        ok("generation", generation + 1),
        ok("committed_generation", generation),
        ok("entry", None),
        ok("entry", model.Session()),
        bad("committed_generation", generation + 1),
        bad("no_such_field", 1),
        bad("in_flight", "yes"),
        bad("entry", "not a session"),
        bad("segments", (model.Segment(committed + 2, committed + 2, None),)),
        bad("segments", "not segments"),
        bad("generation", True),
        bad("entry", model.Session(committed=-1, segments=(model.Segment(0, 0, None),))),
    ]
    if session is not None:
        probes.append(ok("segments", session.segments))
    if generation > committed:
        probes.append(ok("generation", committed))
    if committed > 0:
        probes.append(bad("committed_generation", committed - 1))
        probes.append(bad("generation", committed - 1))
    return probes


def within_bounds(state: model.Process, bounds: Bounds) -> bool:
    """True when every counter of ``state`` lies within the world's bounds.

    The model never leaves them; a broken step function may (counting an
    ephemeral turn, say). The checker then reports the transition that left
    and does not explore beyond it, so exploration always ends.
    """
    limit = bounds.max_generation
    for _, session in state.sessions:
        if session.generation > limit or session.committed > limit:
            return False
        if session.follow_up_through > limit or len(session.segments) > limit:
            return False
    shutdown = state.shutdown
    counts = (shutdown.queued, shutdown.calls)
    return all(0 <= count <= bounds.sessions for count in counts) and (
        0 <= shutdown.background_commits <= 1
    )
