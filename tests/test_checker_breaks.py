"""The model checker bites: each deliberately broken ``step`` is caught, under the
right property id, with a counterexample no shorter trace can beat, and a broken
step never crashes or hangs the checker.

Minimality is checked independently of the checker: a plain breadth-first
search over raw states (no symmetry reduction, no caching, every event and
probe of the world) finds no violation of the property in fewer events.
"""

from __future__ import annotations

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Event, Outcome, Process, Step, TurnCompleted
from memory_lifecycle.specs.checker.explore import explore, state_probes, try_step
from memory_lifecycle.specs.checker.mutants import MUTANTS
from memory_lifecycle.specs.checker.world import AGENTS, Bounds, enabled_events
from memory_lifecycle.specs.properties import (
    ALL,
    BY_ID,
    STEP_RAISED,
    Property,
    StepFn,
    StepRaised,
)

SMALL = Bounds(sessions=1, agents=2, max_generation=2)


def _property(property_id: str) -> Property:
    if property_id == STEP_RAISED:
        return Property(STEP_RAISED, "step-total", "the step function never raises")
    return BY_ID[property_id]


def _fails_after(
    item: Property, before: Process, event: Event, step: Step, step_fn: StepFn
) -> bool:
    """``item`` fails on this transition or in the state it reaches."""
    try:
        if item.on_transition is not None and item.on_transition(before, event, step):
            return True
        if item.after_transition is not None and item.after_transition(
            before, event, step, step_fn
        ):
            return True
        if item.on_state is not None and item.on_state(step.state) is not None:
            return True
        return (
            item.on_progress is not None
            and item.on_progress(step.state, step_fn, AGENTS[0]) is not None
        )
    except StepRaised:
        return item.id == STEP_RAISED


def _first_violation_depth(step_fn: StepFn, bounds: Bounds, item: Property, limit: int) -> int:
    """Fewest events after which ``item`` fails, by plain BFS over raw states."""
    frontier = {EMPTY_PROCESS}
    seen = {EMPTY_PROCESS}
    for depth in range(1, limit + 1):
        found: set[Process] = set()
        for state in frontier:
            for probe in state_probes(state, bounds, symmetric=False):
                outcome = try_step(step_fn, state, probe.event)
                if item.on_probe is not None and item.on_probe(
                    state, probe.event, probe.malformed, outcome
                ):
                    return depth
            for event in enabled_events(state, bounds):
                step = try_step(step_fn, state, event)
                if isinstance(step, Exception):
                    if item.id == STEP_RAISED:
                        return depth
                    continue
                if _fails_after(item, state, event, step, step_fn):
                    return depth
                if step.state not in seen:
                    seen.add(step.state)
                    found.add(step.state)
        frontier = found
    raise AssertionError(f"{item.id} is not violated within {limit} events")


def test_at_least_thirty_distinct_breaks_each_named_for_its_property() -> None:
    assert len(MUTANTS) >= 30
    caught = {mutant.catches for mutant in MUTANTS.values()}
    assert caught >= {f"S{n}" for n in range(1, 11)} | {"L1", "L2", "L3", "L4", STEP_RAISED}
    assert all(
        mutant.catches in BY_ID or mutant.catches == STEP_RAISED for mutant in MUTANTS.values()
    )


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_broken_model_is_caught_with_a_shortest_counterexample(name: str) -> None:
    """S1-S10, L1-L4: the checker finds the break, names the property, and the
    trace is the shortest there is (checked by brute force)."""
    mutant = MUTANTS[name]
    checked = () if mutant.catches == STEP_RAISED else ALL
    result = explore(mutant.bounds, mutant.step, checked, engine="product")
    assert result.complete
    violation = result.violation(mutant.catches)
    assert violation is not None, f"{name}: {mutant.catches} not found in {result.violations}"
    assert violation.trace.property_id == mutant.catches
    assert violation.trace.message == violation.message
    assert "does not hold in the state this trace reaches" not in violation.message
    assert len(violation.trace.steps) >= violation.depth >= 1
    item = _property(mutant.catches)
    shortest = _first_violation_depth(mutant.step, mutant.bounds, item, violation.depth)
    assert shortest == violation.depth


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_real_model_passes_where_the_broken_one_fails(name: str) -> None:
    """The same bound and property on ``model.step`` hold: the break is the cause."""
    mutant = MUTANTS[name]
    checked = [] if mutant.catches == STEP_RAISED else [BY_ID[mutant.catches]]
    result = explore(mutant.bounds, model.step, checked)
    assert result.ok and result.complete


def test_mutant_worlds_are_small() -> None:
    """Each break shows in a world of at most two sessions, two agents and three turns."""
    for mutant in MUTANTS.values():
        bounds = mutant.bounds
        assert bounds.sessions <= 2 and bounds.agents <= 2 and bounds.max_generation <= 3


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
    assert "committed 2" in violation.trace.steps[-1].state
    formatted = violation.trace.format()
    assert formatted.startswith("S2 violated: ")
    assert "  4. [provider] CommitSucceeded" in formatted


def test_a_step_that_raises_is_reported_with_its_trace_not_a_crash() -> None:
    """A broken step raising IndexError on three segments is a STEP violation whose
    trace ends with the event it raised on; exploration still completes."""
    mutant = MUTANTS["adoption-reads-too-far"]
    result = explore(mutant.bounds, mutant.step)
    violation = result.violation(STEP_RAISED)
    assert violation is not None and result.complete and result.engine == "product"
    assert "IndexError" in violation.message
    assert violation.trace.steps[-1].result.startswith("raised IndexError")
    assert violation.trace.steps[-1].action.startswith("CommitRequested")


def _counts_every_registration(state: Process, event: Event) -> Step:
    """A broken step: each registration also completes a turn (unbounded generations)."""
    out = model.step(state, event)
    if isinstance(event, model.RegisterAgent):
        return model.step(out.state, TurnCompleted(event.session_id))._replace(result=Outcome.DONE)
    return out


def test_a_step_that_leaves_the_bounds_ends_and_is_reported_S1() -> None:
    """S1: a step that grows generations outside turns is reported, and the states it
    reaches beyond the bounds are checked but not explored, so the search ends."""
    bounds = Bounds(sessions=1, agents=1, max_generation=1)
    result = explore(bounds, _counts_every_registration)
    assert result.complete and result.beyond_bounds > 0
    violation = result.violation("S1")
    assert violation is not None and "RegisterAgent raised generation" in violation.message


def test_counting_ephemeral_turns_is_S1_and_the_search_ends() -> None:
    """S1: a model that counts ephemeral turns is reported at the first one."""
    mutant = MUTANTS["ephemeral-counted"]
    result = explore(Bounds(sessions=1, agents=1, max_generation=2), mutant.step)
    violation = result.violation("S1")
    assert result.complete and violation is not None and violation.depth == 1
    assert "ephemeral" in violation.message


def test_S6_break_is_invisible_to_the_sessions_engine_but_not_to_the_product_engine() -> None:
    """S6: the fast engine assumes isolation; the product engine is the one that checks it."""
    mutant = MUTANTS["register-everywhere"]
    assert explore(mutant.bounds, mutant.step, engine="product").violation("S6") is not None
    assert explore(mutant.bounds, mutant.step, engine="sessions").violation("S6") is None


def test_sessions_engine_refuses_a_step_that_breaks_its_assumptions() -> None:
    """L2: a step whose drain counts are not sums over the sessions is caught by the
    sessions engine itself, which leaves the states past it unexplored."""
    mutant = MUTANTS["drain-no-requeue-after-failure"]
    result = explore(mutant.bounds, mutant.step, engine="sessions")
    assert result.engine == "sessions" and result.violation("L2") is not None
    assert result.unfollowed > 0


@pytest.mark.parametrize(
    "name",
    [
        "success-to-generation",
        "no-in-flight-guard",
        "no-coalescing",
        "follow-up-dropped",
        "expired-wait-leaves-nothing",
        "in-call-ignored",
        "drain-poll-ignores-calls",
        "drain-next-ignores-deadline",
        "failed-follow-up-retries",
    ],
)
def test_sessions_engine_finds_local_breaks_with_the_same_shortest_depth(name: str) -> None:
    """S2, S5, S10, L1, L2, L3: the fast engine reports the same property at the same depth."""
    mutant = MUTANTS[name]
    product = explore(mutant.bounds, mutant.step, engine="product").violation(mutant.catches)
    sessions = explore(mutant.bounds, mutant.step, engine="sessions").violation(mutant.catches)
    assert product is not None and sessions is not None
    assert product.depth == sessions.depth, name
