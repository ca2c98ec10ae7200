"""Unit tests of ``model.step``: every session event in every abstract state.

The table ``EXPECTED`` is the rule book in miniature: for one representative
session per abstract state, what each event returns. Further tests pin the
state each rule leaves behind, property by property.
"""

# ruff: noqa: E501  (the EXPECTED table reads best one state per line)
from __future__ import annotations

import pytest
from memory_lifecycle.model import (
    EMPTY_PROCESS,
    BackgroundCommitRequested,
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    DrainFinished,
    DrainStarted,
    InFlight,
    Outcome,
    Process,
    RegisterAgent,
    Reset,
    Segment,
    Session,
    SessionEvent,
    StartFollowUp,
    TurnCompleted,
    UnregisterAgent,
    WaitExpired,
    WakeWaiters,
    step,
    step_session,
)

A = "agent-a"
B = "agent-b"
SID = "s"

STATES: dict[str, Session | None] = {
    "ABSENT": None,
    "CLEAN": Session(1, 1, A),
    "DIRTY": Session(2, 1, A, (Segment(2, 2, A),)),
    "ORPHANED": Session(1, 0, None, (Segment(1, 1, None),)),
    "COMMITTING": Session(1, 0, A, (Segment(1, 1, A),), InFlight(A, 1, False)),
    "COMMITTING_DIRTY": Session(2, 0, A, (Segment(1, 2, A),), InFlight(A, 1, False)),
}

EVENTS: dict[str, SessionEvent] = {
    "register B": RegisterAgent(SID, B),
    "unregister": UnregisterAgent(SID),
    "turn": TurnCompleted(SID),
    "turn by B": TurnCompleted(SID, B),
    "ephemeral turn": TurnCompleted(SID, ephemeral=True),
    "commit": CommitRequested(SID),
    "commit with B": CommitRequested(SID, B),
    "commit, waiting": CommitRequested(SID, wait=True),
    "wait expired": WaitExpired(SID),
    "provider returned": CommitSucceeded(SID, A, 1),
    "provider raised": CommitFailed(SID, A, 1),
    "provider raised BaseException": CommitFailed(SID, A, 1, fatal=True),
    "discard": Discard(SID),
}

Out = Outcome
EXPECTED: dict[str, tuple[object, ...]] = {
    # register  unreg   turn turnB eph commit            commit B          waiting           expired      ok           raised       fatal        discard
    "ABSENT": (Out.DONE, Out.DONE, 1, 1, 0, Out.NOT_FOUND, Out.NOT_FOUND, Out.NOT_FOUND, Out.TIMED_OUT, Out.STALE, Out.STALE, Out.STALE, Out.ALREADY_ABSENT),
    "CLEAN": (Out.DONE, Out.DONE, 2, 2, 1, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.NOTHING_TO_COMMIT, Out.TIMED_OUT, Out.STALE, Out.STALE, Out.STALE, Out.DISCARDED),
    "DIRTY": (Out.DONE, Out.DONE, 3, 3, 2, Out.STARTED, Out.STARTED, Out.STARTED, Out.TIMED_OUT, Out.STALE, Out.STALE, Out.STALE, Out.KEPT_DIRTY),
    "ORPHANED": (Out.DONE, Out.DONE, 2, 2, 1, Out.NO_AGENT, Out.STARTED, Out.NO_AGENT, Out.TIMED_OUT, Out.STALE, Out.STALE, Out.STALE, Out.KEPT_DIRTY),
    "COMMITTING": (Out.DONE, Out.DONE, 2, 2, 1, Out.BUSY, Out.BUSY, Out.BUSY, Out.TIMED_OUT, Out.COMMITTED, Out.FAILED, Out.FAILED, Out.KEPT_IN_FLIGHT),
    "COMMITTING_DIRTY": (Out.DONE, Out.DONE, 3, 3, 2, Out.BUSY, Out.BUSY, Out.BUSY, Out.TIMED_OUT, Out.COMMITTED, Out.FAILED, Out.FAILED, Out.KEPT_IN_FLIGHT),
}  # fmt: skip

CASES = [
    pytest.param(
        state_name, event_name, EXPECTED[state_name][index], id=f"{state_name}-{event_name}"
    )
    for state_name in STATES
    for index, event_name in enumerate(EVENTS)
]


@pytest.mark.parametrize(("state_name", "event_name", "expected"), CASES)
def test_every_event_in_every_abstract_state_S1_to_S10(
    state_name: str, event_name: str, expected: object
) -> None:
    """S1-S10: each event's result in each abstract state, and S7 well-formedness after it."""
    before = STATES[state_name]
    after, effects, result = step_session(before, EVENTS[event_name])
    assert result == expected
    if after is not None:
        assert_well_formed_S7(after)
    calls = [effect for effect in effects if isinstance(effect, CallProvider)]
    assert len(calls) == (1 if result is Outcome.STARTED else 0)


def assert_well_formed_S7(session: Session) -> None:
    """S7: 0 <= committed <= generation; segments ordered, contiguous, covering the dirty range."""
    assert 0 <= session.committed <= session.generation
    expected_start = session.committed + 1
    for segment in session.segments:
        assert segment.start == expected_start <= segment.end
        expected_start = segment.end + 1
    assert expected_start == session.generation + 1
    assert session.follow_up_through == 0 or (
        session.committed < session.follow_up_through <= session.generation
    )


def test_registered_only_session_is_never_committed_S1() -> None:
    """S1: a registered session with no completed turn has nothing to commit."""
    session, _, _ = step_session(None, RegisterAgent(SID, A))
    _, effects, result = step_session(session, CommitRequested(SID))
    assert result is Outcome.NOTHING_TO_COMMIT and effects == ()


def test_ephemeral_turn_completes_nothing_S1() -> None:
    """S1: an ephemeral turn adds no generation and creates no entry."""
    after, _, result = step_session(None, TurnCompleted(SID, A, ephemeral=True))
    assert after is None and result == 0
    dirty = STATES["DIRTY"]
    after, _, result = step_session(dirty, TurnCompleted(SID, B, ephemeral=True))
    assert after is dirty and result == 2


def test_success_advances_only_to_the_captured_end_S2() -> None:
    """S2: turns completed while the call ran stay dirty after it succeeds."""
    after, effects, result = step_session(STATES["COMMITTING_DIRTY"], CommitSucceeded(SID, A, 1))
    assert result is Outcome.COMMITTED
    assert after == Session(2, 1, A, (Segment(2, 2, A),), None, 0)
    assert WakeWaiters() in effects


@pytest.mark.parametrize("fatal", [False, True], ids=["Exception", "BaseException"])
def test_failure_keeps_work_and_owner_and_clears_in_flight_S3(fatal: bool) -> None:
    """S3: any failure leaves generation, committed and owners unchanged, and not in flight."""
    before = STATES["COMMITTING_DIRTY"]
    assert before is not None
    after, effects, result = step_session(before, CommitFailed(SID, A, 1, fatal))
    assert result is Outcome.FAILED and after is not None
    assert after.in_flight is None
    assert (after.generation, after.committed, after.segments) == (
        before.generation,
        before.committed,
        before.segments,
    )
    assert WakeWaiters() in effects


def test_replacement_agent_cannot_take_an_older_segment_S4() -> None:
    """S4: a newly registered or passed agent commits nothing owned by another."""
    session, _, _ = step_session(STATES["DIRTY"], RegisterAgent(SID, B))
    _, effects, result = step_session(session, CommitRequested(SID, B))
    assert result is Outcome.STARTED
    assert effects == (CallProvider(SID, A, 2),)


def test_ownerless_segment_is_adopted_and_keeps_its_adopter_S4() -> None:
    """S4: the first agent that tries adopts an ownerless segment, through failure too."""
    session, effects, _ = step_session(STATES["ORPHANED"], CommitRequested(SID, B))
    assert effects == (CallProvider(SID, B, 1),)
    session, _, _ = step_session(session, CommitFailed(SID, B, 1))
    assert session is not None and session.segments == (Segment(1, 1, B),)
    session, _, _ = step_session(session, RegisterAgent(SID, A))
    _, effects, _ = step_session(session, CommitRequested(SID, A))
    assert effects == (CallProvider(SID, B, 1),)


def test_unregister_keeps_dirty_owners_S4() -> None:
    """S4: unregistering clears the future owner only."""
    session, _, _ = step_session(STATES["DIRTY"], UnregisterAgent(SID))
    assert session is not None and session.registered is None
    _, effects, _ = step_session(session, CommitRequested(SID))
    assert effects == (CallProvider(SID, A, 2),)


def test_second_commit_while_in_flight_starts_nothing_S5() -> None:
    """S5: no second provider call starts while one is in flight."""
    for name in ("COMMITTING", "COMMITTING_DIRTY"):
        for event in (CommitRequested(SID), CommitRequested(SID, B, wait=True)):
            _, effects, result = step_session(STATES[name], event)
            assert result is Outcome.BUSY and effects == ()


def test_event_for_one_session_leaves_the_others_alone_S6() -> None:
    """S6: a step on session "s" returns every other session unchanged."""
    other = Session(3, 1, B, (Segment(2, 3, B),))
    state = Process(((SID, Session(1, 0, A, (Segment(1, 1, A),))), ("t", other)))
    for event in (TurnCompleted(SID), CommitRequested(SID), Discard(SID), RegisterAgent(SID, B)):
        assert step(state, event).state.session("t") is other


def test_discard_removes_only_clean_idle_entries_S8() -> None:
    """S8: dirty or in-flight entries stay; clean idle ones go."""
    for name, session in STATES.items():
        after, _, result = step_session(session, Discard(SID))
        if name in ("CLEAN", "ABSENT"):
            assert after is None
        else:
            assert after is session and result in (Outcome.KEPT_DIRTY, Outcome.KEPT_IN_FLIGHT)


def test_commit_with_nothing_new_calls_no_provider_S9() -> None:
    """S9: a clean session's commit has no CallProvider effect."""
    _, effects, result = step_session(STATES["CLEAN"], CommitRequested(SID, A))
    assert result is Outcome.NOTHING_TO_COMMIT and effects == ()


def test_turns_completed_in_flight_coalesce_into_one_segment_S10() -> None:
    """S10: consecutive turns of one owner, even during a call, form one later call."""
    session = STATES["COMMITTING"]
    for _ in range(3):
        session, _, _ = step_session(session, TurnCompleted(SID))
    assert session is not None and session.segments == (Segment(1, 4, A),)
    session, _, _ = step_session(session, CommitSucceeded(SID, A, 1))
    assert session is not None and session.segments == (Segment(2, 4, A),)
    _, effects, _ = step_session(session, CommitRequested(SID))
    assert effects == (CallProvider(SID, A, 4),)


def test_owner_change_starts_a_new_segment_S10() -> None:
    """S10: a turn of another owner does not join the previous owner's segment."""
    session, _, _ = step_session(STATES["DIRTY"], TurnCompleted(SID, B))
    assert session is not None
    assert session.segments == (Segment(2, 2, A), Segment(3, 3, B))
    assert session.registered == B


def test_busy_commit_leaves_a_follow_up_that_starts_when_the_call_ends_L1() -> None:
    """L1: work requested while busy is committed by a follow-up, with no new boundary."""
    session, _, result = step_session(STATES["COMMITTING_DIRTY"], CommitRequested(SID))
    assert result is Outcome.BUSY and session is not None
    assert session.follow_up_through == 2
    session, effects, _ = step_session(session, CommitSucceeded(SID, A, 1))
    assert StartFollowUp(SID) in effects
    session, effects, result = step_session(session, CommitRequested(SID, follow_up=True))
    assert result is Outcome.STARTED and effects == (CallProvider(SID, A, 2),)
    session, effects, _ = step_session(session, CommitSucceeded(SID, A, 2))
    assert session == Session(2, 2, A)
    assert not any(isinstance(effect, StartFollowUp) for effect in effects)


def test_waiting_commit_leaves_no_follow_up_until_its_wait_expires_L1() -> None:
    """L1: a waiting caller retries itself; only an expired wait leaves a follow-up."""
    session, _, _ = step_session(STATES["COMMITTING_DIRTY"], CommitRequested(SID, wait=True))
    assert session is STATES["COMMITTING_DIRTY"]
    session, _, result = step_session(session, WaitExpired(SID))
    assert result is Outcome.TIMED_OUT and session is not None and session.follow_up_through == 2


def test_follow_up_gives_up_after_its_own_failure_and_on_fatal_errors_L1() -> None:
    """L1 terminates: a failed follow-up or a BaseException drops the debt; work stays dirty."""
    owed = Session(2, 0, A, (Segment(1, 2, A),), InFlight(A, 2, True), 2)
    after, effects, _ = step_session(owed, CommitFailed(SID, A, 2))
    assert after == Session(2, 0, A, (Segment(1, 2, A),), None, 0)
    assert effects == (WakeWaiters(),)
    plain = owed._replace(in_flight=InFlight(A, 2, False))
    after, effects, _ = step_session(plain, CommitFailed(SID, A, 2, fatal=True))
    assert after is not None and after.follow_up_through == 0 and after.dirty
    after, effects, _ = step_session(plain, CommitFailed(SID, A, 2))
    assert StartFollowUp(SID) in effects


def test_no_follow_up_is_started_while_draining_L2() -> None:
    """L2: the drain commits owed work itself; no follow-up thread is started."""
    owed = Session(2, 0, A, (Segment(1, 2, A),), InFlight(A, 1, False), 2)
    _, effects, _ = step_session(owed, CommitSucceeded(SID, A, 1), draining=True)
    assert not any(isinstance(effect, StartFollowUp) for effect in effects)


def test_retired_session_leaves_no_entry_L4() -> None:
    """L4: committed, unregistered, discarded: no pair left, no agent referenced."""
    state = EMPTY_PROCESS
    for event in (
        RegisterAgent(SID, A),
        TurnCompleted(SID),
        CommitRequested(SID),
        CommitSucceeded(SID, A, 1),
        UnregisterAgent(SID),
        Discard(SID),
    ):
        state = step(state, event).state
    assert state == EMPTY_PROCESS


def test_stale_provider_end_after_reset_changes_nothing_S5() -> None:
    """S5: the end of a call the state no longer records is ignored."""
    state = step(EMPTY_PROCESS, TurnCompleted(SID, A)).state
    state = step(state, CommitRequested(SID)).state
    state = step(state, Reset()).state
    state = step(state, TurnCompleted(SID, B)).state
    after, _, result = step(state, CommitSucceeded(SID, A, 1))
    assert result is Outcome.STALE and after == state


def test_process_events_drive_the_drain_flags_L2() -> None:
    """L2: background commits are admitted until the drain starts, refused after."""
    assert step(EMPTY_PROCESS, BackgroundCommitRequested()).result is Outcome.ADMITTED
    draining = step(EMPTY_PROCESS, DrainStarted()).state
    assert step(draining, BackgroundCommitRequested()).result is Outcome.REFUSED_DRAINING
    drained = step(draining, DrainFinished()).state
    assert drained.draining and drained.drained


def test_step_session_rejects_process_events_with_a_clear_message() -> None:
    """A process event passed to step_session names the right function."""
    with pytest.raises(TypeError, match="process events go to step"):
        step_session(None, DrainStarted())  # type: ignore[arg-type]


def test_adopter_takes_its_own_following_turns_in_the_same_call_S10() -> None:
    """S10: adopting an ownerless run merges it with the adopter's next segment."""
    session, _, _ = step_session(None, TurnCompleted(SID))
    session, _, _ = step_session(session, TurnCompleted(SID, A))
    session, _, _ = step_session(session, TurnCompleted(SID, B))
    assert session is not None
    assert session.segments == (Segment(1, 1, None), Segment(2, 2, A), Segment(3, 3, B))
    session, effects, _ = step_session(session, CommitRequested(SID, A))
    assert effects == (CallProvider(SID, A, 2),)
    assert session is not None and session.segments == (Segment(1, 2, A), Segment(3, 3, B))


def test_adopter_does_not_take_another_owners_following_turns_S4() -> None:
    """S4: adoption never reaches past the ownerless run into another owner's turns."""
    session, _, _ = step_session(None, TurnCompleted(SID))
    session, _, _ = step_session(session, TurnCompleted(SID, A))
    session, effects, _ = step_session(session, CommitRequested(SID, B))
    assert effects == (CallProvider(SID, B, 1),)
    assert session is not None and session.segments == (Segment(1, 1, B), Segment(2, 2, A))


def test_follow_up_whose_debt_was_paid_commits_nothing_newer_L1_S1() -> None:
    """L1, S1: a follow-up arriving after another commit paid its debt starts no call."""
    paid = Session(3, 2, A, (Segment(3, 3, A),), None, 0)
    after, effects, result = step_session(paid, CommitRequested(SID, follow_up=True))
    assert result is Outcome.NOTHING_TO_COMMIT and effects == () and after is paid
