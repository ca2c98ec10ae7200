"""Refinement: every step of the model is a declared abstract edge or stays put.

The reachable graph comes from the model checker. The fast tests explore the
default bound restricted to one session (every session-local behaviour at the
default turns and agents) and a two-session world (S6 isolation); the whole
default bound streams through the checker behind ``--thorough``.
"""

from __future__ import annotations

import dataclasses

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import Discard, Event, Process, Step
from memory_lifecycle.specs.abstraction import (
    REFINEMENT_ID,
    RefinementReport,
    check_refinement,
    refinement_property,
)
from memory_lifecycle.specs.checker.explore import explore, reachable_graph
from memory_lifecycle.specs.checker.world import DEFAULT_BOUNDS, Bounds
from memory_lifecycle.specs.machine import PROCESS_EDGES, SESSION_EDGES, AbstractEdge

ONE_SESSION = dataclasses.replace(DEFAULT_BOUNDS, sessions=1)
TWO_SESSIONS = dataclasses.replace(DEFAULT_BOUNDS, sessions=2, max_generation=1)
SMALL = Bounds(sessions=1, agents=1, max_generation=1)


def _failures(report: RefinementReport) -> str:
    return "\n\n".join(violation.format() for violation in report.violations)


@pytest.fixture(scope="module")
def one_session() -> RefinementReport:
    graph = reachable_graph(ONE_SESSION)
    assert len(graph.edges) > 10_000
    return check_refinement(graph.edges)


def test_every_step_of_one_session_refines_the_machines(one_session: RefinementReport) -> None:
    """Default bound, one session: each step is a declared edge or stays put, guards agree."""
    assert one_session.violations == [], _failures(one_session)


def test_every_declared_edge_is_taken_by_the_model(one_session: RefinementReport) -> None:
    """The diagrams draw nothing the model cannot do: each non-wildcard edge is reachable."""
    report = one_session
    untaken = [f"{kind}: {e.source} --{e.trigger}--> {e.dest}" for kind, e in report.untaken]
    assert untaken == []


def test_s6_two_sessions_refine_and_move_only_their_own_session() -> None:
    """S6: with two sessions, an event moves at most its own session's abstract state."""
    report = check_refinement(reachable_graph(TWO_SESSIONS).edges)
    assert report.violations == [], _failures(report)


def test_a_removed_edge_fails_with_the_step_that_takes_it() -> None:
    edges = tuple(
        edge
        for edge in SESSION_EDGES
        if (edge.trigger, edge.source, edge.dest) != ("CommitSucceeded", "COMMITTING", "CLEAN")
    )
    report = check_refinement(reachable_graph(SMALL).edges, session_edges=edges)
    assert len(report.violations) == 1
    text = report.violations[0].format()
    assert "undeclared session edge" in text
    assert "COMMITTING --CommitSucceeded--> CLEAN" in text
    assert "event:    CommitSucceeded(session_id='s1', agent=A, captured_generation=1)" in text
    assert "before:   RUNNING {'s1': gen=1 committed=0 registered=" in text
    assert "in_flight=A@1" in text


def _discard_anything(state: Process, event: Event) -> Step:
    """A broken step: Discard drops the entry even when it holds dirty work (breaks S8)."""
    if isinstance(event, Discard) and state.session(event.session_id) is not None:
        kept = tuple(pair for pair in state.sessions if pair[0] != event.session_id)
        return Step(state._replace(sessions=kept), (), model.Outcome.DISCARDED)
    return model.step(state, event)


def test_s8_a_broken_step_fails_refinement_with_its_concrete_step() -> None:
    """S8: a step that discards dirty work takes the undeclared edge DIRTY --Discard--> ABSENT."""
    graph = reachable_graph(SMALL, step_fn=_discard_anything)
    report = check_refinement(graph.edges, step_fn=_discard_anything)
    sources = {(v.source, v.trigger, v.dest) for v in report.violations}
    assert ("DIRTY", "Discard", "ABSENT") in sources
    text = "\n".join(v.format() for v in report.violations)
    assert "undeclared session edge" in text
    assert "event:    Discard(session_id='s1')" in text


def test_wrong_guards_fail_even_when_the_edge_is_declared() -> None:
    swapped = tuple(
        edge._replace(guards=("not_ephemeral", "no_agent_known"))
        if (edge.trigger, edge.source, edge.dest) == ("TurnCompleted", "CLEAN", "DIRTY")
        else edge._replace(guards=("not_ephemeral", "agent_known"))
        if (edge.trigger, edge.source, edge.dest) == ("TurnCompleted", "CLEAN", "ORPHANED")
        else edge
        for edge in SESSION_EDGES
    )
    report = check_refinement(reachable_graph(SMALL).edges, session_edges=swapped)
    reasons = {(v.source, v.dest, v.predicted, v.reason) for v in report.violations}
    assert (
        "CLEAN",
        "DIRTY",
        "ORPHANED",
        "the session machine's guards disagree with the model",
    ) in (reasons)


def test_the_checker_reports_a_refinement_failure_with_its_shortest_trace() -> None:
    edges = tuple(edge for edge in PROCESS_EDGES if edge.trigger != "DrainFinished")
    result = explore(SMALL, properties=[refinement_property(process_edges=edges)])
    assert [violation.property_id for violation in result.violations] == [REFINEMENT_ID]
    trace = result.violations[0].trace
    assert [step.action for step in trace.steps] == ["DrainStarted()", "DrainFinished()"]
    assert "process: undeclared process edge" in trace.message
    assert "DRAINING --DrainFinished--> DRAINED" in trace.message


def test_reset_returns_every_state_to_its_initial_state() -> None:
    """Reset is declared from any state; the checker's world never sends it, so check it here."""
    graph = reachable_graph(SMALL)
    steps = [_Reset(before) for before in graph.states]
    report = check_refinement(steps)
    assert report.violations == [], _failures(report)


class _Reset:
    """A Reset step from ``before``."""

    def __init__(self, before: Process) -> None:
        self.before = before
        self.event: Event = model.Reset()


@pytest.mark.thorough
def test_the_whole_default_bound_refines_the_machines() -> None:
    """Every transition of the default world (two sessions), streamed through the checker."""
    result = explore(DEFAULT_BOUNDS, properties=[refinement_property()])
    assert result.complete
    messages = [violation.trace.format() for violation in result.violations]
    assert messages == []


def test_declared_edge_rows_are_plain_data() -> None:
    """The renderers and the machine read the same rows: tuples of strings."""
    for edge in (*SESSION_EDGES, *PROCESS_EDGES):
        assert isinstance(edge, AbstractEdge)
        assert all(isinstance(part, str) for part in (edge.trigger, edge.source, edge.dest))
