"""L1 and L2 decided exactly on a reachable graph (small bounds).

The checker decides L1/L2 by driving states with one schedule (providers
succeed; commit, adopting when needed; follow-ups as the lifecycle starts
them); that shows a goal state *is* reachable whenever the schedule gets
there. These functions answer the graph question itself, over every path:
which reachable states can reach no goal state along the allowed edges
(never a reset, which would reach the empty state from anywhere). Tests use
them to confirm the schedule.
"""

from __future__ import annotations

from collections.abc import Callable

from memory_lifecycle.model import (
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Event,
    Outcome,
    Process,
    Reset,
)

from .explore import Edge, ReachableGraph


def _succeeding(event: Event) -> bool:
    """Every event except a provider failure and a reset: the world where providers succeed."""
    return not isinstance(event, CommitFailed | Reset)


def _follow_up_only(event: Event) -> bool:
    """Only what the lifecycle does by itself: provider outcomes that succeed and
    follow-up commits; no new boundary."""
    if isinstance(event, CommitRequested):
        return event.follow_up
    return isinstance(event, CommitSucceeded)


def cannot_reach(
    graph: ReachableGraph, goal: Callable[[Process], bool], allowed: Callable[[Event], bool]
) -> list[Process]:
    """The reachable states from which no ``goal`` state is reachable along ``allowed`` edges."""
    incoming: dict[Process, list[Process]] = {}
    for edge in graph.edges:
        if allowed(edge.event):
            incoming.setdefault(edge.after, []).append(edge.before)
    reached = {state for state in graph.states if goal(state)}
    frontier = list(reached)
    while frontier:
        state = frontier.pop()
        for before in incoming.get(state, ()):
            if before not in reached:
                reached.add(before)
                frontier.append(before)
    return [state for state in graph.states if state not in reached]


def _all_clean(state: Process) -> bool:
    return all(
        session.generation <= session.committed and session.in_flight is None
        for _, session in state.sessions
    )


def l2_stuck_states(graph: ReachableGraph) -> list[Process]:
    """L2 in graph form: states from which, with providers that succeed, no state
    with nothing dirty and nothing in flight is reachable."""
    return cannot_reach(graph, _all_clean, _succeeding)


def l1_stuck_states(graph: ReachableGraph) -> list[Process]:
    """L1 in graph form (one session): states owing a follow-up, not draining, from
    which succeeding providers and follow-ups alone never commit the owed work.

    A debt dropped because the segment has no agent to adopt it counts as
    settled (the model leaves that work to the next boundary).
    """
    if any(len(state.sessions) > 1 for state in graph.states):
        raise ValueError("l1_stuck_states follows one session; explore with sessions=1")
    edges: dict[Process, list[Edge]] = {}
    for edge in graph.edges:
        if _follow_up_only(edge.event):
            edges.setdefault(edge.before, []).append(edge)
    stuck = []
    for state in graph.states:
        if state.draining or not state.sessions:
            continue
        debt = state.sessions[0][1].follow_up_through
        if debt and not _discharged(state, debt, edges):
            stuck.append(state)
    return stuck


def _discharged(start: Process, debt: int, edges: dict[Process, list[Edge]]) -> bool:
    seen = {start}
    frontier = [start]
    while frontier:
        state = frontier.pop()
        for edge in edges.get(state, ()):
            if edge.result is Outcome.NO_AGENT:
                return True
            after = edge.after
            session = after.sessions[0][1] if after.sessions else None
            if session is None or session.committed >= debt:
                return True
            if after not in seen:
                seen.add(after)
                frontier.append(after)
    return False
