"""L1 and L2 in graph form: exact answers on small reachable graphs, and agreement
with the schedules the checker uses on large bounds."""

from __future__ import annotations

import pytest
from memory_lifecycle import model
from memory_lifecycle.specs.checker.explore import reachable_graph
from memory_lifecycle.specs.checker.liveness import l1_stuck_states, l2_stuck_states
from memory_lifecycle.specs.checker.mutants import MUTANTS
from memory_lifecycle.specs.checker.world import AGENTS, Bounds
from memory_lifecycle.specs.properties import L1, L2

LEAN = {"wait": False, "in_call": False, "whole": False, "agent_cannot_commit": False}
ONE = Bounds(sessions=1, agents=2, max_generation=3, edits=False, **LEAN)
TWO = Bounds(sessions=2, agents=1, max_generation=1, edits=False, **LEAN)


def test_L2_every_reachable_state_can_reach_a_clean_idle_state() -> None:
    """L2 (graph form): with providers that succeed, nothing is stuck dirty or in flight
    (without a reset, which would get there trivially)."""
    for bounds in (ONE, TWO):
        graph = reachable_graph(bounds)
        assert len(graph.states) > 1_000
        assert l2_stuck_states(graph) == []


def test_L1_owed_follow_ups_are_discharged_without_another_boundary() -> None:
    """L1 (graph form): every owed follow-up is committed by succeeding providers and
    follow-up commits alone."""
    graph = reachable_graph(ONE)
    owing = [s for s in graph.states if s.sessions and s.sessions[0][1].follow_up_through]
    assert len(owing) > 50
    assert l1_stuck_states(graph) == []


def test_L1_graph_form_refuses_several_sessions() -> None:
    with pytest.raises(ValueError, match="sessions=1"):
        l1_stuck_states(
            reachable_graph(Bounds(sessions=2, agents=1, max_generation=1, drain=False))
        )


@pytest.mark.parametrize(
    "name", ["never-adopt", "success-keeps-in-flight", "fatal-stays-in-flight"]
)
def test_L2_schedule_flags_exactly_the_graphs_stuck_states(name: str) -> None:
    """L2: on broken models the checker's per-state schedule fails in exactly the
    states the graph shows stuck (no false alarms, nothing missed)."""
    mutant = MUTANTS[name]
    graph = reachable_graph(mutant.bounds, mutant.step)
    assert L2.on_progress is not None
    schedule = {s for s in graph.states if L2.on_progress(s, mutant.step, AGENTS[0])}
    assert schedule == set(l2_stuck_states(graph))


def test_L1_broken_models_are_stuck_in_graph_form_and_flagged_by_the_schedule() -> None:
    """L1, L2: the graph form itself bites, and the checker's schedule (what happens after
    a BUSY commit) flags the same break."""
    adopt = MUTANTS["never-adopt"]
    assert l2_stuck_states(reachable_graph(adopt.bounds, adopt.step))
    dropped = MUTANTS["follow-up-dropped"]
    graph = reachable_graph(dropped.bounds, dropped.step)
    assert l1_stuck_states(graph)
    assert l2_stuck_states(reachable_graph(dropped.bounds, model.step)) == []
    assert L1.after_transition is not None
    flagged = [
        edge
        for edge in graph.edges
        if edge.result is model.Outcome.BUSY
        and L1.after_transition(
            edge.before,
            edge.event,
            dropped.step(edge.before, edge.event),
            dropped.step,
        )
    ]
    assert flagged
