"""The abstract machines: table well-formedness, guards, result tables, the abstraction
functions, and queries that log nothing."""

from __future__ import annotations

import logging

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_SHUTDOWN, InFlight, Segment, Session
from memory_lifecycle.specs.abstraction import process_state, session_state
from memory_lifecycle.specs.machine import (
    ANY_STATE,
    GENERATION,
    GUARDS,
    PROCESS_EDGES,
    PROCESS_RESULTS,
    PROCESS_STATES,
    SESSION_EDGES,
    SESSION_RESULTS,
    SESSION_STATES,
    TEST_HOOKS,
    AbstractEdge,
    AbstractMachine,
    ResultRule,
    ResultTable,
    build_process_machine,
    build_session_machine,
)

A, B = object(), object()
DRAINING = model.Shutdown(phase="DRAINING", deadline=1.0)


def test_every_edge_names_declared_states_and_guards() -> None:
    for states, edges in ((SESSION_STATES, SESSION_EDGES), (PROCESS_STATES, PROCESS_EDGES)):
        for edge in edges:
            assert edge.source in (*states, ANY_STATE), edge
            assert edge.dest in states, edge
            assert all(name in GUARDS for name in edge.guards), edge


def test_every_state_is_entered_and_left() -> None:
    for states, edges in ((SESSION_STATES, SESSION_EDGES), (PROCESS_STATES, PROCESS_EDGES)):
        entered = {edge.dest for edge in edges if edge.dest != edge.source}
        assert set(states) - {states[0]} <= entered
        for state in states:
            assert any(
                edge.source in (state, ANY_STATE) and edge.dest != state for edge in edges
            ), f"{state} has no way out"


def test_result_tables_cover_every_event_type_of_the_model() -> None:
    """Results are spec: every event type has rows, naming known states, guards,
    outcomes and a catalogue property; test hooks have rows but no edges."""
    triggers = {row.trigger for row in (*SESSION_RESULTS, *PROCESS_RESULTS)}
    assert triggers == {
        t.__name__ for t in (*model.SESSION_EVENT_TYPES, *model.PROCESS_EVENT_TYPES)
    }
    outcomes = {member.name for member in model.Outcome} | {GENERATION}
    for row in (*SESSION_RESULTS, *PROCESS_RESULTS):
        states = SESSION_STATES if row in SESSION_RESULTS else PROCESS_STATES
        assert all(source in (*states, ANY_STATE) for source in row.sources), row
        assert all(name in GUARDS for name in row.guards), row
        assert set(row.results) <= outcomes, row
        assert row.property_id in {f"S{n}" for n in range(1, 11)} | {"L1", "L2", "L3", "L4"}
    edge_triggers = {edge.trigger for edge in (*SESSION_EDGES, *PROCESS_EDGES)}
    assert not set(TEST_HOOKS) & edge_triggers


def test_result_table_allows_only_what_its_rows_say() -> None:
    """S5, S8, L3: the allowed results follow the abstract state and the event's data."""
    table = ResultTable()
    running = Session(
        generation=1, registered=A, segments=(Segment(1, 1, A),), in_flight=InFlight(3, A, 1, False)
    )
    shutdown = EMPTY_SHUTDOWN
    wait = model.CommitRequested("s", 4, wait=True, now=0.0, deadline=1.0)
    assert table.allowed(running, wait, shutdown)[0] == {"WAIT"}
    late = wait._replace(now=1.0)
    assert table.allowed(running, late, shutdown)[0] == {"TIMED_OUT"}
    assert table.allowed(running, wait._replace(in_call=True), shutdown)[0] == {"BUSY"}
    assert table.allowed(running, model.CommitSucceeded("s", 9), shutdown)[0] == {"STALE"}
    assert table.allowed(running, model.CommitSucceeded("s", 3), shutdown)[0] == {"COMMITTED"}
    assert table.allowed(running, model.Discard("s"), shutdown)[0] == {"KEPT_IN_FLIGHT"}
    verdict = table.judge(running, model.Discard("s"), shutdown, model.Outcome.KEPT_DIRTY, running)
    assert verdict is not None and verdict.property_id == "S8"
    assert "returned KEPT_DIRTY; allowed: KEPT_IN_FLIGHT" in verdict.message
    turn = table.judge(None, model.TurnCompleted("s"), shutdown, 2, Session(generation=1))
    assert turn is not None and "generation 2" in turn.message


def test_result_table_for_the_drain_reads_the_shutdown_record() -> None:
    """L2: a drain worker starts a wanted session's call only while time remains; a poll
    finishes early only when nothing is queued and no awaited call runs."""
    table = ResultTable()
    dirty = Session(generation=1, registered=A, segments=(Segment(1, 1, A),))
    assert table.allowed(dirty, model.DrainNext("s", 0.0, 1), DRAINING)[0] == {"STARTED"}
    assert table.allowed(dirty, model.DrainNext("s", 1.0, 1), DRAINING)[0] == {"TIMED_OUT"}
    assert table.allowed(dirty, model.DrainNext("s", 0.0, 1), EMPTY_SHUTDOWN)[0] == {"FINISHED"}
    given_up = dirty._replace(drain_failures=3)
    assert table.allowed(given_up, model.DrainNext("s", 0.0, 1), DRAINING)[0] == {"SKIPPED"}
    busy = DRAINING._replace(calls=1)
    assert table.allowed(None, model.DrainPoll(0.0), busy)[0] == {"WAIT"}
    assert table.allowed(None, model.DrainPoll(0.0), busy._replace(waits_for_calls=False))[0] == {
        "FINISHED"
    }
    assert table.allowed(None, model.DrainPoll(1.0), busy)[0] == {"TIMED_OUT"}


def test_a_result_row_with_an_unknown_guard_is_rejected() -> None:
    with pytest.raises(ValueError, match="no_such_guard"):
        ResultTable(
            session_rows=(ResultRule("Discard", (ANY_STATE,), ("no_such_guard",), (), "S8"),)
        )


def test_unknown_guard_is_rejected_with_its_edge() -> None:
    edges = (AbstractEdge("Discard", "CLEAN", "ABSENT", ("no_such_guard",)),)
    with pytest.raises(ValueError, match=r"CLEAN --Discard--> ABSENT.*no_such_guard"):
        AbstractMachine(SESSION_STATES, edges, GUARDS)


def test_session_machine_guards_choose_between_edges() -> None:
    machine = build_session_machine()
    clean = Session()
    shutdown = EMPTY_SHUTDOWN
    assert (
        machine.fire("CLEAN", "TurnCompleted", clean, model.TurnCompleted("s"), shutdown)
        == "ORPHANED"
    )
    assert (
        machine.fire("CLEAN", "TurnCompleted", clean, model.TurnCompleted("s", A), shutdown)
        == "DIRTY"
    )
    ephemeral = model.TurnCompleted("s", A, ephemeral=True)
    assert machine.fire("CLEAN", "TurnCompleted", clean, ephemeral, shutdown) == "CLEAN"
    two = Session(generation=2, registered=A, segments=(Segment(1, 1, A), Segment(2, 2, B)))
    commit = model.CommitRequested("s", 1)
    assert machine.fire("DIRTY", "CommitRequested", two, commit, shutdown) == "COMMITTING_DIRTY"
    assert machine.fire("DIRTY", "Reset", two, model.Reset(), shutdown) == "ABSENT"
    assert machine.fire("DIRTY", "NoSuchTrigger", two, model.Reset(), shutdown) == "DIRTY"
    one = Session(generation=1, registered=A, segments=(Segment(1, 1, A),))
    worker = model.DrainNext("s", 0.0, 1)
    assert machine.fire("DIRTY", "DrainNext", one, worker, DRAINING) == "COMMITTING"
    assert machine.fire("DIRTY", "DrainNext", one, worker._replace(now=1.0), DRAINING) == "DIRTY"


def test_an_agent_that_cannot_commit_takes_no_edge_S4() -> None:
    """S4: a commit passing an agent without a commit method adopts nothing."""
    machine = build_session_machine()
    ownerless = Session(generation=1, segments=(Segment(1, 1, None),))
    able = model.CommitRequested("s", 1, B)
    unable = able._replace(agent_can_commit=False)
    assert machine.fire("ORPHANED", "CommitRequested", ownerless, able, EMPTY_SHUTDOWN) == (
        "COMMITTING"
    )
    assert machine.fire("ORPHANED", "CommitRequested", ownerless, unable, EMPTY_SHUTDOWN) == (
        "ORPHANED"
    )


def test_success_leaves_orphan_when_rest_has_no_agent() -> None:
    """S2/S4: after a commit, work without a resolvable agent is ORPHANED."""
    machine = build_session_machine()
    running = Session(
        generation=2,
        segments=(Segment(1, 1, A), Segment(2, 2, None)),
        in_flight=InFlight(5, A, 1, False),
    )
    assert session_state(running) == "COMMITTING_DIRTY"
    done = model.CommitSucceeded("s", 5)
    assert machine.fire("COMMITTING_DIRTY", "CommitSucceeded", running, done, EMPTY_SHUTDOWN) == (
        "ORPHANED"
    )
    stale = model.CommitFailed("s", 6)
    assert machine.fire("COMMITTING_DIRTY", "CommitFailed", running, stale, EMPTY_SHUTDOWN) == (
        "COMMITTING_DIRTY"
    )


def test_unregister_orphans_only_an_ownerless_first_segment() -> None:
    machine = build_session_machine()
    ownerless = Session(generation=1, registered=A, segments=(Segment(1, 1, None),))
    owned = Session(generation=1, registered=A, segments=(Segment(1, 1, A),))
    assert session_state(ownerless) == session_state(owned) == "DIRTY"
    event = model.UnregisterAgent("s")
    assert machine.fire("DIRTY", "UnregisterAgent", ownerless, event, EMPTY_SHUTDOWN) == "ORPHANED"
    assert machine.fire("DIRTY", "UnregisterAgent", owned, event, EMPTY_SHUTDOWN) == "DIRTY"
    register = model.RegisterAgent("s", B)
    assert machine.fire("ORPHANED", "RegisterAgent", ownerless, register, EMPTY_SHUTDOWN) == (
        "DIRTY"
    )


def test_session_state_names_the_abstract_state_of_each_kind_of_session() -> None:
    assert session_state(None) == "ABSENT"
    assert session_state(Session()) == "CLEAN"
    assert session_state(Session(generation=1, committed=1, registered=A)) == "CLEAN"
    assert session_state(Session(generation=1, segments=(Segment(1, 1, None),))) == "ORPHANED"
    assert session_state(Session(generation=1, segments=(Segment(1, 1, A),))) == "DIRTY"
    flight = InFlight(1, A, 1, False)
    one = Session(generation=1, registered=A, segments=(Segment(1, 1, A),), in_flight=flight)
    assert session_state(one) == "COMMITTING"
    assert session_state(one._replace(generation=2, segments=(Segment(1, 2, A),))) == (
        "COMMITTING_DIRTY"
    )
    failed = Session(generation=1, registered=A, segments=(Segment(1, 1, A),), drain_failures=3)
    assert session_state(failed) == "DIRTY"


def test_process_state_is_the_drain_phase_that_reset_and_a_new_drain_move() -> None:
    assert process_state(model.EMPTY_PROCESS) == "RUNNING"
    assert process_state(model.Process(shutdown=model.Shutdown(phase="DRAINING"))) == "DRAINING"
    assert process_state(model.Process(shutdown=model.Shutdown(phase="DRAINED"))) == "DRAINED"
    machine = build_process_machine()
    assert machine.fire("DRAINING", "Reset", None, model.Reset(), DRAINING) == "RUNNING"
    assert (
        machine.fire("DRAINED", "DrainStarted", None, model.Reset(), EMPTY_SHUTDOWN) == "DRAINING"
    )


def test_machine_queries_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A query that takes no edge, or names a trigger with no row for the state, is
    silent even with every logger at DEBUG (the library warned on such queries)."""
    machine = build_session_machine()
    clean = Session()
    with caplog.at_level(logging.DEBUG):
        assert (
            machine.fire("DIRTY", "Discard", clean, model.Discard("s"), EMPTY_SHUTDOWN) == "DIRTY"
        )
        assert (
            machine.fire("CLEAN", "Discard", clean, model.Discard("s"), EMPTY_SHUTDOWN) == "ABSENT"
        )
        ephemeral = model.TurnCompleted("s", ephemeral=True)
        assert machine.fire("CLEAN", "TurnCompleted", clean, ephemeral, EMPTY_SHUTDOWN) == "CLEAN"
        build_process_machine().fire(
            "RUNNING", "DrainFinished", None, model.Reset(), EMPTY_SHUTDOWN
        )
    assert caplog.records == []
