"""Refinement: every step of the model is a declared abstract edge or stays put, with
a result the result tables allow.

The reachable graph comes from the model checker. The fast tests explore one
session at the default agents and turns (every session-local behaviour, the
drain included) and a two-session world (S6 isolation); the default bound
streams through the checker behind ``--thorough``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import (
    Discard,
    DrainFinished,
    EntryEdited,
    Event,
    Outcome,
    Process,
    Session,
    Step,
)
from memory_lifecycle.specs.abstraction import (
    REFINEMENT_ID,
    RefinementChecker,
    RefinementReport,
    check_refinement,
    refinement_property,
)
from memory_lifecycle.specs.checker.explore import explore, reachable_graph
from memory_lifecycle.specs.checker.world import CHECK_BOUNDS, Bounds
from memory_lifecycle.specs.diagrams.concrete import DIAGRAM_BOUNDS, concrete_graph
from memory_lifecycle.specs.machine import PROCESS_EDGES, SESSION_EDGES, AbstractEdge

ONE_SESSION = dataclasses.replace(CHECK_BOUNDS, sessions=1)
TWO_SESSIONS = Bounds(
    sessions=2,
    agents=1,
    max_generation=1,
    wait=False,
    in_call=False,
    whole=False,
    agent_cannot_commit=False,
    edits=False,
)
SMALL = Bounds(sessions=1, agents=1, max_generation=1)


def _failures(report: RefinementReport) -> str:
    return "\n\n".join(violation.format() for violation in report.violations)


@pytest.fixture(scope="module")
def one_session() -> RefinementReport:
    graph = reachable_graph(ONE_SESSION)
    assert len(graph.edges) > 10_000
    return check_refinement(graph.edges)


def test_every_step_of_one_session_refines_the_machines(one_session: RefinementReport) -> None:
    """One session: each step is a declared edge or stays put, guards and results agree."""
    assert one_session.violations == [], _failures(one_session)


def test_every_declared_edge_is_taken_by_the_model(one_session: RefinementReport) -> None:
    """The diagrams draw nothing the model cannot do: each non-wildcard edge is reachable."""
    report = one_session
    untaken = [f"{kind}: {e.source} --{e.trigger}--> {e.dest}" for kind, e in report.untaken]
    assert untaken == []


def test_S6_two_sessions_refine_and_move_only_their_own_session() -> None:
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
    assert "event:    CommitSucceeded(session_id='s1', call_id=1)" in text
    assert "before:   RUNNING {'s1': gen=1 committed=0 registered=" in text
    assert "in_flight=A@1 call=1" in text


def _discard_anything(state: Process, event: Event) -> Step:
    """A broken step: Discard drops the entry even when it holds dirty work (breaks S8)."""
    if isinstance(event, Discard) and state.session(event.session_id) is not None:
        kept = tuple(pair for pair in state.sessions if pair[0] != event.session_id)
        return Step(state._replace(sessions=kept), (), model.Outcome.DISCARDED)
    return model.step(state, event)


def test_S8_a_broken_step_fails_refinement_with_its_concrete_step() -> None:
    """S8: a step that discards dirty work takes the undeclared edge DIRTY --Discard--> ABSENT."""
    graph = reachable_graph(SMALL, step_fn=_discard_anything)
    report = check_refinement(graph.edges, step_fn=_discard_anything)
    sources = {(v.source, v.trigger, v.dest) for v in report.violations}
    assert ("DIRTY", "Discard", "ABSENT") in sources
    text = "\n".join(v.format() for v in report.violations)
    assert "undeclared session edge" in text
    assert "event:    Discard(session_id='s1')" in text


def _kept_in_flight_for_dirty(state: Process, event: Event) -> Step:
    """A broken step: discarding a dirty idle entry reports KEPT_IN_FLIGHT."""
    out = model.step(state, event)
    if out.result is Outcome.KEPT_DIRTY:
        return out._replace(result=Outcome.KEPT_IN_FLIGHT)
    return out


def test_S8_a_wrong_result_fails_refinement_though_the_state_is_right() -> None:
    """S8: results are part of the machines; the right state with the wrong result fails."""
    graph = reachable_graph(SMALL, step_fn=_kept_in_flight_for_dirty)
    report = check_refinement(graph.edges, step_fn=_kept_in_flight_for_dirty)
    text = "\n".join(v.format() for v in report.violations)
    assert "S8: Discard in DIRTY returned KEPT_IN_FLIGHT; allowed: KEPT_DIRTY" in text


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
    ) in reasons


def test_the_checker_reports_a_refinement_failure_with_its_shortest_trace() -> None:
    edges = tuple(edge for edge in PROCESS_EDGES if edge.trigger != "DrainFinished")
    result = explore(SMALL, properties=[refinement_property(process_edges=edges)])
    assert [violation.property_id for violation in result.violations] == [REFINEMENT_ID]
    trace = result.violations[0].trace
    assert [step.action for step in trace.steps] == [
        "DrainStarted(now=0.0, deadline=1.0, workers=2)",
        "DrainFinished()",
    ]
    assert "process: undeclared process edge" in trace.message
    assert "DRAINING --DrainFinished--> DRAINED" in trace.message


def test_the_test_hook_may_move_its_session_anywhere_but_no_other() -> None:
    """S6, S7: EntryEdited is no lifecycle edge: the refinement lets it move its own
    session to any abstract state, and still refuses a move of another session."""
    checker = RefinementChecker()
    dirty = model.step(model.EMPTY_PROCESS, model.TurnCompleted("s1", "A")).state
    edit = EntryEdited("s1", "committed_generation", 1)
    cleaned = model.step(dirty, edit)
    assert checker.check(dirty, edit, cleaned.state, cleaned.result) is None
    two = model.step(dirty, model.TurnCompleted("s2", "A")).state
    other = two._replace(sessions=((two.sessions[0][0], Session()), two.sessions[1]))
    found = checker.check(two, EntryEdited("s2", "agent", None), other, Outcome.DONE)
    assert found is not None and "an event for session 's2' changed this session" in found.reason


def test_reset_and_drain_end_are_declared_from_every_state() -> None:
    """Reset returns every state to its initial state and the drain's end to DRAINED;
    both are checked from every reachable state of a small world."""
    graph = reachable_graph(SMALL)
    steps = [_Step(before, model.Reset()) for before in graph.states]
    steps += [_Step(before, DrainFinished()) for before in graph.states if before.draining]
    report = check_refinement(steps)
    assert report.violations == [], _failures(report)


class _Step:
    """A concrete step from ``before``."""

    def __init__(self, before: Process, event: Event) -> None:
        self.before = before
        self.event = event


def test_concrete_picture_draws_the_states_its_docstring_counts() -> None:
    """The reachable-states diagram's bound says how many states it draws."""
    count = len(concrete_graph(DIAGRAM_BOUNDS).states)
    assert f"({count} states)" in _diagram_doc()


def _diagram_doc() -> str:
    from memory_lifecycle.specs.diagrams import concrete

    assert concrete.__file__ is not None
    return " ".join(Path(concrete.__file__).read_text(encoding="utf-8").split())


@pytest.mark.thorough
def test_the_whole_default_bound_refines_the_machines() -> None:
    """Every transition of the default world (two sessions), streamed through the checker."""
    result = explore(CHECK_BOUNDS, properties=[refinement_property()])
    assert result.complete
    messages = [violation.trace.format() for violation in result.violations]
    assert messages == []


def test_declared_edge_rows_are_plain_data() -> None:
    """The renderers and the machine read the same rows: tuples of strings."""
    for edge in (*SESSION_EDGES, *PROCESS_EDGES):
        assert isinstance(edge, AbstractEdge)
        assert all(isinstance(part, str) for part in (edge.trigger, edge.source, edge.dest))
