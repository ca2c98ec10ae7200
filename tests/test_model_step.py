"""Unit tests of the model's rules: every event in every abstract state, then each rule.

The table ``EXPECTED`` is the rule book in miniature: for one representative
session per abstract state, what each event returns. Each answer is also
checked against the result tables of ``specs/machine.py`` (the spec), and
the state it leaves against S7. Further tests pin the state each rule leaves
behind, property by property, and the drain's rules.
"""

# ruff: noqa: E501  (the EXPECTED table reads best one state per line)
from __future__ import annotations

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import InFlight, Outcome, Segment, Session
from memory_lifecycle.specs.machine import ResultTable
from memory_lifecycle.specs.properties import malformed_entry

A = "agent-a"
B = "agent-b"
SID = "s"
CALL = 7
"""The id of the call the in-flight representatives run."""
OTHER_CALL = 8
"""An id the session does not run."""
NEW_CALL = 9
"""The id a request offers."""

RUNNING_CALL = InFlight(call_id=CALL, agent=A, captured_generation=1, follow_up=False)
"""The call the in-flight representatives run: A's, capturing generation 1."""

STATES: dict[str, Session | None] = {
    "ABSENT": None,
    "CLEAN": Session(generation=1, committed=1, registered=A),
    "DIRTY": Session(generation=2, committed=1, registered=A, segments=(Segment(2, 2, A),)),
    "ORPHANED": Session(generation=1, committed=0, segments=(Segment(1, 1, None),)),
    "COMMITTING": Session(
        generation=1,
        committed=0,
        registered=A,
        segments=(Segment(1, 1, A),),
        in_flight=RUNNING_CALL,
    ),
    "COMMITTING_DIRTY": Session(
        generation=2,
        committed=0,
        registered=A,
        segments=(Segment(1, 2, A),),
        in_flight=RUNNING_CALL,
    ),
}

EVENTS: dict[str, model.Event] = {
    "register B": model.RegisterAgent(SID, B),
    "unregister": model.UnregisterAgent(SID),
    "turn": model.TurnCompleted(SID),
    "turn by B": model.TurnCompleted(SID, B),
    "ephemeral turn": model.TurnCompleted(SID, ephemeral=True),
    "commit": model.CommitRequested(SID, NEW_CALL),
    "commit with B": model.CommitRequested(SID, NEW_CALL, B),
    "commit with B, unable": model.CommitRequested(SID, NEW_CALL, B, agent_can_commit=False),
    "whole commit": model.CommitRequested(SID, NEW_CALL, whole=True),
    "wait, time left": model.CommitRequested(SID, NEW_CALL, wait=True, now=0.0, deadline=1.0),
    "wait, expired": model.CommitRequested(SID, NEW_CALL, wait=True, now=1.0, deadline=1.0),
    "wait, unbounded": model.CommitRequested(SID, NEW_CALL, wait=True),
    "wait, in a call": model.CommitRequested(SID, NEW_CALL, wait=True, in_call=True, deadline=1.0),
    "follow-up": model.CommitRequested(SID, NEW_CALL, follow_up=True),
    "provider returned": model.CommitSucceeded(SID, CALL),
    "provider raised": model.CommitFailed(SID, CALL),
    "BaseException": model.CommitFailed(SID, CALL, fatal=True),
    "stale end": model.CommitSucceeded(SID, OTHER_CALL),
    "discard": model.Discard(SID),
    "drain worker": model.DrainNext(SID, 0.0, NEW_CALL),
}

Out = Outcome
EXPECTED: dict[str, tuple[object, ...]] = {
    # register   unreg     turn turnB eph commit             commit B           B unable           whole              wait left          wait expired       wait unbounded     wait in call       follow-up          ok             raised      fatal       stale      discard              drain worker
    "ABSENT": (Out.DONE, Out.DONE, 1, 1, 0, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.STALE, Out.STALE, Out.STALE, Out.STALE, Out.ALREADY_ABSENT, Out.FINISHED),
    "CLEAN": (Out.DONE, Out.DONE, 2, 2, 1, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.STALE, Out.STALE, Out.STALE, Out.STALE, Out.DISCARDED, Out.FINISHED),
    "DIRTY": (Out.DONE, Out.DONE, 3, 3, 2, Out.STARTED, Out.STARTED, Out.STARTED, Out.STARTED, Out.STARTED, Out.STARTED, Out.STARTED, Out.STARTED, Out.NOTHING_TO_COMMIT, Out.STALE, Out.STALE, Out.STALE, Out.STALE, Out.KEPT_DIRTY, Out.FINISHED),
    "ORPHANED": (Out.DONE, Out.DONE, 2, 2, 1, Out.NO_AGENT, Out.STARTED, Out.NO_AGENT, Out.NO_AGENT, Out.NO_AGENT, Out.NO_AGENT, Out.NO_AGENT, Out.NO_AGENT, Out.NOTHING_TO_COMMIT, Out.STALE, Out.STALE, Out.STALE, Out.STALE, Out.KEPT_DIRTY, Out.FINISHED),
    "COMMITTING": (Out.DONE, Out.DONE, 2, 2, 1, Out.BUSY, Out.BUSY, Out.BUSY, Out.BUSY, Out.WAIT, Out.TIMED_OUT, Out.WAIT, Out.BUSY, Out.BUSY, Out.COMMITTED, Out.FAILED, Out.FAILED, Out.STALE, Out.KEPT_IN_FLIGHT, Out.FINISHED),
    "COMMITTING_DIRTY": (Out.DONE, Out.DONE, 3, 3, 2, Out.BUSY, Out.BUSY, Out.BUSY, Out.BUSY, Out.WAIT, Out.TIMED_OUT, Out.WAIT, Out.BUSY, Out.BUSY, Out.COMMITTED, Out.FAILED, Out.FAILED, Out.STALE, Out.KEPT_IN_FLIGHT, Out.FINISHED),
}  # fmt: skip

CASES = [
    pytest.param(
        state_name, event_name, EXPECTED[state_name][index], id=f"{state_name}-{event_name}"
    )
    for state_name in STATES
    for index, event_name in enumerate(EVENTS)
]

TABLE = ResultTable()


def _process(session: Session | None) -> model.Process:
    return model.Process(() if session is None else ((SID, session),))


@pytest.mark.parametrize(("state_name", "event_name", "expected"), CASES)
def test_every_event_in_every_abstract_state_S1_to_S10(
    state_name: str, event_name: str, expected: object
) -> None:
    """S1-S10: each event's result in each abstract state, allowed by the result tables,
    and S7 well-formedness after it."""
    before = STATES[state_name]
    event = EVENTS[event_name]
    moved = model.step(_process(before), event)
    after = moved.state.session(SID)
    assert moved.result == expected
    verdict = TABLE.judge(before, event, model.Shutdown(), moved.result, after)
    assert verdict is None, verdict
    if after is not None:
        assert malformed_entry(after) is None
    calls = [effect for effect in moved.effects if isinstance(effect, model.CallProvider)]
    assert len(calls) == (1 if moved.result is Outcome.STARTED else 0)
    if calls:
        assert after is not None and after.in_flight is not None
        assert calls[0].call_id == after.in_flight.call_id == NEW_CALL


def test_registered_only_session_is_never_committed_S1() -> None:
    """S1: a registered session with no completed turn has nothing to commit."""
    session = model.step_session(None, model.RegisterAgent(SID, A)).session
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL))
    assert moved.result is Outcome.NOTHING_TO_COMMIT and moved.effects == ()


def test_ephemeral_turn_completes_nothing_S1() -> None:
    """S1: an ephemeral turn adds no generation, creates no entry, registers no agent."""
    moved = model.step_session(None, model.TurnCompleted(SID, A, ephemeral=True))
    assert moved.session is None and moved.result == 0
    dirty = STATES["DIRTY"]
    moved = model.step_session(dirty, model.TurnCompleted(SID, B, ephemeral=True))
    assert moved.session is dirty and moved.result == 2


def test_success_advances_only_to_the_captured_end_S2() -> None:
    """S2: turns completed while the call ran stay dirty after it succeeds."""
    moved = model.step_session(STATES["COMMITTING_DIRTY"], model.CommitSucceeded(SID, CALL))
    assert moved.result is Outcome.COMMITTED
    assert moved.session == Session(
        generation=2, committed=1, registered=A, segments=(Segment(2, 2, A),)
    )
    assert model.WakeWaiters() in moved.effects


@pytest.mark.parametrize("fatal", [False, True], ids=["Exception", "BaseException"])
def test_failure_keeps_work_and_owner_and_clears_in_flight_S3(fatal: bool) -> None:
    """S3: any failure leaves generation, committed and owners unchanged, and not in flight."""
    before = STATES["COMMITTING_DIRTY"]
    assert before is not None
    moved = model.step_session(before, model.CommitFailed(SID, CALL, fatal))
    after = moved.session
    assert moved.result is Outcome.FAILED and after is not None
    assert after.in_flight is None
    assert (after.generation, after.committed, after.segments) == (
        before.generation,
        before.committed,
        before.segments,
    )
    assert model.WakeWaiters() in moved.effects


def test_replacement_agent_cannot_take_an_older_segment_S4() -> None:
    """S4: a newly registered or passed agent commits nothing owned by another."""
    session = model.step_session(STATES["DIRTY"], model.RegisterAgent(SID, B)).session
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL, B))
    assert moved.result is Outcome.STARTED
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, A, 2),)


def test_ownerless_segment_is_adopted_and_keeps_its_adopter_S4() -> None:
    """S4: the first agent that tries adopts an ownerless segment, through failure too."""
    moved = model.step_session(STATES["ORPHANED"], model.CommitRequested(SID, NEW_CALL, B))
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, B, 1),)
    session = model.step_session(moved.session, model.CommitFailed(SID, NEW_CALL)).session
    assert session is not None and session.segments == (Segment(1, 1, B),)
    session = model.step_session(session, model.RegisterAgent(SID, A)).session
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL + 1, A))
    assert moved.effects == (model.CallProvider(SID, NEW_CALL + 1, B, 1),)


def test_agent_that_cannot_commit_adopts_nothing_S4() -> None:
    """S4: an agent without a commit method adopts no ownerless segment, even with a
    registered agent (NO_AGENT), and never changes who owns owned work."""
    ownerless_registered = Session(
        generation=1, committed=0, registered=A, segments=(Segment(1, 1, None),)
    )
    unable = model.CommitRequested(SID, NEW_CALL, B, agent_can_commit=False)
    moved = model.step_session(ownerless_registered, unable)
    assert moved.result is Outcome.NO_AGENT and moved.session is ownerless_registered
    moved = model.step_session(STATES["DIRTY"], unable)
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, A, 2),)


def test_turn_naming_an_agent_registers_it_S4() -> None:
    """S4: a turn completed under an explicit agent is owned by it, and later turns too."""
    session = model.step_session(None, model.TurnCompleted(SID, B)).session
    session = model.step_session(session, model.TurnCompleted(SID)).session
    assert session is not None and session.registered == B
    assert session.segments == (Segment(1, 2, B),)


def test_unregister_keeps_dirty_owners_S4() -> None:
    """S4: unregistering clears the future owner only."""
    session = model.step_session(STATES["DIRTY"], model.UnregisterAgent(SID)).session
    assert session is not None and session.registered is None
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL))
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, A, 2),)


def test_second_commit_while_in_flight_starts_nothing_S5() -> None:
    """S5: no second provider call starts while one is in flight, and the running call
    keeps its id."""
    for name in ("COMMITTING", "COMMITTING_DIRTY"):
        before = STATES[name]
        assert before is not None
        for event in (
            model.CommitRequested(SID, NEW_CALL),
            model.CommitRequested(SID, NEW_CALL, B, wait=True, in_call=True),
            model.CommitRequested(SID, NEW_CALL, whole=True),
        ):
            moved = model.step_session(before, event)
            assert moved.result is Outcome.BUSY and moved.effects == ()
            assert moved.session is not None and moved.session.in_flight == before.in_flight


def test_end_of_a_call_the_session_does_not_run_is_stale_S5() -> None:
    """S5: a call end with a foreign id, or after a reset, changes nothing."""
    for name, session in STATES.items():
        for event in (
            model.CommitSucceeded(SID, OTHER_CALL),
            model.CommitFailed(SID, OTHER_CALL, True),
        ):
            moved = model.step_session(session, event)
            assert moved.result is Outcome.STALE, name
            assert moved.session is session and moved.effects == ()
    running = model.step(_process(STATES["COMMITTING"]), model.Reset()).state
    running = model.step(running, model.TurnCompleted(SID, B)).state
    moved = model.step(running, model.CommitSucceeded(SID, CALL))
    assert moved.result is Outcome.STALE and moved.state == running


def test_event_for_one_session_leaves_the_others_alone_S6() -> None:
    """S6: a step on session "s" returns every other session unchanged."""
    other = Session(generation=3, committed=1, registered=B, segments=(Segment(2, 3, B),))
    state = model.Process(
        (
            (SID, Session(generation=1, registered=A, segments=(Segment(1, 1, A),))),
            ("t", other),
        )
    )
    events: tuple[model.Event, ...] = (
        model.TurnCompleted(SID),
        model.CommitRequested(SID, NEW_CALL),
        model.Discard(SID),
        model.RegisterAgent(SID, B),
    )
    for event in events:
        assert model.step(state, event).state.session("t") is other
    draining = model.step(state, model.DrainStarted(0.0, 1.0, 2)).state
    taken = model.step(draining, model.DrainNext(SID, 0.0, NEW_CALL)).state
    assert taken.session("t") is other


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("committed_generation", 3),
        ("committed_generation", 0),
        ("generation", 0),
        ("segments", (Segment(1, 1, A),)),
        ("no_such_field", 1),
        ("in_flight", "yes"),
        ("entry", "not a session"),
    ],
)
def test_test_hook_refuses_malformed_edits_and_changes_nothing_S7(
    field: str, value: object
) -> None:
    """S7: the drop-in's test hook raises on an edit that would leave the entry
    malformed (or is no edit at all); the pure step has no state to change."""
    dirty = STATES["DIRTY"]
    with pytest.raises((ValueError, TypeError)):
        model.step_session(dirty, model.EntryEdited(SID, field, value))


def test_test_hook_writes_well_formed_entries_S7() -> None:
    """S7: accepted edits leave a well-formed entry; marking it in flight holds no agent."""
    dirty = STATES["DIRTY"]
    for field, value in (
        ("generation", 4),
        ("committed_generation", 2),
        ("agent", B),
        ("in_flight", True),
        ("entry", None),
    ):
        moved = model.step_session(dirty, model.EntryEdited(SID, field, value))
        assert moved.result is Outcome.DONE
        if moved.session is not None:
            assert malformed_entry(moved.session) is None
    marked = model.step_session(dirty, model.EntryEdited(SID, "in_flight", True)).session
    assert marked is not None and marked.in_flight is not None
    assert marked.in_flight.agent is None


def test_discard_removes_only_clean_idle_entries_S8() -> None:
    """S8: dirty or in-flight entries stay; clean idle ones go."""
    for name, session in STATES.items():
        moved = model.step_session(session, model.Discard(SID))
        if name in ("CLEAN", "ABSENT"):
            assert moved.session is None
        else:
            assert moved.session is session
            assert moved.result in (Outcome.KEPT_DIRTY, Outcome.KEPT_IN_FLIGHT)


def test_commit_with_nothing_new_calls_no_provider_S9() -> None:
    """S9: a clean session's commit has no CallProvider effect."""
    moved = model.step_session(STATES["CLEAN"], model.CommitRequested(SID, NEW_CALL, A))
    assert moved.result is Outcome.NOTHING_TO_COMMIT and moved.effects == ()


def test_turns_completed_in_flight_coalesce_into_one_segment_S10() -> None:
    """S10: consecutive turns of one owner, even during a call, form one later call."""
    session = STATES["COMMITTING"]
    for _ in range(3):
        session = model.step_session(session, model.TurnCompleted(SID)).session
    assert session is not None and session.segments == (Segment(1, 4, A),)
    session = model.step_session(session, model.CommitSucceeded(SID, CALL)).session
    assert session is not None and session.segments == (Segment(2, 4, A),)
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL))
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, A, 4),)


def test_owner_change_starts_a_new_segment_S10() -> None:
    """S10: a turn of another owner does not join the previous owner's segment."""
    session = model.step_session(STATES["DIRTY"], model.TurnCompleted(SID, B)).session
    assert session is not None
    assert session.segments == (Segment(2, 2, A), Segment(3, 3, B))
    assert session.registered == B


def test_adopter_takes_its_own_following_turns_in_the_same_call_S10() -> None:
    """S10: adopting an ownerless run merges it with the adopter's next segment."""
    session = model.step_session(None, model.TurnCompleted(SID)).session
    session = model.step_session(session, model.TurnCompleted(SID, A)).session
    session = model.step_session(session, model.TurnCompleted(SID, B)).session
    assert session is not None
    assert session.segments == (Segment(1, 1, None), Segment(2, 2, A), Segment(3, 3, B))
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL, A))
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, A, 2),)
    assert moved.session is not None
    assert moved.session.segments == (Segment(1, 2, A), Segment(3, 3, B))


def test_adopter_does_not_take_another_owners_following_turns_S4() -> None:
    """S4: adoption never reaches past the ownerless run into another owner's turns."""
    session = model.step_session(None, model.TurnCompleted(SID)).session
    session = model.step_session(session, model.TurnCompleted(SID, A)).session
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL, B))
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, B, 1),)
    assert moved.session is not None
    assert moved.session.segments == (Segment(1, 1, B), Segment(2, 2, A))


def test_busy_commit_leaves_a_follow_up_that_starts_when_the_call_ends_L1() -> None:
    """L1: work requested while busy is committed by a follow-up, with no new boundary."""
    moved = model.step_session(STATES["COMMITTING_DIRTY"], model.CommitRequested(SID, NEW_CALL))
    assert moved.result is Outcome.BUSY
    session = moved.session
    assert session is not None and session.follow_up_through == 2
    moved = model.step_session(session, model.CommitSucceeded(SID, CALL))
    assert model.StartFollowUp(SID) in moved.effects
    moved = model.step_session(moved.session, model.CommitRequested(SID, NEW_CALL, follow_up=True))
    assert moved.result is Outcome.STARTED
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, A, 2),)
    moved = model.step_session(moved.session, model.CommitSucceeded(SID, NEW_CALL))
    assert moved.session == Session(generation=2, committed=2, registered=A)
    assert not any(isinstance(effect, model.StartFollowUp) for effect in moved.effects)


def test_waiting_commit_waits_only_while_its_call_runs_and_time_remains_L3() -> None:
    """L3: WAIT while the call runs and the deadline has not passed (or there is none);
    no debt is left while waiting; once the deadline passes, TIMED_OUT."""
    running = STATES["COMMITTING_DIRTY"]
    for deadline, now in ((1.0, 0.0), (None, 5.0)):
        request = model.CommitRequested(SID, NEW_CALL, wait=True, now=now, deadline=deadline)
        moved = model.step_session(running, request)
        assert moved.result is Outcome.WAIT and moved.session is running
    for now in (1.0, 2.0):
        expired = model.CommitRequested(SID, NEW_CALL, wait=True, now=now, deadline=1.0)
        assert model.step_session(running, expired).result is Outcome.TIMED_OUT
    idle = model.step_session(
        STATES["DIRTY"], model.CommitRequested(SID, NEW_CALL, wait=True, deadline=1.0)
    )
    assert idle.result is Outcome.STARTED


def test_expired_wait_leaves_a_follow_up_L1() -> None:
    """L1: a wait that expires leaves the work it asked for to a follow-up."""
    expired = model.CommitRequested(SID, NEW_CALL, wait=True, now=1.0, deadline=1.0)
    moved = model.step_session(STATES["COMMITTING_DIRTY"], expired)
    assert moved.result is Outcome.TIMED_OUT
    assert moved.session is not None and moved.session.follow_up_through == 2
    ended = model.step_session(moved.session, model.CommitSucceeded(SID, CALL))
    assert model.StartFollowUp(SID) in ended.effects


def test_commit_from_inside_a_call_never_waits_L3() -> None:
    """L3: a caller inside a provider call gets BUSY, never WAIT, and leaves a follow-up."""
    moved = model.step_session(
        STATES["COMMITTING_DIRTY"],
        model.CommitRequested(SID, NEW_CALL, wait=True, in_call=True, now=0.0, deadline=None),
    )
    assert moved.result is Outcome.BUSY
    assert moved.session is not None and moved.session.follow_up_through == 2


def test_every_end_of_a_call_wakes_the_waiters_L3() -> None:
    """L3: success, failure and a BaseException all wake threads waiting for the call."""
    for event in (
        model.CommitSucceeded(SID, CALL),
        model.CommitFailed(SID, CALL),
        model.CommitFailed(SID, CALL, fatal=True),
    ):
        assert model.WakeWaiters() in model.step_session(STATES["COMMITTING"], event).effects


def test_whole_commit_owes_a_follow_up_for_every_later_segment_L1() -> None:
    """L1: a whole commit (commit_in_background) takes one segment per call and follows
    up the rest while the calls succeed."""
    session = Session(
        generation=2,
        registered=B,
        segments=(Segment(1, 1, A), Segment(2, 2, B)),
    )
    moved = model.step_session(session, model.CommitRequested(SID, NEW_CALL, whole=True))
    assert moved.effects == (model.CallProvider(SID, NEW_CALL, A, 1),)
    assert moved.session is not None and moved.session.follow_up_through == 2
    moved = model.step_session(moved.session, model.CommitSucceeded(SID, NEW_CALL))
    assert model.StartFollowUp(SID) in moved.effects
    moved = model.step_session(
        moved.session, model.CommitRequested(SID, NEW_CALL + 1, follow_up=True)
    )
    assert moved.effects == (model.CallProvider(SID, NEW_CALL + 1, B, 2),)


def test_follow_up_gives_up_after_its_own_failure_and_on_fatal_errors_L1() -> None:
    """L1 terminates: a failed follow-up or a BaseException drops the debt; work stays dirty."""
    owed = Session(
        generation=2,
        registered=A,
        segments=(Segment(1, 2, A),),
        in_flight=InFlight(CALL, A, 2, True),
        follow_up_through=2,
    )
    moved = model.step_session(owed, model.CommitFailed(SID, CALL))
    assert moved.session == owed._replace(in_flight=None, follow_up_through=0)
    assert moved.effects == (model.WakeWaiters(),)
    plain = owed._replace(in_flight=InFlight(CALL, A, 2, False))
    moved = model.step_session(plain, model.CommitFailed(SID, CALL, fatal=True))
    assert moved.session is not None
    assert moved.session.follow_up_through == 0 and moved.session.dirty
    assert (
        model.StartFollowUp(SID) in model.step_session(plain, model.CommitFailed(SID, CALL)).effects
    )


def test_follow_up_whose_debt_was_paid_commits_nothing_newer_L1_S1() -> None:
    """L1, S1: a follow-up arriving after another commit paid its debt starts no call."""
    paid = Session(generation=3, committed=2, registered=A, segments=(Segment(3, 3, A),))
    moved = model.step_session(paid, model.CommitRequested(SID, NEW_CALL, follow_up=True))
    assert moved.result is Outcome.NOTHING_TO_COMMIT and moved.effects == ()
    assert moved.session is paid


def test_no_follow_up_is_started_while_draining_L1() -> None:
    """L1: during the drain a call that ends with work owed starts no follow-up; the
    session is queued for the drain instead."""
    owed = Session(
        generation=2,
        registered=A,
        segments=(Segment(1, 2, A),),
        in_flight=InFlight(CALL, A, 1, False),
        follow_up_through=2,
    )
    draining = model.step(_process(owed), model.DrainStarted(0.0, 1.0, 2)).state
    moved = model.step(draining, model.CommitSucceeded(SID, CALL))
    assert not any(isinstance(effect, model.StartFollowUp) for effect in moved.effects)
    assert model.QueueForDrain(SID) in moved.effects
    assert moved.state.shutdown.queued == 1 and moved.state.shutdown.calls == 0


def test_drain_queues_every_wanted_session_and_starts_workers_L2() -> None:
    """L2: the drain's queue holds exactly the idle, dirty sessions an agent can commit;
    each gets a worker up to the limit; calls in flight are counted."""
    state = model.Process(
        (
            ("a", STATES["DIRTY"]),  # type: ignore[arg-type]
            ("b", STATES["ORPHANED"]),  # type: ignore[arg-type]
            ("c", STATES["COMMITTING"]),  # type: ignore[arg-type]
            ("d", STATES["CLEAN"]),  # type: ignore[arg-type]
            ("e", STATES["DIRTY"]),  # type: ignore[arg-type]
        )
    )
    moved = model.step(state, model.DrainStarted(0.0, 5.0, workers=8))
    assert moved.result is Outcome.STARTED
    assert moved.effects == (
        model.QueueForDrain("a"),
        model.QueueForDrain("e"),
        model.StartDrainWorkers(2),
    )
    shutdown = moved.state.shutdown
    assert (shutdown.phase, shutdown.deadline, shutdown.queued, shutdown.calls) == (
        model.DRAINING,
        5.0,
        2,
        1,
    )
    assert model.step(state, model.DrainStarted(0.0, 5.0, workers=1)).effects[
        -1
    ] == model.StartDrainWorkers(1)
    assert model.step(model.EMPTY_PROCESS, model.DrainStarted(0.0, 5.0, 4)).effects == (
        model.StartDrainWorkers(1),
    )


def test_drain_worker_takes_a_session_while_time_remains_L2() -> None:
    """L2: a worker starts a queued session's call before the deadline, skips a session
    with nothing to commit, stops at the deadline, and after the drain."""
    draining = model.step(_process(STATES["DIRTY"]), model.DrainStarted(0.0, 1.0, 2)).state
    moved = model.step(draining, model.DrainNext(SID, 0.5, NEW_CALL))
    assert moved.result is Outcome.STARTED
    assert moved.effects[0] == model.CallProvider(SID, NEW_CALL, A, 2)
    assert moved.state.shutdown.queued == 0 and moved.state.shutdown.calls == 1
    assert (
        model.step(moved.state, model.DrainNext(SID, 0.5, NEW_CALL + 1)).result is Outcome.SKIPPED
    )
    late = model.step(draining, model.DrainNext(SID, 1.0, NEW_CALL))
    assert late.result is Outcome.TIMED_OUT and late.effects == () and late.state == draining
    after = model.step(
        model.step(draining, model.DrainFinished()).state, model.DrainNext(SID, 0.5, NEW_CALL)
    )
    assert after.result is Outcome.FINISHED


def test_drain_returns_by_its_deadline_and_earlier_only_when_nothing_is_left_L2() -> None:
    """L2: WAIT while work is queued or a call runs; FINISHED once nothing is left;
    TIMED_OUT at the deadline whatever remains."""
    draining = model.step(_process(STATES["DIRTY"]), model.DrainStarted(0.0, 1.0, 2)).state
    assert model.step(draining, model.DrainPoll(0.5)).result is Outcome.WAIT
    assert model.step(draining, model.DrainPoll(1.0)).result is Outcome.TIMED_OUT
    running = model.step(draining, model.DrainNext(SID, 0.5, NEW_CALL)).state
    assert model.step(running, model.DrainPoll(0.5)).result is Outcome.WAIT
    done = model.step(running, model.CommitSucceeded(SID, NEW_CALL)).state
    assert model.step(done, model.DrainPoll(0.5)).result is Outcome.FINISHED
    assert model.step(model.EMPTY_PROCESS, model.DrainPoll(0.5)).result is Outcome.FINISHED


def test_drain_started_inside_a_call_waits_for_no_call_L2() -> None:
    """L2: a drain run from inside a provider call does not wait for calls in flight
    (its own could never end), only for queued work."""
    draining = model.step(
        _process(STATES["COMMITTING"]), model.DrainStarted(0.0, 1.0, 2, in_call=True)
    ).state
    assert not draining.shutdown.waits_for_calls
    assert model.step(draining, model.DrainPoll(0.5)).result is Outcome.FINISHED


def test_failed_session_is_retried_up_to_the_attempt_limit_L2() -> None:
    """L2: each failed call during the drain counts one attempt and queues the session
    again, until DRAIN_ATTEMPTS failures."""
    state = model.step(_process(STATES["DIRTY"]), model.DrainStarted(0.0, 1.0, 2)).state
    for attempt in range(1, model.DRAIN_ATTEMPTS + 1):
        state = model.step(state, model.DrainNext(SID, 0.0, NEW_CALL + attempt)).state
        moved = model.step(state, model.CommitFailed(SID, NEW_CALL + attempt))
        state = moved.state
        session = state.session(SID)
        assert session is not None and session.drain_failures == attempt
        queued = model.QueueForDrain(SID) in moved.effects
        assert queued == (attempt < model.DRAIN_ATTEMPTS)
    assert model.step(state, model.DrainNext(SID, 0.0, 99)).result is Outcome.SKIPPED
    assert model.step(state, model.DrainPoll(0.0)).result is Outcome.FINISHED


def test_turn_completed_during_the_drain_is_queued_L2() -> None:
    """L2: a turn that makes a clean session dirty during the drain queues it."""
    draining = model.step(_process(STATES["CLEAN"]), model.DrainStarted(0.0, 1.0, 2)).state
    assert draining.shutdown.queued == 0
    moved = model.step(draining, model.TurnCompleted(SID))
    assert model.QueueForDrain(SID) in moved.effects and model.WakeWaiters() in moved.effects
    assert moved.state.shutdown.queued == 1


def test_second_drain_joins_the_first_with_the_sooner_deadline_L2() -> None:
    """L2: a drain started while one runs is BUSY and can only bring the deadline forward."""
    draining = model.step(model.EMPTY_PROCESS, model.DrainStarted(0.0, 5.0, 2)).state
    joined = model.step(draining, model.DrainStarted(1.0, 3.0, 2))
    assert joined.result is Outcome.BUSY and joined.effects == ()
    assert joined.state.shutdown.deadline == 3.0
    assert model.step(joined.state, model.DrainStarted(1.0, 9.0, 2)).state.shutdown.deadline == 3.0


def test_background_commits_are_refused_only_while_draining_L2() -> None:
    """L2: background commits are admitted and counted before and after the drain,
    refused while it runs; an ended one is uncounted."""
    admitted = model.step(model.EMPTY_PROCESS, model.BackgroundCommitRequested())
    assert admitted.result is Outcome.ADMITTED
    assert admitted.state.shutdown.background_commits == 1
    draining = model.step(admitted.state, model.DrainStarted(0.0, 1.0, 2)).state
    refused = model.step(draining, model.BackgroundCommitRequested())
    assert refused.result is Outcome.REFUSED_DRAINING and refused.state == draining
    ended = model.step(draining, model.BackgroundCommitEnded()).state
    assert ended.shutdown.background_commits == 0
    drained = model.step(ended, model.DrainFinished()).state
    assert model.step(drained, model.BackgroundCommitRequested()).result is Outcome.ADMITTED


def test_after_the_drain_the_lifecycle_serves_as_before_L1_L2() -> None:
    """L1, L2: DrainFinished gives DRAINED, forgets attempt counts, wakes the workers, and
    follow-ups start again."""
    failed = model.step(_process(STATES["DIRTY"]), model.DrainStarted(0.0, 1.0, 2)).state
    failed = model.step(failed, model.DrainNext(SID, 0.0, NEW_CALL)).state
    failed = model.step(failed, model.CommitFailed(SID, NEW_CALL)).state
    moved = model.step(failed, model.DrainFinished())
    assert moved.result is Outcome.DONE and model.WakeWaiters() in moved.effects
    shutdown = moved.state.shutdown
    assert (shutdown.phase, shutdown.queued, shutdown.calls) == (model.DRAINED, 0, 0)
    session = moved.state.session(SID)
    assert session is not None and session.drain_failures == 0
    running = model.step(moved.state, model.CommitRequested(SID, 1)).state
    running = model.step(running, model.TurnCompleted(SID)).state
    busy = model.step(running, model.CommitRequested(SID, 2)).state
    assert model.StartFollowUp(SID) in model.step(busy, model.CommitSucceeded(SID, 1)).effects
    assert model.step(model.EMPTY_PROCESS, model.DrainFinished()).state == model.EMPTY_PROCESS


def test_reset_forgets_every_session_and_the_drain_S8() -> None:
    """S8: only Reset (besides discard) removes entries; it also ends the drain."""
    state = model.step(_process(STATES["COMMITTING"]), model.DrainStarted(0.0, 1.0, 2)).state
    state = model.step(state, model.BackgroundCommitRequested()).state
    moved = model.step(state, model.Reset())
    assert moved.result is Outcome.DONE and moved.state == model.EMPTY_PROCESS
    assert moved.state.shutdown.phase == model.RUNNING


def test_retired_session_leaves_no_entry_L4() -> None:
    """L4: committed, unregistered, discarded: no pair left, no agent referenced."""
    state = model.EMPTY_PROCESS
    for event in (
        model.RegisterAgent(SID, A),
        model.TurnCompleted(SID),
        model.CommitRequested(SID, 1),
        model.CommitSucceeded(SID, 1),
        model.UnregisterAgent(SID),
        model.Discard(SID),
    ):
        state = model.step(state, event).state
    assert state == model.EMPTY_PROCESS


def test_step_functions_reject_events_of_the_other_kind_with_a_clear_message() -> None:
    """A process event passed to step_session, or a session event to step_process,
    names the right function."""
    with pytest.raises(TypeError, match="process events go to step_process"):
        model.step_session(None, model.DrainStarted(0.0, 1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="session events go to step_session"):
        model.step_process(model.Shutdown(), {}, model.TurnCompleted(SID))
