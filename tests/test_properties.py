"""The property catalogue S1-S10, L1-L4: each check accepts the model's own steps,
rejects a hand-made bad one, and holds on every state and transition of the
default bound."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import (
    EMPTY_PROCESS,
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    Event,
    InFlight,
    Outcome,
    Process,
    RegisterAgent,
    Segment,
    Session,
    StartFollowUp,
    Step,
    TurnCompleted,
    UnregisterAgent,
)
from memory_lifecycle.specs.checker.explore import CheckResult, explore
from memory_lifecycle.specs.checker.world import AGENTS, CHECK_BOUNDS, Bounds
from memory_lifecycle.specs.properties import ALL, BY_ID

A, B = AGENTS[0], AGENTS[1]


def _run(events: Sequence[Event]) -> Process:
    state = EMPTY_PROCESS
    for event in events:
        state = model.step(state, event).state
    return state


def _last(events: Sequence[Event]) -> tuple[Process, Event, Step]:
    before = _run(events[:-1])
    return before, events[-1], model.step(before, events[-1])


def _with(state: Process, session_id: str, session: Session | None) -> Process:
    pairs = [pair for pair in state.sessions if pair[0] != session_id]
    if session is not None:
        pairs.append((session_id, session))
    return state._replace(sessions=tuple(sorted(pairs, key=lambda pair: str(pair[0]))))


def _session(state: Process, session_id: str = "s1") -> Session:
    session = state.session(session_id)
    assert session is not None
    return session


def _transition(property_id: str, before: Process, event: Event, step: Step) -> str | None:
    check = BY_ID[property_id].on_transition
    assert check is not None
    return check(before, event, step)


LATE = [
    RegisterAgent("s1", A),
    TurnCompleted("s1"),
    CommitRequested("s1"),
    TurnCompleted("s1"),
    CommitRequested("s1"),
    CommitSucceeded("s1", A, 1),
]
"""A commit in flight while another turn completes and another commit is asked for."""


def test_catalogue_has_every_id_once_with_a_statement_and_a_check() -> None:
    assert [item.id for item in ALL] == [f"S{n}" for n in range(1, 11)] + [
        f"L{n}" for n in range(1, 5)
    ]
    for item in ALL:
        assert item.title and item.statement and item.why
        assert item.on_state or item.on_transition or item.on_progress


def test_S1_provider_called_only_for_completed_generations() -> None:
    """S1: a call capturing beyond the completed generations is rejected."""
    before, event, step = _last(
        [RegisterAgent("s1", A), TurnCompleted("s1"), CommitRequested("s1")]
    )
    assert _transition("S1", before, event, step) is None
    bogus = step._replace(effects=(CallProvider("s1", A, 2),))
    assert "captured generation 2" in (_transition("S1", before, event, bogus) or "")
    registered_only = _run([RegisterAgent("s1", A)])
    bad = Step(registered_only, (CallProvider("s1", A, 0),), Outcome.STARTED)
    assert _transition("S1", registered_only, CommitRequested("s1"), bad) is not None


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
    events = [RegisterAgent("s1", A), TurnCompleted("s1"), CommitRequested("s1")]
    for fatal in (False, True):
        before, event, step = _last([*events, CommitFailed("s1", A, 1, fatal)])
        assert _transition("S3", before, event, step) is None
        assert _session(step.state).in_flight is None
        stuck = _with(step.state, "s1", _session(before))
        assert "in flight" in (_transition("S3", before, event, step._replace(state=stuck)) or "")
        stolen = _session(step.state)._replace(segments=(Segment(1, 1, B),))
        changed = step._replace(state=_with(step.state, "s1", stolen))
        assert "owners" in (_transition("S3", before, event, changed) or "")


def test_S4_call_is_made_by_the_owner_and_owners_never_move() -> None:
    """S4: the first segment's owner calls; registering B never takes A's segment."""
    before, event, step = _last(
        [RegisterAgent("s1", A), TurnCompleted("s1"), RegisterAgent("s1", B), CommitRequested("s1")]
    )
    assert step.effects == (CallProvider("s1", A, 1),)
    assert _transition("S4", before, event, step) is None
    wrong = step._replace(effects=(CallProvider("s1", B, 1),))
    assert "belongs to A" in (_transition("S4", before, event, wrong) or "")
    before, event, step = _last(
        [RegisterAgent("s1", A), TurnCompleted("s1"), RegisterAgent("s1", B)]
    )
    taken = _session(step.state)._replace(segments=(Segment(1, 1, B),))
    message = _transition("S4", before, event, step._replace(state=_with(step.state, "s1", taken)))
    assert message is not None and "owner of dirty generation 1" in message
    state_check = BY_ID["S4"].on_state
    assert state_check is not None
    running = _run([RegisterAgent("s1", A), TurnCompleted("s1"), CommitRequested("s1")])
    assert state_check(running) is None
    hijacked = _session(running)._replace(in_flight=InFlight(B, 1, False))
    assert state_check(_with(running, "s1", hijacked)) is not None


def test_S5_no_second_call_while_one_is_in_flight() -> None:
    """S5: a commit requested while busy starts nothing."""
    before, event, step = _last(LATE[:5])
    assert step.result is Outcome.BUSY and _transition("S5", before, event, step) is None
    second = step._replace(effects=(CallProvider("s1", A, 2),))
    assert "in flight" in (_transition("S5", before, event, second) or "")


def test_S6_an_event_for_one_session_leaves_the_others_alone() -> None:
    """S6: changing s2 on an s1 event is rejected."""
    before, event, step = _last([TurnCompleted("s2"), RegisterAgent("s1", A)])
    assert _transition("S6", before, event, step) is None
    touched = _with(step.state, "s2", _session(step.state, "s2")._replace(registered=A))
    assert "s2" in (_transition("S6", before, event, step._replace(state=touched)) or "")


def test_S7_marks_are_well_formed_and_monotonic() -> None:
    """S7: gaps in the segments, debts out of range and counts going back are rejected."""
    check = BY_ID["S7"].on_state
    assert check is not None
    state = _run(LATE)
    assert check(state) is None
    gap = _session(state)._replace(segments=(Segment(3, 3, A),))
    assert "do not cover" in (check(_with(state, "s1", gap)) or "")
    debt = _session(state)._replace(follow_up_through=1)
    assert "follow_up_through" in (check(_with(state, "s1", debt)) or "")
    before, event, step = _last([TurnCompleted("s1"), TurnCompleted("s1")])
    back = _session(step.state)._replace(generation=0, segments=())
    assert _transition("S7", before, event, step._replace(state=_with(step.state, "s1", back)))


def test_S8_discard_removes_only_clean_idle_entries() -> None:
    """S8: the model keeps a dirty entry; removing it, or removing on another event, fails."""
    before, event, step = _last([TurnCompleted("s1"), Discard("s1")])
    assert step.result is Outcome.KEPT_DIRTY and _transition("S8", before, event, step) is None
    removed = step._replace(state=_with(step.state, "s1", None))
    assert "dirty" in (_transition("S8", before, event, removed) or "")
    other = UnregisterAgent("s1")
    assert "removed the entry" in (_transition("S8", before, other, removed) or "")


def test_S9_no_provider_call_when_nothing_is_dirty() -> None:
    """S9: the model answers nothing_to_commit; a call there is rejected."""
    before, event, step = _last(
        [
            RegisterAgent("s1", A),
            TurnCompleted("s1"),
            CommitRequested("s1"),
            CommitSucceeded("s1", A, 1),
            CommitRequested("s1"),
        ]
    )
    assert step.result is Outcome.NOTHING_TO_COMMIT
    assert _transition("S9", before, event, step) is None
    called = step._replace(effects=(CallProvider("s1", A, 1),))
    assert _transition("S9", before, event, called) is not None


def test_S10_turns_of_one_owner_share_a_segment_even_in_flight() -> None:
    """S10: a turn completed during the call extends the owner's segment."""
    before, event, step = _last(LATE[:4])
    assert _session(step.state).segments == (Segment(1, 2, A),)
    assert _transition("S10", before, event, step) is None
    split = _session(step.state)._replace(segments=(Segment(1, 1, A), Segment(2, 2, A)))
    message = _transition("S10", before, event, step._replace(state=_with(step.state, "s1", split)))
    assert message is not None and "new segment" in message


def test_L1_follow_up_starts_when_a_call_ends_with_work_owed() -> None:
    """L1: the success of LATE starts the follow-up; dropping it is rejected, and the
    follow-up then commits the owed work."""
    before, event, step = _last(LATE)
    assert StartFollowUp("s1") in step.effects
    assert _transition("L1", before, event, step) is None
    dropped = step._replace(effects=tuple(e for e in step.effects if e != StartFollowUp("s1")))
    assert "no follow-up" in (_transition("L1", before, event, dropped) or "")
    progress = BY_ID["L1"].on_progress
    assert progress is not None
    assert progress(step.state, model.step, A) is None
    follow = model.step(step.state, CommitRequested("s1", follow_up=True))
    assert follow.effects == (CallProvider("s1", A, 2),)


def test_L2_every_state_can_be_driven_clean_when_providers_succeed() -> None:
    """L2: from an ownerless dirty state a commit naming an agent cleans it; a step that
    never adopts is caught."""
    check = BY_ID["L2"].on_progress
    assert check is not None
    ownerless = _run([TurnCompleted("s1"), TurnCompleted("s1")])
    assert check(ownerless, model.step, A) is None

    def never_adopt(state: Process, event: Event) -> Step:
        if isinstance(event, CommitRequested):
            return Step(state, (), Outcome.NO_AGENT)
        return model.step(state, event)

    failure = check(ownerless, never_adopt, A)
    assert failure is not None and failure.events == (CommitRequested("s1", A),)


def test_L3_a_running_call_can_always_end() -> None:
    """L3: each provider outcome ends the call; a step where success does not is caught."""
    check = BY_ID["L3"].on_progress
    assert check is not None
    running = _run([RegisterAgent("s1", A), TurnCompleted("s1"), CommitRequested("s1")])
    assert check(running, model.step, A) is None

    def wedged(state: Process, event: Event) -> Step:
        if isinstance(event, CommitSucceeded):
            return Step(state, (), Outcome.COMMITTED)
        return model.step(state, event)

    failure = check(running, wedged, A)
    assert failure is not None and "left it in flight" in failure.message


def test_L4_a_committed_unregistered_discarded_session_leaves_no_entry() -> None:
    """L4: the model removes the entry; keeping it is rejected."""
    before, event, step = _last([RegisterAgent("s1", A), UnregisterAgent("s1"), Discard("s1")])
    assert step.result is Outcome.DISCARDED and step.state.session("s1") is None
    assert _transition("L4", before, event, step) is None
    kept = step._replace(state=before)
    assert "kept its entry" in (_transition("L4", before, event, kept) or "")


@pytest.fixture(scope="module")
def default_bound() -> CheckResult:
    return explore(CHECK_BOUNDS)


def _holds(result: CheckResult, property_id: str) -> None:
    assert result.complete
    violation = result.violation(property_id)
    assert violation is None, violation.trace.format() if violation else ""


def test_default_bound_is_large_and_overlapping(default_bound: CheckResult) -> None:
    """The default bound reaches over 90,000 states, nine or more events deep."""
    assert default_bound.states > 90_000
    assert default_bound.transitions > 20 * default_bound.states
    assert default_bound.depth >= 9


def test_S1_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S1")


def test_S2_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S2")


def test_S3_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S3")


def test_S4_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S4")


def test_S5_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S5")


def test_S6_holds_at_default_bound_on_whole_processes() -> None:
    """S6 on whole processes (product engine), two sessions, two agents, one turn each."""
    result = explore(
        Bounds(sessions=2, agents=2, max_generation=1),
        model.step,
        [BY_ID["S6"]],
        engine="product",
    )
    _holds(result, "S6")
    assert result.states > 1_000


def test_S7_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S7")


def test_S8_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S8")


def test_S9_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S9")


def test_S10_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "S10")


def test_L1_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "L1")


def test_L2_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "L2")


def test_L3_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "L3")


def test_L4_holds_at_default_bound(default_bound: CheckResult) -> None:
    _holds(default_bound, "L4")
