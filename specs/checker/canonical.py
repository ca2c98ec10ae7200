"""Canonical forms of states under renaming of agents and sessions.

Agents and sessions are interchangeable names: two states that differ only by
a renaming behave alike (the model compares agents by identity and never reads
a session id), and every property is stated without names. The checker keeps
one representative per class, which divides the state space by up to
``agents! * sessions!``.

The key of a state is a flat tuple of small ints. For each order of its
sessions, agents are numbered by first occurrence (registered agent, segment
owners, running call); the key is the least of these encodings. It is the
same for every renaming of a state (sound) and differs for states that are not
renamings of each other (the encoding is injective), so equal keys mean
equivalent states.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations
from typing import NamedTuple

from memory_lifecycle.model import InFlight, Process, Segment, Session, SessionId

from .world import AGENTS, SESSION_IDS

Key = tuple[int, ...]


class Renaming(NamedTuple):
    """How a state's names map onto its canonical form."""

    sessions: tuple[SessionId, ...]
    """``sessions[i]`` is the original id of canonical session ``SESSION_IDS[i]``."""
    agents: dict[object, int]
    """Original agent -> canonical number (``AGENTS[number - 1]``)."""


def _encode(
    pairs: Sequence[tuple[SessionId, Session]], numbers: dict[object, int], flags: int
) -> list[int]:
    """Encode sessions in the given order, numbering agents by first occurrence."""
    out = [flags, len(pairs)]
    for _, session in pairs:
        agent = session.registered
        if agent is None:
            registered = 0
        else:
            registered = numbers.get(agent, 0)
            if not registered:
                registered = numbers[agent] = len(numbers) + 1
        out.append(session.generation)
        out.append(session.committed)
        out.append(session.follow_up_through)
        out.append(registered)
        out.append(len(session.segments))
        for segment in session.segments:
            owner = segment.owner
            if owner is None:
                number = 0
            else:
                number = numbers.get(owner, 0)
                if not number:
                    number = numbers[owner] = len(numbers) + 1
            out.append(segment.start)
            out.append(segment.end)
            out.append(number)
        running = session.in_flight
        if running is None:
            out.append(0)
        else:
            agent = running.agent
            number = numbers.get(agent, 0)
            if not number:
                number = numbers[agent] = len(numbers) + 1
            out.append(number)
            out.append(running.captured_generation)
            out.append(2 if running.follow_up else 1)
    return out


def _flags(process: Process) -> int:
    return (1 if process.draining else 0) | (2 if process.drained else 0)


def canonical_key(process: Process) -> tuple[Key, Renaming]:
    """The canonical key of ``process`` and the renaming that reaches it."""
    pairs = process.sessions
    flags = _flags(process)
    if len(pairs) <= 1:
        numbers: dict[object, int] = {}
        key = tuple(_encode(pairs, numbers, flags))
        return key, Renaming(tuple(pair[0] for pair in pairs), numbers)
    best: list[int] | None = None
    best_order: Sequence[tuple[SessionId, Session]] = pairs
    best_numbers: dict[object, int] = {}
    for order in permutations(pairs):
        numbers = {}
        encoded = _encode(order, numbers, flags)
        if best is None or encoded < best:
            best, best_order, best_numbers = encoded, order, numbers
    assert best is not None
    return tuple(best), Renaming(tuple(pair[0] for pair in best_order), best_numbers)


def plain_key(process: Process) -> Key:
    """A key without symmetry reduction: names are kept as they are."""
    numbers: dict[object, int] = {agent: index for index, agent in enumerate(AGENTS, start=1)}
    ids = [SESSION_IDS.index(str(key)) for key, _ in process.sessions]
    return (*ids, *_encode(process.sessions, numbers, _flags(process)))


def apply_renaming(process: Process, renaming: Renaming) -> Process:
    """The canonical form of ``process`` under ``renaming`` (see ``canonical_key``)."""
    by_id = dict(process.sessions)
    agents: dict[object, object] = {
        agent: AGENTS[number - 1] for agent, number in renaming.agents.items()
    }
    pairs = []
    for index, session_id in enumerate(renaming.sessions):
        pairs.append((SESSION_IDS[index], rename_session(by_id[session_id], agents)))
    return Process(tuple(pairs), process.draining, process.drained)


def rename_session(session: Session, agents: dict[object, object]) -> Session:
    """``session`` with every agent replaced through ``agents``."""
    registered = session.registered
    segments = tuple(
        Segment(s.start, s.end, None if s.owner is None else agents[s.owner])
        for s in session.segments
    )
    running = session.in_flight
    return Session(
        session.generation,
        session.committed,
        None if registered is None else agents[registered],
        segments,
        None
        if running is None
        else InFlight(agents[running.agent], running.captured_generation, running.follow_up),
        session.follow_up_through,
    )


def is_identity(process: Process, renaming: Renaming) -> bool:
    """True when ``renaming`` leaves ``process`` exactly as it is."""
    for index, session_id in enumerate(renaming.sessions):
        if session_id != SESSION_IDS[index]:
            return False
    return all(AGENTS[number - 1] is agent for agent, number in renaming.agents.items())


def canonical(process: Process) -> tuple[Key, Process, Renaming]:
    """Key, canonical form and renaming of ``process``."""
    key, renaming = canonical_key(process)
    if is_identity(process, renaming):
        return key, process, renaming
    return key, apply_renaming(process, renaming), renaming
