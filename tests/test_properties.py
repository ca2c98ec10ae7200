"""The property catalogue S1-S10, L1-L4: each check accepts the model's own steps,
rejects a hand-made bad one, and holds on every state and transition of the
default bound."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import Event, Outcome, Process, Step
from memory_lifecycle.specs.checker.explore import CheckResult, explore
from memory_lifecycle.specs.checker.world import AGENTS, CHECK_BOUNDS, Bounds
from memory_lifecycle.specs.properties import ALL, BY_ID, judge_result

A, B = AGENTS[0], AGENTS[1]


def _run(events: Sequence[Event], state: Process = model.EMPTY_PROCESS) -> Process:
    for event in events:
        state = model.step(state, event).state
    return state


def _last(events: Sequence[Event]) -> tuple[Process, Event, Step]:
    before = _run(events[:-1])
    return before, events[-1], model.step(before, events[-1])


def _with(state: Process, session_id: str, session: model.Session | None) -> Process:
    pairs = [pair for pair in state.sessions if pair[0] != session_id]
    if session is not None:
        pairs.append((session_id, session))
    return state._replace(sessions=tuple(sorted(pairs, key=lambda pair: str(pair[0]))))


def _session(state: Process, session_id: str = "s1") -> model.Session:
    session = state.session(session_id)
    assert session is not None
    return session


def _transition(property_id: str, before: Process, event: Event, step: Step) -> str | None:
    check = BY_ID[property_id].on_transition
    assert check is not None
    return check(before, event, step)


def _after(property_id: str, before: Process, event: Event, step: Step) -> str | None:
    check = BY_ID[property_id].after_transition
    assert check is not None
    failure = check(before, event, step, model.step)
    return None if failure is None else failure.message


def _ignoring(event_type: type[Event], result: Outcome) -> Callable[[Process, Event], Step]:
    """A broken step: the model's, except that an event of ``event_type`` changes
    nothing and returns ``result``."""

    def broken(state: Process, event: Event) -> Step:
        if isinstance(event, event_type):
            return Step(state, (), result)
        return model.step(state, event)

    return broken


LATE = [
    model.RegisterAgent("s1", A),
    model.TurnCompleted("s1"),
    model.CommitRequested("s1", 1),
    model.TurnCompleted("s1"),
    model.CommitRequested("s1", 2),
    model.CommitSucceeded("s1", 1),
]
"""A commit in flight while another turn completes and another commit is asked for."""

RUNNING = [model.RegisterAgent("s1", A), model.TurnCompleted("s1"), model.CommitRequested("s1", 1)]
"""One call in flight."""


def test_catalogue_has_every_id_once_with_a_statement_and_a_check() -> None:
    assert [item.id for item in ALL] == [f"S{n}" for n in range(1, 11)] + [
        f"L{n}" for n in range(1, 5)
    ]
    for item in ALL:
        assert item.title and item.statement and item.why
        assert item.on_state or item.on_transition or item.on_progress or item.after_transition


def test_S1_provider_called_only_for_completed_generations() -> None:
    """S1: a call capturing beyond the completed generations is rejected."""
    before, event, step = _last(RUNNING)
    assert _transition("S1", before, event, step) is None
    bogus = step._replace(effects=(model.CallProvider("s1", 1, A, 2),))
    assert "captured generation 2" in (_transition("S1", before, event, bogus) or "")
    registered_only = _run([model.RegisterAgent("s1", A)])
    bad = Step(registered_only, (model.CallProvider("s1", 1, A, 0),), Outcome.STARTED)
    assert _transition("S1", registered_only, model.CommitRequested("s1", 1), bad) is not None


def test_S1_ephemeral_turns_count_nothing_and_turns_count_one() -> None:
    """S1: an ephemeral turn that changes the session, a turn that adds two generations,
    or a generation returned wrong are rejected."""
    before, event, step = _last(
        [model.TurnCompleted("s1", A), model.TurnCompleted("s1", ephemeral=True)]
    )
    assert _transition("S1", before, event, step) is None
    counted = _run([model.TurnCompleted("s1")], before)
    message = _transition("S1", before, event, step._replace(state=counted))
    assert message is not None and "ephemeral" in message
    before, event, step = _last([model.TurnCompleted("s1", A)])
    twice = _run([model.TurnCompleted("s1")], step.state)
    assert "expected 1" in (_transition("S1", before, event, step._replace(state=twice)) or "")
    assert "generation 5" in (_transition("S1", before, event, step._replace(result=5)) or "")


def test_S2_success_advances_only_to_the_captured_end() -> None:
    """S2: success with a turn completed in flight leaves that turn dirty."""
    before, event, step = _last(LATE)
    assert _transition("S2", before, event, step) is None
    assert (_session(step.state).committed, _session(step.state).generation) == (1, 2)
    too_far = _with(step.state, "s1", _session(step.state)._replace(committed=2, segments=()))
    message = _transition("S2", before, event, step._replace(state=too_far))
    assert message is not None and "expected 1" in message


def test_S3_failure_keeps_work_owner_and_ends_the_call() -> None:
    """S3: a failure, fatal or not, changes nothing but the in-flight mark."""
    for fatal in (False, True):
        before, event, step = _last([*RUNNING, model.CommitFailed("s1", 1, fatal)])
        assert _transition("S3", before, event, step) is None
        assert _session(step.state).in_flight is None
        stuck = _with(step.state, "s1", _session(before))
        assert "in flight" in (_transition("S3", before, event, step._replace(state=stuck)) or "")
        stolen = _session(step.state)._replace(segments=(model.Segment(1, 1, B),))
        changed = step._replace(state=_with(step.state, "s1", stolen))
        assert "owners" in (_transition("S3", before, event, changed) or "")


def test_S4_call_is_made_by_the_owner_and_owners_never_move() -> None:
    """S4: the first segment's owner calls; registering B never takes A's segment."""
    before, event, step = _last(
        [
            model.RegisterAgent("s1", A),
            model.TurnCompleted("s1"),
            model.RegisterAgent("s1", B),
            model.CommitRequested("s1", 1),
        ]
    )
    assert step.effects == (model.CallProvider("s1", 1, A, 1),)
    assert _transition("S4", before, event, step) is None
    wrong = step._replace(effects=(model.CallProvider("s1", 1, B, 1),))
    assert "belongs to A" in (_transition("S4", before, event, wrong) or "")
    before, event, step = _last(
        [model.RegisterAgent("s1", A), model.TurnCompleted("s1"), model.RegisterAgent("s1", B)]
    )
    taken = _session(step.state)._replace(segments=(model.Segment(1, 1, B),))
    message = _transition("S4", before, event, step._replace(state=_with(step.state, "s1", taken)))
    assert message is not None and "owner of dirty generation 1" in message
    state_check = BY_ID["S4"].on_state
    assert state_check is not None
    running = _run(RUNNING)
    assert state_check(running) is None
    hijacked = _session(running)._replace(in_flight=model.InFlight(1, B, 1, False))
    assert state_check(_with(running, "s1", hijacked)) is not None


def test_S4_a_turn_naming_an_agent_registers_it() -> None:
    """S4: after a turn under agent B, B is registered and owns the turn."""
    before, event, step = _last([model.RegisterAgent("s1", A), model.TurnCompleted("s1", B)])
    assert _transition("S4", before, event, step) is None
    kept = _session(step.state)._replace(registered=A)
    message = _transition("S4", before, event, step._replace(state=_with(step.state, "s1", kept)))
    assert message is not None and "registered agent is A" in message


def test_S4_an_agent_that_cannot_commit_adopts_nothing() -> None:
    """S4: a call on an agent passed without a commit method is rejected."""
    before, event, step = _last(
        [model.TurnCompleted("s1"), model.CommitRequested("s1", 1, B, agent_can_commit=False)]
    )
    assert step.result is Outcome.NO_AGENT and _transition("S4", before, event, step) is None
    adopted = Step(before, (model.CallProvider("s1", 1, B, 1),), Outcome.STARTED)
    assert "belongs to None" in (_transition("S4", before, event, adopted) or "")


def test_S5_no_second_call_while_one_is_in_flight() -> None:
    """S5: a commit requested while busy starts nothing."""
    before, event, step = _last(LATE[:5])
    assert step.result is Outcome.BUSY and _transition("S5", before, event, step) is None
    second = step._replace(effects=(model.CallProvider("s1", 2, A, 2),))
    assert "in flight" in (_transition("S5", before, event, second) or "")


def test_S5_the_end_of_a_foreign_call_is_stale() -> None:
    """S5: an end naming a call the session does not run changes nothing and is STALE."""
    before, event, step = _last([*RUNNING, model.CommitSucceeded("s1", 9)])
    assert step.result is Outcome.STALE and _transition("S5", before, event, step) is None
    ended = model.step(before, model.CommitSucceeded("s1", 1))
    accepted = ended._replace(result=Outcome.STALE)
    assert "does not run changed it" in (_transition("S5", before, event, accepted) or "")
    claimed = step._replace(result=Outcome.COMMITTED)
    assert "returned COMMITTED; allowed: STALE" in (_transition("S5", before, event, claimed) or "")


def test_S6_an_event_for_one_session_leaves_the_others_alone() -> None:
    """S6: changing s2 on an s1 event is rejected."""
    before, event, step = _last([model.TurnCompleted("s2"), model.RegisterAgent("s1", A)])
    assert _transition("S6", before, event, step) is None
    touched = _with(step.state, "s2", _session(step.state, "s2")._replace(registered=A))
    assert "s2" in (_transition("S6", before, event, step._replace(state=touched)) or "")


def test_S7_marks_are_well_formed_and_monotonic() -> None:
    """S7: gaps in the segments, debts out of range, counts going back, and drain
    failures outside a drain are rejected."""
    check = BY_ID["S7"].on_state
    assert check is not None
    state = _run(LATE)
    assert check(state) is None
    gap = _session(state)._replace(segments=(model.Segment(3, 3, A),))
    assert "do not cover" in (check(_with(state, "s1", gap)) or "")
    debt = _session(state)._replace(follow_up_through=1)
    assert "follow_up_through" in (check(_with(state, "s1", debt)) or "")
    failures = _session(state)._replace(drain_failures=1)
    assert "outside a drain" in (check(_with(state, "s1", failures)) or "")
    before, event, step = _last([model.TurnCompleted("s1"), model.TurnCompleted("s1")])
    back = _session(step.state)._replace(generation=0, segments=())
    assert _transition("S7", before, event, step._replace(state=_with(step.state, "s1", back)))


def test_S7_the_test_hook_refuses_malformed_edits() -> None:
    """S7: a malformed edit must raise ValueError/TypeError; a well-formed one must not,
    and must write a well-formed entry of its own session only."""
    probe = BY_ID["S7"].on_probe
    assert probe is not None
    state = _run([model.TurnCompleted("s1", A), model.TurnCompleted("s2", A)])
    bad = model.EntryEdited("s1", "committed_generation", 2)
    assert probe(state, bad, True, ValueError("refused")) is None
    assert "accepted" in (probe(state, bad, True, Step(state, (), Outcome.DONE)) or "")
    assert "not ValueError" in (probe(state, bad, True, IndexError("oops")) or "")
    good = model.EntryEdited("s1", "agent", B)
    assert probe(state, good, False, model.step(state, good)) is None
    assert "raised" in (probe(state, good, False, ValueError("no")) or "")
    elsewhere = _with(state, "s2", None)
    assert "changed session 's2'" in (
        probe(state, good, False, Step(elsewhere, (), Outcome.DONE)) or ""
    )


def test_S8_discard_removes_only_clean_idle_entries() -> None:
    """S8: the model keeps a dirty entry; removing it, or removing on another event, fails."""
    before, event, step = _last([model.TurnCompleted("s1"), model.Discard("s1")])
    assert step.result is Outcome.KEPT_DIRTY and _transition("S8", before, event, step) is None
    removed = step._replace(state=_with(step.state, "s1", None))
    assert "dirty" in (_transition("S8", before, event, removed) or "")
    other = model.UnregisterAgent("s1")
    assert "removed the entry" in (_transition("S8", before, other, removed) or "")
    swapped = step._replace(result=Outcome.KEPT_IN_FLIGHT)
    assert "allowed: KEPT_DIRTY" in (_transition("S8", before, event, swapped) or "")


def test_S9_no_provider_call_when_nothing_is_dirty() -> None:
    """S9: the model answers nothing_to_commit; a call there is rejected."""
    before, event, step = _last(
        [*RUNNING, model.CommitSucceeded("s1", 1), model.CommitRequested("s1", 2)]
    )
    assert step.result is Outcome.NOTHING_TO_COMMIT
    assert _transition("S9", before, event, step) is None
    called = step._replace(effects=(model.CallProvider("s1", 2, A, 1),))
    assert _transition("S9", before, event, called) is not None


def test_S10_turns_of_one_owner_share_a_segment_even_in_flight() -> None:
    """S10: a turn completed during the call extends the owner's segment."""
    before, event, step = _last(LATE[:4])
    assert _session(step.state).segments == (model.Segment(1, 2, A),)
    assert _transition("S10", before, event, step) is None
    split = _session(step.state)._replace(segments=(model.Segment(1, 1, A), model.Segment(2, 2, A)))
    message = _transition("S10", before, event, step._replace(state=_with(step.state, "s1", split)))
    assert message is not None and "new segment" in message


def test_L1_follow_up_starts_when_a_call_ends_with_work_owed() -> None:
    """L1: the success of LATE starts the follow-up; dropping it is rejected."""
    before, event, step = _last(LATE)
    assert model.StartFollowUp("s1") in step.effects
    assert _transition("L1", before, event, step) is None
    dropped = step._replace(
        effects=tuple(e for e in step.effects if e != model.StartFollowUp("s1"))
    )
    assert "no follow-up" in (_transition("L1", before, event, dropped) or "")
    follow = model.step(step.state, model.CommitRequested("s1", 3, follow_up=True))
    assert follow.effects == (model.CallProvider("s1", 3, A, 2),)


def test_L1_a_busy_or_expired_commit_is_carried_out_from_what_happens() -> None:
    """L1: after BUSY or TIMED_OUT, succeeding providers and the follow-ups the steps
    start commit the work; a step that forgets the request is caught by what then
    happens, whatever the debt field says."""
    running = [*RUNNING, model.TurnCompleted("s1")]
    for request in (
        model.CommitRequested("s1", 2),
        model.CommitRequested("s1", 2, wait=True, now=1.0, deadline=1.0),
        model.CommitRequested("s1", 2, in_call=True),
    ):
        before, event, step = _last([*running, request])
        assert step.result in (Outcome.BUSY, Outcome.TIMED_OUT)
        assert _after("L1", before, event, step) is None
        forgotten = step._replace(state=before)
        message = _after("L1", before, event, forgotten)
        assert message is not None and "leave committed at 1" in message


def test_L1_a_provider_that_always_fails_is_given_up_on() -> None:
    """L1: against a failing provider a commit leads to at most two calls (its own and
    one follow-up), and the work stays dirty."""
    before, event, step = _last(
        [*RUNNING, model.TurnCompleted("s1"), model.CommitRequested("s1", 2)]
    )
    assert _after("L1", before, event, step) is None

    def retries_for_ever(state: Process, event: Event) -> Step:
        out = model.step(state, event)
        if isinstance(event, model.CommitFailed) and out.result is Outcome.FAILED:
            session = _session(out.state)
            kept = session._replace(follow_up_through=session.generation)
            return Step(
                _with(out.state, "s1", kept), (*out.effects, model.StartFollowUp("s1")), out.result
            )
        return out

    failure = BY_ID["L1"].after_transition(before, event, step, retries_for_ever)  # type: ignore[misc]
    assert failure is not None and "always fails" in failure.message
    assert sum(isinstance(e, model.CommitFailed) for e in failure.events) >= 3


def test_L1_no_follow_up_starts_while_draining() -> None:
    """L1: a follow-up started during the drain is rejected."""
    owed = [
        *RUNNING,
        model.TurnCompleted("s1"),
        model.CommitRequested("s1", 2),
        model.DrainStarted(0.0, 1.0, 2),
    ]
    before, event, step = _last([*owed, model.CommitSucceeded("s1", 1)])
    assert before.shutdown.phase == model.DRAINING
    assert _transition("L1", before, event, step) is None
    started = step._replace(effects=(*step.effects, model.StartFollowUp("s1")))
    assert "while draining" in (_transition("L1", before, event, started) or "")


def test_L2_the_drain_counts_agree_with_the_sessions() -> None:
    """L2: while draining, queued and calls are the committable and in-flight sessions."""
    check = BY_ID["L2"].on_state
    assert check is not None
    draining = _run([model.TurnCompleted("s1", A), *RUNNING[:1], model.DrainStarted(0.0, 1.0, 2)])
    assert check(draining) is None
    wrong = draining._replace(shutdown=draining.shutdown._replace(queued=0))
    assert "need a commit" in (check(wrong) or "")
    leftover = model.EMPTY_PROCESS._replace(shutdown=model.EMPTY_PROCESS.shutdown._replace(calls=1))
    assert "outside a drain" in (check(leftover) or "")


def test_L2_the_drain_queues_what_it_must_commit_and_starts_enough_workers() -> None:
    """L2: DrainStarted queues every committable session and starts one worker per
    queued session up to its limit; a session that becomes committable during the drain
    (a failure, a turn) is queued then."""
    before, event, step = _last(
        [
            model.TurnCompleted("s1", A),
            model.TurnCompleted("s2", B),
            model.DrainStarted(0.0, 1.0, 4),
        ]
    )
    assert _transition("L2", before, event, step) is None
    one = step._replace(
        effects=(model.QueueForDrain("s1"), model.QueueForDrain("s2"), model.StartDrainWorkers(1))
    )
    assert "hung provider" in (_transition("L2", before, event, one) or "")
    skipped = step._replace(effects=(model.QueueForDrain("s1"), model.StartDrainWorkers(2)))
    assert "need a commit" in (_transition("L2", before, event, skipped) or "")
    taken = _run([model.DrainNext("s1", 0.0, 5)], step.state)
    failed = model.step(taken, model.CommitFailed("s1", 5))
    assert model.QueueForDrain("s1") in failed.effects
    assert _transition("L2", taken, model.CommitFailed("s1", 5), failed) is None
    unqueued = failed._replace(effects=(model.WakeWaiters(),))
    assert "did not queue it" in (
        _transition("L2", taken, model.CommitFailed("s1", 5), unqueued) or ""
    )
    uncounted = failed._replace(
        state=_with(failed.state, "s1", _session(taken)._replace(in_flight=None))
    )
    assert "drain_failures" in (
        _transition("L2", taken, model.CommitFailed("s1", 5), uncounted) or ""
    )


def test_L2_the_drain_returns_by_its_deadline_and_not_before_its_work_is_done() -> None:
    """L2: a poll at the deadline must end the drain; a poll with work left must wait."""
    draining = _run([model.TurnCompleted("s1", A), model.DrainStarted(0.0, 1.0, 2)])
    for now, bad in ((1.0, Outcome.WAIT), (0.0, Outcome.FINISHED)):
        poll = model.DrainPoll(now)
        step = model.step(draining, poll)
        assert _transition("L2", draining, poll, step) is None
        assert "DrainPoll" in (_transition("L2", draining, poll, step._replace(result=bad)) or "")


def test_L2_every_state_can_be_driven_clean_when_providers_succeed() -> None:
    """L2: from an ownerless dirty state a commit naming an agent cleans it; a step that
    never adopts is caught; a drain whose poll never finishes is caught."""
    check = BY_ID["L2"].on_progress
    assert check is not None
    ownerless = _run([model.TurnCompleted("s1"), model.TurnCompleted("s1")])
    assert check(ownerless, model.step, A) is None

    never_adopt = _ignoring(model.CommitRequested, Outcome.NO_AGENT)
    failure = check(ownerless, never_adopt, A)
    assert failure is not None and failure.events == (model.CommitRequested("s1", 1, A),)
    draining = _run([model.TurnCompleted("s1", A), model.DrainStarted(0.0, 1.0, 2)])
    assert check(draining, model.step, A) is None

    def never_finishes(state: Process, event: Event) -> Step:
        out = model.step(state, event)
        if isinstance(event, model.DrainPoll) and out.result is Outcome.FINISHED:
            return out._replace(result=Outcome.WAIT)
        return out

    failure = check(draining, never_finishes, A)
    assert failure is not None and "before its deadline" in failure.message


def test_L3_a_running_call_can_always_end() -> None:
    """L3: each provider outcome ends the call; a step where success does not is caught."""
    check = BY_ID["L3"].on_progress
    assert check is not None
    running = _run(RUNNING)
    assert check(running, model.step, A) is None

    wedged = _ignoring(model.CommitSucceeded, Outcome.COMMITTED)
    failure = check(running, wedged, A)
    assert failure is not None and "left it in flight" in failure.message


def test_L3_waits_only_while_the_call_runs_and_every_end_wakes() -> None:
    """L3: WAIT from inside a call or after the deadline is rejected, and so is an end of
    the running call that wakes no waiter or a call recorded under another id."""
    running = _run(RUNNING)
    inside = model.CommitRequested("s1", 2, wait=True, in_call=True, deadline=1.0)
    step = model.step(running, inside)
    assert step.result is Outcome.BUSY and _transition("L3", running, inside, step) is None
    waits = step._replace(result=Outcome.WAIT, state=running)
    assert "allowed: BUSY" in (_transition("L3", running, inside, waits) or "")
    expired = model.CommitRequested("s1", 2, wait=True, now=1.0, deadline=1.0)
    step = model.step(running, expired)
    waited = step._replace(result=Outcome.WAIT, state=running)
    assert "allowed: TIMED_OUT" in (_transition("L3", running, expired, waited) or "")
    end = model.CommitFailed("s1", 1)
    step = model.step(running, end)
    assert _transition("L3", running, end, step) is None
    silent = step._replace(effects=())
    assert "without waking" in (_transition("L3", running, end, silent) or "")
    before, event, step = _last([model.TurnCompleted("s1", A), model.CommitRequested("s1", 4)])
    renamed = _with(
        step.state, "s1", _session(step.state)._replace(in_flight=model.InFlight(5, A, 1, False))
    )
    assert "recorded as 5" in (_transition("L3", before, event, step._replace(state=renamed)) or "")


def test_L4_a_committed_unregistered_discarded_session_leaves_no_entry() -> None:
    """L4: the model removes the entry; keeping it is rejected."""
    before, event, step = _last(
        [model.RegisterAgent("s1", A), model.UnregisterAgent("s1"), model.Discard("s1")]
    )
    assert step.result is Outcome.DISCARDED and step.state.session("s1") is None
    assert _transition("L4", before, event, step) is None
    kept = step._replace(state=before)
    assert "kept its entry" in (_transition("L4", before, event, kept) or "")


def test_results_are_judged_once_per_step_against_the_tables() -> None:
    """S9: judge_result names the property whose row the result breaks."""
    before, event, step = _last(
        [model.TurnCompleted("s1", A), model.CommitSucceeded("s1", 1), model.Discard("s1")]
    )
    assert judge_result(before, event, step) is None
    verdict = judge_result(before, event, step._replace(result=Outcome.DISCARDED))
    assert verdict is not None and verdict.property_id == "S8"


@pytest.fixture(scope="module")
def default_bound() -> CheckResult:
    return explore(CHECK_BOUNDS)


def _holds(result: CheckResult, property_id: str) -> None:
    assert result.complete
    violation = result.violation(property_id)
    assert violation is None, violation.trace.format() if violation else ""


def test_default_bound_is_large_and_overlapping(default_bound: CheckResult) -> None:
    """The default bound reaches hundreds of thousands of states, twenty events deep,
    and probes the test hook from each of them."""
    assert default_bound.states > 400_000
    assert default_bound.transitions > 40 * default_bound.states
    assert default_bound.depth >= 20
    assert default_bound.probes > 10 * default_bound.states
    assert default_bound.beyond_bounds == 0


@pytest.mark.parametrize("property_id", [item.id for item in ALL if item.id != "S6"])
def test_property_holds_at_default_bound(default_bound: CheckResult, property_id: str) -> None:
    """S1-S5, S7-S10, L1-L4 hold on every state and transition of the default bound."""
    _holds(default_bound, property_id)


def test_S6_holds_at_default_bound_on_whole_processes() -> None:
    """S6 on whole processes (product engine), two sessions, one agent, one turn each."""
    result = explore(
        Bounds(sessions=2, agents=1, max_generation=1), model.step, [BY_ID["S6"]], engine="product"
    )
    _holds(result, "S6")
    assert result.states > 1_000
