"""The model checker itself: its two engines agree, symmetry reduction is sound,
the reachable graph is complete, and the command line reports and exits right."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Process
from memory_lifecycle.specs.checker import cli
from memory_lifecycle.specs.checker.canonical import canonical, canonical_key, rename_session
from memory_lifecycle.specs.checker.explore import explore, reachable_graph
from memory_lifecycle.specs.checker.world import (
    AGENTS,
    CHECK_BOUNDS,
    SESSION_IDS,
    THOROUGH_BOUNDS,
    Bounds,
    enabled_events,
)
from memory_lifecycle.specs.properties import ALL

ONE = Bounds(sessions=1, agents=2, max_generation=2)
TWO = Bounds(sessions=2, agents=2, max_generation=1)


def _plain_reachable(bounds: Bounds) -> set[Process]:
    """Every reachable raw state, by plain BFS without any reduction."""
    seen = {EMPTY_PROCESS}
    frontier = [EMPTY_PROCESS]
    while frontier:
        found = []
        for state in frontier:
            for event in enabled_events(state, bounds):
                after = model.step(state, event).state
                if after not in seen:
                    seen.add(after)
                    found.append(after)
        frontier = found
    return seen


def _renamed(state: Process, sessions: dict[str, str], agents: dict[object, object]) -> Process:
    pairs = sorted(
        ((sessions[str(key)], rename_session(value, agents)) for key, value in state.sessions),
        key=lambda pair: pair[0],
    )
    return Process(tuple(pairs), state.draining, state.drained)


@pytest.mark.parametrize("bounds", [ONE, TWO], ids=["one-session", "two-sessions"])
def test_engines_agree_on_states_transitions_and_verdicts(bounds: Bounds) -> None:
    """The session-compositional engine explores exactly what the product engine does."""
    for symmetry in (True, False):
        checked = ALL if symmetry else ()
        product = explore(bounds, properties=checked, engine="product", symmetry=symmetry)
        sessions = explore(bounds, properties=checked, engine="sessions", symmetry=symmetry)
        assert (product.states, product.transitions, product.depth) == (
            sessions.states,
            sessions.transitions,
            sessions.depth,
        )
        assert product.ok and sessions.ok
        assert product.states > 300


@pytest.mark.parametrize("bounds", [ONE, TWO], ids=["one-session", "two-sessions"])
def test_symmetry_reduction_counts_exactly_the_renaming_classes(bounds: Bounds) -> None:
    """Without reduction the checker finds every raw state; with it, one per class."""
    raw = _plain_reachable(bounds)
    assert explore(bounds, symmetry=False).states == len(raw)
    classes = {canonical_key(state)[0] for state in raw}
    reduced = explore(bounds).states
    assert reduced == len(classes) < len(raw)


def test_canonical_key_is_the_same_for_every_renaming() -> None:
    """Sound reduction: renaming agents and sessions never changes the key, and the
    canonical form is itself a renaming of the state."""
    generator = random.Random(7)
    states = sorted(_plain_reachable(Bounds(sessions=2, agents=3, max_generation=1)), key=repr)
    for state in generator.sample(states, 300):
        order = list(AGENTS[:3])
        generator.shuffle(order)
        agents: dict[object, object] = dict(zip(AGENTS[:3], order, strict=True))
        ids = list(SESSION_IDS[:2])
        generator.shuffle(ids)
        sessions = dict(zip(SESSION_IDS[:2], ids, strict=True))
        other = _renamed(state, sessions, agents)
        assert canonical_key(other)[0] == canonical_key(state)[0]
        key, form, _ = canonical(state)
        assert canonical_key(form)[0] == key


def test_reachable_graph_has_every_state_and_transition() -> None:
    graph = reachable_graph(ONE)
    result = explore(ONE, engine="product")
    assert graph.initial == EMPTY_PROCESS
    assert len(graph.states) == result.states
    assert len(graph.edges) == result.transitions
    known = set(graph.states)
    assert all(edge.before in known and edge.after in known for edge in graph.edges)
    assert {edge.before for edge in graph.edges} == known
    for edge in graph.edges[:500]:
        step = model.step(edge.before, edge.event)
        assert (step.effects, step.result) == (edge.effects, edge.result)
        assert canonical_key(step.state)[0] == canonical_key(edge.after)[0]


def test_enabled_events_cover_overlapping_callers() -> None:
    """While a call runs: turns, other commits, waits, timeouts, every provider outcome,
    re-registration, discard and drain are all enabled."""
    a = AGENTS[0]
    state = EMPTY_PROCESS
    for event in (
        model.RegisterAgent("s1", a),
        model.TurnCompleted("s1"),
        model.CommitRequested("s1"),
    ):
        state = model.step(state, event).state
    kinds = {type(event).__name__ for event in enabled_events(state, CHECK_BOUNDS)}
    assert {
        "TurnCompleted",
        "CommitRequested",
        "WaitExpired",
        "CommitSucceeded",
        "CommitFailed",
        "RegisterAgent",
        "UnregisterAgent",
        "Discard",
        "DrainStarted",
        "BackgroundCommitRequested",
    } <= kinds
    fatal = [e for e in enabled_events(state, CHECK_BOUNDS) if isinstance(e, model.CommitFailed)]
    assert {e.fatal for e in fatal} == {False, True}


def test_bounds_refuse_sizes_the_world_cannot_name() -> None:
    with pytest.raises(ValueError, match="sessions must be"):
        Bounds(sessions=len(SESSION_IDS) + 1)
    with pytest.raises(ValueError, match="agents must be"):
        Bounds(agents=0)


def test_cli_reports_the_exploration_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["--sessions", "1", "--agents", "2", "--max-generation", "2", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0
    assert "distinct states" in out and "states/s" in out and "depth" in out
    assert "all 14 properties hold" in out


def test_cli_prints_the_shortest_trace_and_exits_one_on_a_violation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    diagram = tmp_path / "s2.mmd"
    status = cli.main(
        [
            "--mutant",
            "success-to-generation",
            "--sessions",
            "1",
            "--max-generation",
            "2",
            "--property",
            "S2",
            "--sequence-diagram",
            str(diagram),
        ]
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "S2 violated: success of the call that captured 1 set committed to 2" in captured.out
    assert "  4. [provider] CommitSucceeded('s1'" in captured.out
    assert "sequenceDiagram" in diagram.read_text(encoding="utf-8")


def test_cli_refuses_an_unknown_property() -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--property", "S99"])
    assert stopped.value.code == 2


def test_cli_options_shape_the_bounds() -> None:
    args = cli._parser().parse_args(["--thorough", "--agents", "3", "--no-drain", "--no-wait"])
    bounds = cli.bounds_from(args)
    assert bounds == dataclasses.replace(THOROUGH_BOUNDS, agents=3, drain=False, wait=False)
    assert cli.bounds_from(cli._parser().parse_args([])) == CHECK_BOUNDS


@pytest.mark.thorough
def test_thorough_bound_explores_over_a_million_states_and_every_property_holds() -> None:
    """S1-S10, L1-L4 over the thorough bound."""
    result = explore(THOROUGH_BOUNDS)
    assert result.complete and result.states >= 1_000_000
    assert result.ok, "\n".join(v.trace.format() for v in result.violations)
