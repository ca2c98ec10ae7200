"""The bounded world the model checker explores: its handles, bounds and events.

Agents and sessions are small fixed handles. The model compares agents with
``is``, so every state and event uses the same ``AGENTS`` objects; session ids
are the strings in ``SESSION_IDS`` (ordered, as ``Process`` requires).
"""

from __future__ import annotations

from dataclasses import dataclass

from memory_lifecycle.model import (
    BackgroundCommitRequested,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    DrainFinished,
    DrainStarted,
    Event,
    Process,
    RegisterAgent,
    Session,
    TurnCompleted,
    UnregisterAgent,
    WaitExpired,
)


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


@dataclass(frozen=True)
class Bounds:
    """How large a world to explore, and which kinds of event may happen in it.

    ``sessions``/``agents``: how many handles of each kind exist.
    ``max_generation``: turns a session may complete (its entry may be
    discarded and recreated). The flags switch event families on or off.
    """

    sessions: int = 2
    agents: int = 2
    max_generation: int = 3
    explicit_turn_agent: bool = True
    """TurnCompleted may name an agent other than the registered one."""
    ephemeral: bool = True
    commit_agent: bool = True
    """CommitRequested may name an agent (to adopt an ownerless segment)."""
    wait: bool = True
    """Waiting committers: CommitRequested(wait=True) and WaitExpired."""
    unregister: bool = True
    provider_success: bool = True
    provider_failure: bool = True
    provider_fatal: bool = True
    """A BaseException escaping the provider (CommitFailed(fatal=True))."""
    follow_up: bool = True
    """The shell runs an owed follow-up: CommitRequested(follow_up=True)."""
    discard: bool = True
    drain: bool = True
    background: bool = True
    """BackgroundCommitRequested (admitted, or refused while draining)."""

    def __post_init__(self) -> None:
        if not 1 <= self.sessions <= len(SESSION_IDS):
            raise ValueError(f"sessions must be 1..{len(SESSION_IDS)}, got {self.sessions}")
        if not 1 <= self.agents <= len(AGENTS):
            raise ValueError(f"agents must be 1..{len(AGENTS)}, got {self.agents}")
        if self.max_generation < 1:
            raise ValueError(f"max_generation must be at least 1, got {self.max_generation}")

    @property
    def agent_handles(self) -> tuple[Handle, ...]:
        """The agents of this world."""
        return AGENTS[: self.agents]

    @property
    def session_ids(self) -> tuple[str, ...]:
        """The session ids of this world."""
        return SESSION_IDS[: self.sessions]


DEFAULT_BOUNDS = Bounds()
"""The default world: two sessions, two agents, three turns each, every event family
(1,788,120 distinct states up to renaming)."""

CHECK_BOUNDS = Bounds(sessions=2, agents=3, max_generation=2)
"""What ``memory-lifecycle check`` explores by default: two sessions, three agents,
two turns each, every event family (117,198 distinct states; seconds)."""

GRAPH_BOUNDS = Bounds(sessions=1, agents=2, max_generation=3)
"""What ``reachable_graph()`` explores by default: one session, two agents, three
turns (2,337 states, 36,472 edges), small enough to hold every edge."""

THOROUGH_BOUNDS = DEFAULT_BOUNDS
"""What ``check --thorough`` explores: over a million distinct states."""


def enabled_events(state: Process, bounds: Bounds, *, symmetric: bool = False) -> list[Event]:
    """Every event allowed in ``state`` within ``bounds``.

    With ``symmetric``, interchangeable handles are represented once: of the
    sessions without an entry only the first is offered, and of the agents no
    state mentions only the first. Under symmetry reduction that loses nothing
    (the other choices lead to renamings of the same states).
    """
    present = {key: value for key, value in state.sessions}
    agents: tuple[Handle, ...] = bounds.agent_handles
    if symmetric:
        used = _agents_in(state)
        fresh = [agent for agent in agents if agent not in used]
        agents = tuple(agent for agent in agents if agent in used) + tuple(fresh[:1])
    session_ids = list(bounds.session_ids)
    if symmetric:
        absent = [key for key in session_ids if key not in present]
        session_ids = [key for key in session_ids if key in present] + absent[:1]
    events: list[Event] = []
    for session_id in session_ids:
        session = present.get(session_id)
        events.extend(session_events(session_id, session, agents, bounds))
    events.extend(process_events(state, bounds))
    return events


def process_events(state: Process, bounds: Bounds) -> list[Event]:
    """The process events allowed in ``state``: background commit, drain start and end."""
    events: list[Event] = []
    if bounds.background:
        events.append(BackgroundCommitRequested())
    if bounds.drain:
        if not state.draining:
            events.append(DrainStarted())
        elif not state.drained:
            events.append(DrainFinished())
    return events


def session_events(
    session_id: str, session: Session | None, agents: tuple[object, ...], bounds: Bounds
) -> list[Event]:
    """The events of one session allowed in its state, naming only ``agents``."""
    events: list[Event] = [RegisterAgent(session_id, agent) for agent in agents]
    generation = 0 if session is None else session.generation
    if generation < bounds.max_generation:
        events.append(TurnCompleted(session_id))
        if bounds.explicit_turn_agent:
            events.extend(TurnCompleted(session_id, agent) for agent in agents)
    if bounds.ephemeral:
        events.append(TurnCompleted(session_id, None, True))
    if session is None:
        events.append(CommitRequested(session_id))
        return events
    if bounds.unregister and session.registered is not None:
        events.append(UnregisterAgent(session_id))
    commit_agents: tuple[object | None, ...] = (None,)
    if bounds.commit_agent:
        commit_agents += agents
    waits = (False, True) if bounds.wait else (False,)
    events.extend(
        CommitRequested(session_id, agent, wait) for agent in commit_agents for wait in waits
    )
    running = session.in_flight
    if running is not None:
        agent, captured = running.agent, running.captured_generation
        if bounds.wait:
            events.append(WaitExpired(session_id))
        if bounds.provider_success:
            events.append(CommitSucceeded(session_id, agent, captured))
        if bounds.provider_failure:
            events.append(CommitFailed(session_id, agent, captured))
        if bounds.provider_fatal:
            events.append(CommitFailed(session_id, agent, captured, fatal=True))
    elif bounds.follow_up and session.follow_up_through:
        events.append(CommitRequested(session_id, follow_up=True))
    if bounds.discard:
        events.append(Discard(session_id))
    return events


def _agents_in(state: Process) -> set[object]:
    """Every agent handle the state mentions."""
    used: set[object] = set()
    for _, session in state.sessions:
        if session.registered is not None:
            used.add(session.registered)
        for segment in session.segments:
            if segment.owner is not None:
                used.add(segment.owner)
        if session.in_flight is not None:
            used.add(session.in_flight.agent)
    return used
