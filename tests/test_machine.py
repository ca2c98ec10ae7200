"""The abstract machines: table well-formedness, guards, and the abstraction function."""

from __future__ import annotations

import pytest
from memory_lifecycle.model import (
    EMPTY_PROCESS,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    InFlight,
    Process,
    RegisterAgent,
    Reset,
    Segment,
    Session,
    TurnCompleted,
    UnregisterAgent,
)
from memory_lifecycle.specs.abstraction import process_state, session_state
from memory_lifecycle.specs.machine import (
    ANY_STATE,
    PROCESS_EDGES,
    PROCESS_STATES,
    SESSION_EDGES,
    SESSION_GUARDS,
    SESSION_STATES,
    AbstractEdge,
    AbstractMachine,
    build_process_machine,
    build_session_machine,
)

A, B = object(), object()


def test_every_edge_names_declared_states_and_guards() -> None:
    for states, edges in ((SESSION_STATES, SESSION_EDGES), (PROCESS_STATES, PROCESS_EDGES)):
        for edge in edges:
            assert edge.source in (*states, ANY_STATE), edge
            assert edge.dest in states, edge
            assert all(name in SESSION_GUARDS for name in edge.guards), edge


def test_every_state_is_entered_and_left() -> None:
    for states, edges in ((SESSION_STATES, SESSION_EDGES), (PROCESS_STATES, PROCESS_EDGES)):
        entered = {edge.dest for edge in edges if edge.dest != edge.source}
        assert set(states) - {states[0]} <= entered
        for state in states:
            assert any(
                edge.source in (state, ANY_STATE) and edge.dest != state for edge in edges
            ), f"{state} has no way out"


def test_unknown_guard_is_rejected_with_its_edge() -> None:
    edges = (AbstractEdge("Discard", "CLEAN", "ABSENT", ("no_such_guard",)),)
    with pytest.raises(ValueError, match=r"CLEAN --Discard--> ABSENT.*no_such_guard"):
        AbstractMachine(SESSION_STATES, edges, SESSION_GUARDS)


def test_session_machine_guards_choose_between_edges() -> None:
    machine = build_session_machine()
    clean = Session()
    assert machine.fire("CLEAN", "TurnCompleted", clean, TurnCompleted("s")) == "ORPHANED"
    assert machine.fire("CLEAN", "TurnCompleted", clean, TurnCompleted("s", A)) == "DIRTY"
    ephemeral = TurnCompleted("s", A, ephemeral=True)
    assert machine.fire("CLEAN", "TurnCompleted", clean, ephemeral) == "CLEAN"
    two = Session(2, 0, A, (Segment(1, 1, A), Segment(2, 2, B)))
    assert machine.fire("DIRTY", "CommitRequested", two, CommitRequested("s")) == (
        "COMMITTING_DIRTY"
    )
    assert machine.fire("DIRTY", "Reset", two, Reset()) == "ABSENT"
    assert machine.fire("DIRTY", "NoSuchTrigger", two, Reset()) == "DIRTY"


def test_success_leaves_orphan_when_rest_has_no_agent() -> None:
    """S2/S4: after a commit, work without a resolvable agent is ORPHANED."""
    machine = build_session_machine()
    running = Session(2, 0, None, (Segment(1, 1, A), Segment(2, 2, None)), InFlight(A, 1, False))
    assert session_state(running) == "COMMITTING_DIRTY"
    done = CommitSucceeded("s", A, 1)
    assert machine.fire("COMMITTING_DIRTY", "CommitSucceeded", running, done) == "ORPHANED"
    stale = CommitFailed("s", B, 1)
    assert machine.fire("COMMITTING_DIRTY", "CommitFailed", running, stale) == ("COMMITTING_DIRTY")


def test_unregister_orphans_only_an_ownerless_first_segment() -> None:
    machine = build_session_machine()
    ownerless = Session(1, 0, A, (Segment(1, 1, None),))
    owned = Session(1, 0, A, (Segment(1, 1, A),))
    assert session_state(ownerless) == session_state(owned) == "DIRTY"
    event = UnregisterAgent("s")
    assert machine.fire("DIRTY", "UnregisterAgent", ownerless, event) == "ORPHANED"
    assert machine.fire("DIRTY", "UnregisterAgent", owned, event) == "DIRTY"
    assert machine.fire("ORPHANED", "RegisterAgent", ownerless, RegisterAgent("s", B)) == "DIRTY"


def test_abstraction_of_sessions() -> None:
    assert session_state(None) == "ABSENT"
    assert session_state(Session()) == "CLEAN"
    assert session_state(Session(1, 1, A)) == "CLEAN"
    assert session_state(Session(1, 0, None, (Segment(1, 1, None),))) == "ORPHANED"
    assert session_state(Session(1, 0, None, (Segment(1, 1, A),))) == "DIRTY"
    flight = InFlight(A, 1, False)
    assert session_state(Session(1, 0, A, (Segment(1, 1, A),), flight)) == "COMMITTING"
    assert session_state(Session(2, 0, A, (Segment(1, 2, A),), flight)) == "COMMITTING_DIRTY"


def test_abstraction_of_the_process() -> None:
    assert process_state(EMPTY_PROCESS) == "RUNNING"
    assert process_state(Process(draining=True)) == "DRAINING"
    assert process_state(Process(draining=True, drained=True)) == "DRAINED"
    machine = build_process_machine()
    assert machine.fire("DRAINING", "Reset", EMPTY_PROCESS, Reset()) == "RUNNING"
