"""Canonical forms of states under renaming of agents, sessions and call ids.

Agents, sessions and call ids are interchangeable names: two states that
differ only by a renaming behave alike (the model compares agents by identity,
call ids by equality within their session, and never reads a session id), and
every property is stated without names. The checker keeps one representative
per class, which divides the state space by up to ``agents! * sessions!``.

The key of a state is a flat tuple of small ints: the shutdown record, then
for each order of its sessions the sessions with agents numbered by first
occurrence (registered agent, segment owners, running call). Each session's
running call id is numbered too (0 stays 0, the id of a test hook's mark; any
other id is 1: a session runs one call at a time), and ``drain_failures`` is
capped at ``DRAIN_ATTEMPTS`` (see ``world.drain_attempts_cap``). The key is the
least of these encodings. It is the same for every renaming of a state (sound)
and differs for states that are not renamings of each other (the encoding is
injective), so equal keys mean equivalent states.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations
from typing import NamedTuple

from memory_lifecycle.model import DRAIN_ATTEMPTS, Process, Session, SessionId, Shutdown

from .world import AGENTS, SESSION_IDS

Key = tuple[object, ...]

PHASES = {"RUNNING": 0, "DRAINING": 1, "DRAINED": 2}


class Renaming(NamedTuple):
    """How a state's names map onto its canonical form."""

    sessions: tuple[SessionId, ...]
    """``sessions[i]`` is the original id of canonical session ``SESSION_IDS[i]``."""
    agents: dict[object, int]
    """Original agent -> canonical number (``AGENTS[number - 1]``)."""


def shutdown_key(shutdown: Shutdown) -> tuple[object, ...]:
    """The shutdown record as a tuple (it names no session or agent)."""
    return (
        PHASES.get(shutdown.phase, shutdown.phase),
        shutdown.deadline,
        shutdown.waits_for_calls,
        shutdown.queued,
        shutdown.calls,
        shutdown.background_commits,
    )


def call_number(call_id: int) -> int:
    """The canonical number of a running call's id."""
    return 0 if call_id == 0 else 1


def _number(agent: object, numbers: dict[object, int]) -> int:
    if agent is None:
        return 0
    number = numbers.get(agent, 0)
    if not number:
        number = numbers[agent] = len(numbers) + 1
    return number


def _encode(pairs: Sequence[tuple[SessionId, Session]], numbers: dict[object, int]) -> list[int]:
    """Encode sessions in the given order, numbering agents by first occurrence."""
    out = [len(pairs)]
    for _, session in pairs:
        out.append(session.generation)
        out.append(session.committed)
        out.append(session.follow_up_through)
        out.append(min(session.drain_failures, DRAIN_ATTEMPTS))
        out.append(_number(session.registered, numbers))
        out.append(len(session.segments))
        for segment in session.segments:
            out.append(segment.start)
            out.append(segment.end)
            out.append(_number(segment.owner, numbers))
        running = session.in_flight
        if running is None:
            out.append(0)
        else:
            out.append(1)
            out.append(_number(running.agent, numbers))
            out.append(running.captured_generation)
            out.append(2 if running.follow_up else 1)
            out.append(call_number(running.call_id))
    return out


def canonical_key(process: Process) -> tuple[Key, Renaming]:
    """The canonical key of ``process`` and the renaming that reaches it."""
    pairs = process.sessions
    head = shutdown_key(process.shutdown)
    if len(pairs) <= 1:
        numbers: dict[object, int] = {}
        key = (*head, *_encode(pairs, numbers))
        return key, Renaming(tuple(pair[0] for pair in pairs), numbers)
    best: list[int] | None = None
    best_order: Sequence[tuple[SessionId, Session]] = pairs
    best_numbers: dict[object, int] = {}
    for order in permutations(pairs):
        numbers = {}
        encoded = _encode(order, numbers)
        if best is None or encoded < best:
            best, best_order, best_numbers = encoded, order, numbers
    assert best is not None
    return (*head, *best), Renaming(tuple(pair[0] for pair in best_order), best_numbers)


def plain_key(process: Process) -> Key:
    """A key without symmetry reduction: agent and session names are kept."""
    numbers: dict[object, int] = {agent: index for index, agent in enumerate(AGENTS, start=1)}
    ids = [SESSION_IDS.index(str(key)) for key, _ in process.sessions]
    return (*shutdown_key(process.shutdown), *ids, *_encode(process.sessions, numbers))


def apply_renaming(process: Process, renaming: Renaming) -> Process:
    """The canonical form of ``process`` under ``renaming`` (see ``canonical_key``)."""
    by_id = dict(process.sessions)
    agents: dict[object, object] = {
        agent: AGENTS[number - 1] for agent, number in renaming.agents.items()
    }
    pairs = []
    for index, session_id in enumerate(renaming.sessions):
        pairs.append((SESSION_IDS[index], rename_session(by_id[session_id], agents)))
    return process._replace(sessions=tuple(pairs))


def rename_session(session: Session, agents: dict[object, object]) -> Session:
    """``session`` with every agent replaced through ``agents`` (None stays None)."""

    def renamed(agent: object) -> object:
        return None if agent is None else agents[agent]

    segments = tuple(s._replace(owner=renamed(s.owner)) for s in session.segments)
    running = session.in_flight
    return session._replace(
        registered=renamed(session.registered),
        segments=segments,
        in_flight=None if running is None else running._replace(agent=renamed(running.agent)),
    )


def normal_session(session: Session) -> Session:
    """``session`` with its call id numbered and ``drain_failures`` capped (as in keys)."""
    running = session.in_flight
    if running is not None and running.call_id != call_number(running.call_id):
        session = session._replace(in_flight=running._replace(call_id=call_number(running.call_id)))
    if session.drain_failures > DRAIN_ATTEMPTS:
        session = session._replace(drain_failures=DRAIN_ATTEMPTS)
    return session


def normal_process(process: Process) -> Process:
    """``process`` with every session normalised (``normal_session``)."""
    pairs = tuple((key, normal_session(value)) for key, value in process.sessions)
    return process._replace(sessions=pairs)


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
