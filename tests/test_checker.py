"""The model checker itself: its two engines agree, symmetry reduction is sound,
the world offers every event family, the reachable graph is complete, and the
command line reports and exits right."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import (
    EMPTY_PROCESS,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    DrainNext,
    DrainPoll,
    DrainStarted,
    InFlight,
    Process,
    Segment,
    Session,
    Shutdown,
)
from memory_lifecycle.specs.checker import cli
from memory_lifecycle.specs.checker.canonical import (
    canonical,
    canonical_key,
    normal_process,
    rename_session,
)
from memory_lifecycle.specs.checker.explore import explore, reachable_graph
from memory_lifecycle.specs.checker.world import (
    AGENTS,
    CHECK_BOUNDS,
    DEADLINE,
    FAMILIES,
    SESSION_IDS,
    THOROUGH_BOUNDS,
    Bounds,
    enabled_events,
    within_bounds,
)
from memory_lifecycle.specs.properties import ALL

ONE = Bounds(sessions=1, agents=2, max_generation=2)
"""One session, every family (probes included)."""
TWO = Bounds(
    sessions=2,
    agents=1,
    max_generation=1,
    wait=False,
    in_call=False,
    whole=False,
    agent_cannot_commit=False,
    edits=False,
)
"""Two sessions with every family that adds states or acts across sessions (the
commit variants and probes left out act on one session, as in ``ONE``)."""


def _plain_reachable(bounds: Bounds) -> set[Process]:
    """Every reachable raw state, by plain BFS without symmetry reduction (in normal
    form: drain failures beyond the limit behave alike, and would never end)."""
    seen = {EMPTY_PROCESS}
    frontier = [EMPTY_PROCESS]
    while frontier:
        found = []
        for state in frontier:
            for event in enabled_events(state, bounds):
                after = normal_process(model.step(state, event).state)
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
    return state._replace(sessions=tuple(pairs))


@pytest.mark.parametrize("bounds", [ONE, TWO], ids=["one-session", "two-sessions"])
def test_engines_agree_on_states_transitions_probes_and_verdicts(bounds: Bounds) -> None:
    """The session-compositional engine explores exactly what the product engine does
    (the drain's counts, every process event and the probes included)."""
    for symmetry in (True, False):
        checked = ALL if symmetry else ()
        product = explore(bounds, properties=checked, engine="product", symmetry=symmetry)
        sessions = explore(bounds, properties=checked, engine="sessions", symmetry=symmetry)
        assert (product.engine, sessions.engine) == ("product", "sessions")
        assert (product.states, product.transitions, product.depth, product.probes) == (
            sessions.states,
            sessions.transitions,
            sessions.depth,
            sessions.probes,
        )
        assert product.ok and sessions.ok
        assert product.states > 1_000 and product.beyond_bounds == 0


def test_symmetry_reduction_counts_exactly_the_renaming_classes() -> None:
    """Without reduction the checker finds every raw state; with it, one per class."""
    raw = _plain_reachable(TWO)
    assert explore(TWO, properties=(), symmetry=False).states == len(raw)
    classes = {canonical_key(state)[0] for state in raw}
    reduced = explore(TWO, properties=()).states
    assert reduced == len(classes) < len(raw)


def test_canonical_key_is_the_same_for_every_renaming() -> None:
    """Sound reduction: renaming agents and sessions never changes the key, and the
    canonical form is itself a renaming of the state."""
    generator = random.Random(7)
    bounds = Bounds(
        sessions=2, agents=3, max_generation=1, drain=False, background=False, reset=False
    )
    states = sorted(_plain_reachable(bounds), key=repr)
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


def test_canonical_key_numbers_call_ids_and_caps_drain_failures() -> None:
    """Call ids are names (a running call is call 1 whatever the shell numbered it),
    drain failures beyond DRAIN_ATTEMPTS behave alike; the shutdown record counts."""
    a = AGENTS[0]
    session = Session(
        generation=1,
        registered=a,
        segments=(Segment(1, 1, a),),
        in_flight=InFlight(call_id=41, agent=a, captured_generation=1, follow_up=False),
    )
    first = Process((("s1", session),))
    renumbered = Process(
        (("s1", session._replace(in_flight=session.in_flight._replace(call_id=1))),)
    )  # type: ignore[union-attr]
    assert canonical_key(first)[0] == canonical_key(renumbered)[0]
    mark = Process((("s1", session._replace(in_flight=session.in_flight._replace(call_id=0))),))  # type: ignore[union-attr]
    assert canonical_key(mark)[0] != canonical_key(first)[0]
    idle = Session(generation=1, registered=a, segments=(Segment(1, 1, a),))
    failed = [
        Process((("s1", idle._replace(drain_failures=count)),), Shutdown(phase="DRAINING"))
        for count in (2, 3, 4, 9)
    ]
    keys = [canonical_key(state)[0] for state in failed]
    assert keys[0] != keys[1] == keys[2] == keys[3]
    assert normal_process(failed[3]) == failed[1]
    assert (
        canonical_key(Process((), Shutdown(background_commits=1)))[0]
        != canonical_key(EMPTY_PROCESS)[0]
    )


def test_reachable_graph_has_every_state_and_transition() -> None:
    graph = reachable_graph(ONE)
    result = explore(ONE, properties=(), engine="product")
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


def _running_state() -> Process:
    a = AGENTS[0]
    state = EMPTY_PROCESS
    for event in (
        model.RegisterAgent("s1", a),
        model.TurnCompleted("s1"),
        model.CommitRequested("s1", 1),
    ):
        state = model.step(state, event).state
    return state


def test_world_offers_every_event_family_while_a_call_runs() -> None:
    """While a call runs: turns (ephemeral too), commits of every kind (adopting, by an
    agent that cannot commit, whole, waiting with time left / expired / unbounded, from
    inside a call, follow-ups), every provider outcome with the running id and a foreign
    one, registration, discard, background commits, the drain and reset."""
    state = _running_state()
    events = enabled_events(state, CHECK_BOUNDS)
    kinds = {type(event).__name__ for event in events}
    assert {
        "TurnCompleted",
        "CommitRequested",
        "CommitSucceeded",
        "CommitFailed",
        "RegisterAgent",
        "UnregisterAgent",
        "Discard",
        "DrainStarted",
        "DrainNext",
        "DrainPoll",
        "BackgroundCommitRequested",
        "Reset",
    } <= kinds
    requests = [e for e in events if isinstance(e, CommitRequested) and e.session_id == "s1"]
    assert any(not e.agent_can_commit for e in requests)
    assert any(e.whole for e in requests) and any(e.follow_up for e in requests)
    assert any(e.in_call and e.wait for e in requests)
    waits = {(e.now, e.deadline) for e in requests if e.wait and not e.in_call}
    assert waits == {(0.0, DEADLINE), (DEADLINE, DEADLINE), (0.0, None)}
    ends = [e for e in events if isinstance(e, CommitSucceeded | CommitFailed)]
    running = state.session("s1").in_flight  # type: ignore[union-attr]
    assert {e.call_id == running.call_id for e in ends} == {True, False}  # type: ignore[union-attr]
    assert {e.fatal for e in ends if isinstance(e, CommitFailed)} == {False, True}
    assert any(e.ephemeral for e in events if isinstance(e, model.TurnCompleted))


def test_world_offers_the_drain_with_the_clock_before_and_after_its_deadline() -> None:
    """DrainStarted (also from inside a call), DrainNext for each session and DrainPoll
    before and at the deadline, DrainFinished, background ends."""
    state = model.step(_running_state(), model.BackgroundCommitRequested()).state
    assert {type(e) for e in enabled_events(state, CHECK_BOUNDS)} >= {DrainStarted}
    starts = [e for e in enabled_events(state, CHECK_BOUNDS) if isinstance(e, DrainStarted)]
    assert {e.in_call for e in starts} == {False, True}
    draining = model.step(state, starts[0]).state
    events = enabled_events(draining, CHECK_BOUNDS)
    assert {e.now for e in events if isinstance(e, DrainNext)} == {0.0, DEADLINE}
    assert {e.now for e in events if isinstance(e, DrainPoll)} == {0.0, DEADLINE}
    assert {type(e).__name__ for e in events} >= {"DrainFinished", "BackgroundCommitEnded"}


def test_ephemeral_turns_are_bounded_like_the_others() -> None:
    """Ephemeral turns are offered only below the turn bound, so a model that counts
    them stays within the world."""
    bounds = Bounds(sessions=1, agents=1, max_generation=1)
    full = model.step(EMPTY_PROCESS, model.TurnCompleted("s1")).state
    assert not any(isinstance(e, model.TurnCompleted) for e in enabled_events(full, bounds))
    assert within_bounds(full, bounds)
    over = model.step(full, model.EntryEdited("s1", "generation", 2)).state
    assert not within_bounds(over, bounds)


def test_bounds_refuse_sizes_the_world_cannot_name() -> None:
    with pytest.raises(ValueError, match="sessions must be"):
        Bounds(sessions=len(SESSION_IDS) + 1)
    with pytest.raises(ValueError, match="agents must be"):
        Bounds(agents=0)
    with pytest.raises(ValueError, match="max_generation must be"):
        Bounds(max_generation=0)


def test_every_bounds_flag_is_a_described_family() -> None:
    flags = {f.name for f in dataclasses.fields(Bounds) if f.type in ("bool", bool)}
    assert flags == set(FAMILIES)


def test_thorough_bound_reaches_three_turns_per_session() -> None:
    """Merges across segment boundaries need three turns: the thorough bound has them."""
    assert THOROUGH_BOUNDS.max_generation >= 3 and THOROUGH_BOUNDS.sessions >= 2


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
    assert "  4. [provider] CommitSucceeded('s1', call_id=1)" in captured.out
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
def test_thorough_bound_explores_millions_of_states_and_every_property_holds() -> None:
    """S1-S10, L1-L4 over the thorough bound (three turns per session)."""
    result = explore(THOROUGH_BOUNDS)
    assert result.complete and result.states >= 1_000_000
    assert result.ok, "\n".join(v.trace.format() for v in result.violations)
