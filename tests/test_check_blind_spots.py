"""What ``memory-lifecycle check`` reaches beyond one session at a time: the
drain's counts, the shell's recovery query, whole-process steps and malformed
answers of a step function."""

from __future__ import annotations

import dataclasses

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import Session, Shutdown
from memory_lifecycle.specs.checker import cli as check_cli
from memory_lifecycle.specs.checker import sessions as sessions_engine
from memory_lifecycle.specs.checker.cli import _finish
from memory_lifecycle.specs.checker.explore import explore
from memory_lifecycle.specs.checker.mutants import MUTANTS, Mutant
from memory_lifecycle.specs.checker.world import PROCESS_BOUNDS, Bounds, process_events
from memory_lifecycle.specs.properties import ALL, BY_ID, STEP_RAISED, StepFn


def test_wrong_drain_counts_reported_by_the_sessions_engine_L2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """L2: a step that leaves the drain's counts wrong is a violation with its trace,
    found by the sessions engine itself (no slow hand-over to the product engine);
    the states past it are said to be unexplored."""
    mutant = MUTANTS["drain-queues-twice"]
    result = explore(mutant.bounds, mutant.step, ALL, engine="sessions")
    assert result.engine == "sessions"
    assert [item.property_id for item in result.violations] == ["L2"]
    assert "queued=2" in result.violations[0].message
    assert result.unfollowed > 0 and not result.complete
    _finish(result, ALL, None)
    shown = capsys.readouterr().out
    assert "transitions not followed" in shown and "were not explored" in shown


def test_wrong_drain_counts_without_L2_hand_over_to_the_product_engine_L2() -> None:
    """L2 left out: the sessions engine cannot represent the wrong counts, so the
    product engine explores instead, and still finds nothing it was not asked for."""
    mutant = MUTANTS["drain-queues-twice"]
    result = explore(mutant.bounds, mutant.step, [BY_ID["S1"]], engine="sessions")
    assert result.engine == "product"
    assert result.ok and result.complete


def test_recovery_query_must_name_exactly_the_owed_follow_ups_L1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """L1: the shell recovers a lost follow-up through ``owes_follow_up``; the checker
    asks it in every state, so a query that also names sessions owing nothing fails."""
    world = Bounds(sessions=1, agents=1, max_generation=1, drain=False, edits=False)
    assert explore(world, model.step, [BY_ID["L1"]]).ok

    def owes_too_much(session: Session | None, phase: str) -> bool:
        return session is not None and session.in_flight is None

    monkeypatch.setattr(model, "owes_follow_up", owes_too_much)
    result = explore(world, model.step, [BY_ID["L1"]])
    assert [item.property_id for item in result.violations] == ["L1"]
    assert "owes_follow_up" in result.violations[0].message


@pytest.mark.parametrize(
    ("name", "property_id"),
    [("register-everywhere", "S6"), ("step-sorts-by-entry", STEP_RAISED)],
)
def test_default_whole_process_world_steps_two_sessions_S6(name: str, property_id: str) -> None:
    """S6 and STEP: the third world of a default ``check`` steps whole processes with two
    sessions, where a step that changes another session, or cannot keep two
    sessions, shows (the sessions engine steps each session alone)."""
    result = explore(PROCESS_BOUNDS, MUTANTS[name].step, ALL, engine="product")
    assert property_id in {item.property_id for item in result.violations}
    assert explore(PROCESS_BOUNDS, model.step, ALL, engine="product").ok


def test_step_answering_none_is_a_violation_with_its_trace_not_a_crash() -> None:
    """STEP: a step function that answers something other than a Step is reported,
    with the events that lead to it, by both engines."""
    mutant = MUTANTS["discard-of-nothing-answers-none"]
    for engine in ("product", "sessions"):
        result = explore(mutant.bounds, mutant.step, ALL, engine=engine)
        violation = result.violation(STEP_RAISED)
        assert violation is not None, engine
        assert "answered None" in violation.message
        assert violation.trace.steps[-1].action.startswith("Discard")


def test_follow_up_that_asks_for_more_work_violates_L1() -> None:
    """L1: a follow-up is not a boundary; one that raises the debt when it finds its
    session busy commits turns nobody asked to commit yet."""
    mutant = MUTANTS["follow-up-raises-debt"]
    result = explore(mutant.bounds, mutant.step, ALL)
    violation = result.violation("L1")
    assert violation is not None
    assert "raised the debt" in violation.message


def test_bounds_without_names_the_families_it_knows() -> None:
    """``Bounds.without`` leaves out the named event families and refuses an unknown
    one with the list to choose from."""
    bounds = Bounds(sessions=1).without("drain", "edits")
    assert not bounds.drain and not bounds.edits and bounds.wait
    with pytest.raises(ValueError, match="unknown event family 'drian'; choose from"):
        Bounds().without("drian")


def test_drain_end_and_last_polls_offered_in_every_phase_L2() -> None:
    """L2: a drain's end and its workers' last polls can come after another drain or
    a reset ended it, so the world offers them whatever the phase."""
    for shutdown in (Shutdown(), Shutdown(phase=model.DRAINED)):
        offered = process_events(shutdown, Bounds())
        assert model.DrainFinished() in offered
        assert any(isinstance(e, model.DrainPoll) and e.worker for e in offered)


def test_test_hook_writes_read_back_as_written_S7() -> None:
    """S7: every accepted test-hook edit is probed for what it wrote, so a hook that
    writes in_flight=True over a running call (replacing it) is a violation."""
    mutant = MUTANTS["edit-marks-a-new-call"]
    violation = explore(mutant.bounds, mutant.step, ALL).violation("S7")
    assert violation is not None
    assert "wrote the value the entry held" in violation.message


def _interrupted_after(calls: int, step_fn: StepFn) -> StepFn:
    """``step_fn`` that raises KeyboardInterrupt (a Ctrl-C) on its ``calls``-th call."""
    made = [0]

    def step(state: model.Process, event: model.Event) -> model.Step:
        made[0] += 1
        if made[0] == calls:
            raise KeyboardInterrupt
        return step_fn(state, event)

    return step


@pytest.mark.parametrize("engine", ["product", "sessions"])
def test_ctrl_c_keeps_the_violations_found_so_far_S8(engine: str) -> None:
    """S8: a Ctrl-C during the search returns what was found until then, marked
    interrupted and incomplete, instead of losing it."""
    mutant = MUTANTS["discard-dirty"]
    step = _interrupted_after(3_000, mutant.step)
    result = explore(Bounds(sessions=2, agents=1, max_generation=1), step, ALL, engine=engine)
    assert result.interrupted and not result.complete
    assert result.violation("S8") is not None


def test_check_command_prints_what_it_found_when_interrupted_S8(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """S8: ``check`` interrupted prints the violations found so far and exits 130."""
    real = check_cli.explore

    def interrupted(*args: object, **options: object) -> object:
        return dataclasses.replace(real(*args, **options), interrupted=True, complete=False)

    monkeypatch.setattr(check_cli, "explore", interrupted)
    assert check_cli.main(["--mutant", "discard-dirty"]) == 130
    shown = capsys.readouterr()
    assert "S8 violated" in shown.out and "interrupted" in shown.err


def test_check_cut_by_max_states_claims_no_property_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A search cut by ``--max-states`` says that the rest of the bound went unchecked,
    never that every property holds."""
    assert check_cli.main(["--sessions", "1", "--max-states", "5"]) == 0
    shown = capsys.readouterr().out
    assert "hold in this bound" not in shown
    assert "not checked on the rest of the bound" in shown


def _answering(change: str) -> StepFn:
    """``model.step`` whose answer's sessions are changed as ``change`` says."""

    def step(state: model.Process, event: model.Event) -> model.Step:
        out = model.step(state, event)
        pairs = out.state.sessions
        changed = {
            "outside the world": (*pairs, ("zz", model.Session())),
            "a session appears twice": pairs * 2 if pairs else pairs,
            "is not a (session id, Session) pair": (("s1", None),),
            "not sorted by id": tuple(reversed(pairs)),
        }[change]
        return out._replace(state=out.state._replace(sessions=changed))

    return step


@pytest.mark.parametrize(
    "change",
    [
        "outside the world",
        "a session appears twice",
        "is not a (session id, Session) pair",
        "not sorted by id",
    ],
)
def test_step_answering_a_malformed_process_is_a_violation_not_a_crash(change: str) -> None:
    """STEP: a step function whose answer is not a well-formed process (sessions
    outside the world, twice, not Sessions, out of order) is reported with its trace."""
    world = Bounds(sessions=2, agents=1, max_generation=1).without("drain", "edits")
    violation = explore(world, _answering(change), ALL, engine="product").violation(STEP_RAISED)
    assert violation is not None
    assert change in violation.message


def test_drain_start_with_wrong_counts_found_by_the_sessions_engine_L2() -> None:
    """L2: a drain that starts with its queue count wrong, stepped session by session,
    is an L2 violation of the sessions engine (the sessions whose step went wrong are
    reported, not compared with the others)."""
    mutant = MUTANTS["drain-start-skips-queue"]
    result = explore(mutant.bounds, mutant.step, ALL, engine="sessions")
    assert result.engine == "sessions"
    assert result.violation("L2") is not None and result.unfollowed > 0


def test_sessions_engine_counts_the_drain_by_the_specification_L2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """L2: the sessions engine derives the drain's counts from the specification's
    ``committable``, never from the model's own ``drain_wants`` (a broken one must show
    as a violation, not break the engine)."""

    def broken(session: Session | None) -> bool:
        raise AssertionError("the engine must not ask the model which sessions it wants")

    monkeypatch.setattr(model, "drain_wants", broken)
    monkeypatch.setattr(sessions_engine, "drain_wants", broken, raising=False)
    world = Bounds(sessions=2, agents=1, max_generation=1).without("edits")
    assert explore(world, model.step, ALL, engine="sessions").ok


def _looping_on_second_turn(state: model.Process, event: model.Event) -> model.Step:
    """``model.step``, except that the second turn of a session never returns (a
    ``while`` whose counter is never advanced, as a one-line bug makes one)."""
    out = model.step(state, event)
    if isinstance(event, model.TurnCompleted) and out.result == 2:
        left = 1
        while left > 0:
            pass
    return out


@pytest.mark.parametrize("engine", ["product", "sessions"])
def test_step_that_never_returns_is_a_violation_with_its_trace_not_a_hang(engine: str) -> None:
    """STEP: a step still running after ``step_timeout`` is interrupted and reported
    with the events that lead to it; the search goes on and ends."""
    bounds = Bounds(sessions=1, agents=1, max_generation=2).without("edits", "reset", "drain")
    result = explore(bounds, _looping_on_second_turn, ALL, engine=engine, step_timeout=0.2)
    violation = result.violation(STEP_RAISED)
    assert violation is not None, result.violations
    assert "StepTimedOut" in violation.message
    assert "did not return within 0.2 s" in violation.message
    actions = [step.action for step in violation.trace.steps]
    assert sum(action.startswith("TurnCompleted") for action in actions) == 2
    assert not result.complete  # the search ends at the first step that does not return


def test_check_command_reports_a_step_that_never_returns_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """STEP: ``check --step-timeout`` on a step that loops prints the violation with
    its trace, says the search stopped early, and exits 1 instead of hanging."""
    looping = Mutant("The second turn never returns.", _looping_on_second_turn, STEP_RAISED)
    monkeypatch.setattr(check_cli, "MUTANTS", {"loops": looping})
    status = check_cli.main(["--mutant", "loops", "--step-timeout", "0.2", "--sessions", "1"])
    shown = capsys.readouterr().out
    assert status == 1, shown
    assert "StepTimedOut: the step did not return within 0.2 s" in shown
    assert "exploration stopped early" in shown


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf", "soon"])
def test_check_refuses_a_step_timeout_that_is_not_a_positive_number(
    seconds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--step-timeout`` takes a positive, finite number of seconds; anything else is a
    usage error (exit 2) that names the option."""
    with pytest.raises(SystemExit) as exited:
        check_cli.main(["--step-timeout", seconds])
    assert exited.value.code == 2
    assert "--step-timeout" in capsys.readouterr().err
