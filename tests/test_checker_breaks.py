"""The model checker bites: each deliberately broken ``step`` is caught, under the
right property id, with a counterexample no shorter trace can beat.

Minimality is checked independently of the checker: a plain breadth-first
search over raw states (no symmetry reduction, no caching, every event of the
world) finds no violation of the property in fewer events.
"""

from __future__ import annotations

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Process
from memory_lifecycle.specs.checker.explore import explore
from memory_lifecycle.specs.checker.mutants import MUTANTS
from memory_lifecycle.specs.checker.world import AGENTS, Bounds, enabled_events
from memory_lifecycle.specs.properties import BY_ID, Property, StepFn

SMALL = Bounds(sessions=1, agents=2, max_generation=2)
TWO_SESSIONS = Bounds(sessions=2, agents=1, max_generation=1)


def _violated_here(
    item: Property, before: Process | None, event: object, step: model.Step, step_fn: StepFn
) -> bool:
    transition = item.on_transition
    if transition is not None and before is not None and event is not None:
        return_value = transition(before, event, step)  # type: ignore[arg-type]
        if return_value is not None:
            return True
    if item.on_state is not None and item.on_state(step.state) is not None:
        return True
    return item.on_progress is not None and (
        item.on_progress(step.state, step_fn, AGENTS[0]) is not None
    )


def _first_violation_depth(step_fn: StepFn, bounds: Bounds, item: Property, limit: int) -> int:
    """Fewest events after which ``item`` fails, by plain BFS over raw states."""
    start = model.Step(EMPTY_PROCESS, (), model.Outcome.DONE)
    if _violated_here(item, None, None, start, step_fn):
        return 0
    frontier = {EMPTY_PROCESS}
    seen = {EMPTY_PROCESS}
    for depth in range(1, limit + 1):
        found: set[Process] = set()
        for state in frontier:
            for event in enabled_events(state, bounds):
                step = step_fn(state, event)
                if _violated_here(item, state, event, step, step_fn):
                    return depth
                if step.state not in seen:
                    seen.add(step.state)
                    found.add(step.state)
        frontier = found
    raise AssertionError(f"{item.id} is not violated within {limit} events")


def test_at_least_eight_distinct_breaks_each_named_for_its_property() -> None:
    assert len(MUTANTS) >= 8
    assert len({mutant.catches for mutant in MUTANTS.values()}) >= 8
    assert all(mutant.catches in BY_ID for mutant in MUTANTS.values())


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_broken_model_is_caught_with_a_shortest_counterexample(name: str) -> None:
    """S1-S10, L1-L4: the checker finds the break, names the property, and the
    trace is the shortest there is (checked by brute force)."""
    mutant = MUTANTS[name]
    bounds = mutant.bounds
    result = explore(bounds, mutant.step, engine="product")
    violation = result.violation(mutant.catches)
    assert violation is not None, f"{name}: {mutant.catches} not found in {result.violations}"
    assert violation.trace.property_id == mutant.catches
    assert violation.trace.message == violation.message
    assert "does not hold in the state this trace reaches" not in violation.message
    assert len(violation.trace.steps) >= violation.depth >= 1
    shortest = _first_violation_depth(mutant.step, bounds, BY_ID[mutant.catches], violation.depth)
    assert shortest == violation.depth


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_real_model_passes_where_the_broken_one_fails(name: str) -> None:
    """The same bound and property on ``model.step`` hold: the break is the cause."""
    mutant = MUTANTS[name]
    result = explore(mutant.bounds, model.step, [BY_ID[mutant.catches]], engine="product")
    assert result.ok and result.complete


def test_S2_counterexample_reads_as_a_story() -> None:
    """S2: the late-commit trace shows the turn completed during the call, then the
    success that marks it committed."""
    result = explore(SMALL, MUTANTS["success-to-generation"].step, engine="product")
    violation = result.violation("S2")
    assert violation is not None
    actions = [step.action for step in violation.trace.steps]
    assert actions[-1].startswith("CommitSucceeded('s1'")
    assert any(action.startswith("CommitRequested('s1'") for action in actions)
    assert sum(action.startswith("TurnCompleted('s1'") for action in actions) == 2
    assert "committed=2" in violation.trace.steps[-1].state
    formatted = violation.trace.format()
    assert formatted.startswith("S2 violated: ")
    assert "  4. [provider] CommitSucceeded" in formatted


def test_mutant_worlds_are_small() -> None:
    assert all(m.bounds in (SMALL, TWO_SESSIONS) for m in MUTANTS.values())


def test_S6_break_is_invisible_to_the_sessions_engine_but_not_to_the_product_engine() -> None:
    """S6: the fast engine assumes isolation; the product engine is the one that checks it."""
    mutant = MUTANTS["register-everywhere"]
    assert explore(TWO_SESSIONS, mutant.step, engine="product").violation("S6") is not None
    assert explore(TWO_SESSIONS, mutant.step, engine="sessions").violation("S6") is None


def test_sessions_engine_finds_local_breaks_with_the_same_shortest_depth() -> None:
    """S2, S5, S10, L1: the fast engine reports the same property at the same depth."""
    for name in (
        "success-to-generation",
        "no-in-flight-guard",
        "no-coalescing",
        "follow-up-dropped",
    ):
        mutant = MUTANTS[name]
        product = explore(SMALL, mutant.step, engine="product").violation(mutant.catches)
        sessions = explore(SMALL, mutant.step, engine="sessions").violation(mutant.catches)
        assert product is not None and sessions is not None
        assert product.depth == sessions.depth, name
