"""Shell tests with real threads: each guarantee of ``SessionLifecycle``."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
import weakref

import pytest
from _agents import (
    WAIT,
    GatedAgent,
    commit_running_behind_a_new_turn,
    held_session,
    join,
    start,
    start_held,
    wait_until,
)
from memory_lifecycle import Outcome, SessionLifecycle
from memory_lifecycle.model import Segment, TurnCompleted


@pytest.fixture
def lifecycle() -> SessionLifecycle:
    return SessionLifecycle()


def idle(lifecycle: SessionLifecycle) -> bool:
    """No provider call running and no background thread alive."""
    with lifecycle.lock:
        alive = any(thread.is_alive() for thread in lifecycle.background_threads)
    states = [lifecycle.session_state(sid) for sid in lifecycle.session_ids()]
    return not alive and all(s is None or s.in_flight is None for s in states)


def waiting_threads(lifecycle: SessionLifecycle) -> int:
    """How many threads wait on the lifecycle's condition (CPython's own count)."""
    return len(lifecycle.condition._waiters)  # type: ignore[attr-defined]


def test_late_commit_keeps_turns_completed_in_flight_dirty_S2(lifecycle: SessionLifecycle) -> None:
    """S2: a commit that ends after new turns committed only what it captured."""
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    thread, box = start_held(lambda: lifecycle.commit("s"), agent)
    assert lifecycle.complete_turn("s") == 2
    agent.release.set()
    join(thread)
    assert box == [Outcome.COMMITTED]
    state = lifecycle.session_state("s")
    assert state is not None and (state.committed, state.generation) == (1, 2)
    assert lifecycle.has_uncommitted_work("s")


def test_failed_commit_is_retried_by_its_original_owner_S3_S4(lifecycle: SessionLifecycle) -> None:
    """S3, S4: after a failure and a re-registration, the retry calls the old owner."""
    old, new = GatedAgent("old"), GatedAgent("new")
    old.raises = RuntimeError("provider down")
    lifecycle.register_agent("s", old)
    lifecycle.complete_turn("s")
    assert lifecycle.commit("s") is Outcome.FAILED
    assert lifecycle.has_uncommitted_work("s")
    lifecycle.register_agent("s", new)
    old.raises = None
    assert lifecycle.commit("s", new) is Outcome.COMMITTED
    assert (old.calls, new.calls) == (2, 0)


def test_replacement_agent_cannot_steal_older_dirty_work_S4(lifecycle: SessionLifecycle) -> None:
    """S4: the new agent's commit calls the owner of the older segment first."""
    old, new = GatedAgent("old"), GatedAgent("new")
    lifecycle.register_agent("s", old)
    lifecycle.complete_turn("s")
    lifecycle.register_agent("s", new)
    lifecycle.complete_turn("s")
    assert lifecycle.commit("s", new) is Outcome.COMMITTED
    assert (old.calls, new.calls) == (1, 0)
    assert lifecycle.commit("s", new) is Outcome.COMMITTED
    assert (old.calls, new.calls) == (1, 1)


def test_unregister_keeps_the_owner_of_dirty_work_S4(lifecycle: SessionLifecycle) -> None:
    """S4: after unregistering, dirty work is still committed by its owner."""
    agent = GatedAgent("a")
    lifecycle.register_agent("s", agent)
    lifecycle.complete_turn("s")
    lifecycle.unregister_agent("s")
    assert lifecycle.commit("s") is Outcome.COMMITTED
    assert agent.calls == 1


def test_registered_session_without_turns_is_never_committed_S1(
    lifecycle: SessionLifecycle,
) -> None:
    """S1: registration alone, or ephemeral turns, give the provider nothing."""
    agent = GatedAgent("a")
    lifecycle.register_agent("s", agent)
    lifecycle.complete_turn("s", ephemeral=True)
    assert lifecycle.commit("s") is Outcome.NOTHING_TO_COMMIT
    assert lifecycle.drain(deadline=WAIT).committed == []
    assert agent.calls == 0


def test_drain_waits_for_in_flight_work_and_flushes_the_newer_generation_L2_S2(
    lifecycle: SessionLifecycle,
) -> None:
    """L2, S2: drain awaits the running call, then commits the turn completed during it."""
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    committer, _ = start_held(lambda: lifecycle.commit("s"), agent)
    lifecycle.complete_turn("s")
    drainer, box = start(lambda: lifecycle.drain(deadline=WAIT))
    agent.release.set()
    join(committer)
    join(drainer)
    report = box[0]
    state = lifecycle.session_state("s")
    assert state is not None and state.committed == 2
    assert agent.calls == 2
    assert report.still_dirty == [] and not report.deadline_passed  # type: ignore[attr-defined]


def test_drain_returns_by_its_deadline_with_hung_providers_L2(lifecycle: SessionLifecycle) -> None:
    """L2: two hung providers hold only their own sessions; the others commit in time."""
    hung = [GatedAgent(f"hung{i}", hold=True) for i in range(2)]
    for index, agent in enumerate(hung):
        lifecycle.register_agent(f"hung{index}", agent)
        lifecycle.complete_turn(f"hung{index}")
    fine = [GatedAgent(f"ok{i}") for i in range(30)]
    for index, agent in enumerate(fine):
        lifecycle.complete_turn(f"ok{index}", agent=agent)
    began = time.monotonic()
    report = lifecycle.drain(deadline=0.5)
    elapsed = time.monotonic() - began
    for agent in hung:
        agent.release.set()
    assert elapsed < 0.5 + 2.0
    assert sorted(report.still_dirty) == ["hung0", "hung1"]
    assert report.deadline_passed
    assert all(agent.calls == 1 for agent in fine)


def test_drain_with_zero_or_negative_deadline_returns_at_once_L2(
    lifecycle: SessionLifecycle,
) -> None:
    """L2: a deadline already passed commits nothing and does not wait."""
    agent = GatedAgent("a")
    lifecycle.complete_turn("s", agent=agent)
    for deadline in (0.0, -5.0):
        report = lifecycle.drain(deadline=deadline)
        assert report.still_dirty == ["s"] and agent.calls == 0


def test_turns_completed_during_a_commit_are_coalesced_into_one_call_S10(
    lifecycle: SessionLifecycle,
) -> None:
    """S10: three turns completed in flight are committed by one later provider call."""
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    thread, _ = start_held(lambda: lifecycle.commit("s", wait=True), agent)
    for _ in range(3):
        lifecycle.complete_turn("s")
    agent.release.set()
    join(thread)
    assert lifecycle.commit("s") is Outcome.COMMITTED
    assert agent.calls == 2
    assert not lifecycle.has_uncommitted_work("s")


def test_discard_keeps_dirty_and_in_flight_entries_S8(lifecycle: SessionLifecycle) -> None:
    """S8: discard refuses dirty or in-flight entries and removes clean idle ones."""
    agent = GatedAgent("a", hold=True)
    lifecycle.complete_turn("s", agent=agent)
    assert lifecycle.discard("s") is Outcome.KEPT_DIRTY
    thread, _ = start_held(lambda: lifecycle.commit("s"), agent)
    assert lifecycle.discard("s") is Outcome.KEPT_IN_FLIGHT
    agent.release.set()
    join(thread)
    assert lifecycle.discard("s") is Outcome.DISCARDED
    assert lifecycle.discard("s") is Outcome.ALREADY_ABSENT
    assert len(lifecycle) == 0


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3)], ids=repr)
def test_base_exception_is_a_failed_commit_then_reraised_S3(
    lifecycle: SessionLifecycle, error: BaseException
) -> None:
    """S3: a BaseException cleans up, keeps the work, and still propagates."""
    agent = GatedAgent("a")
    agent.raises = error
    lifecycle.complete_turn("s", agent=agent)
    with pytest.raises(type(error)):
        lifecycle.commit("s")
    state = lifecycle.session_state("s")
    assert state is not None and state.in_flight is None
    assert state.segments == (Segment(1, 1, agent),)
    agent.raises = None
    assert lifecycle.commit("s", wait=True, timeout=WAIT) is Outcome.COMMITTED


def test_base_exception_wakes_a_waiting_committer_S3_L3(lifecycle: SessionLifecycle) -> None:
    """S3, L3: a waiter blocked behind a call that dies of a BaseException proceeds."""
    agent = GatedAgent("a", hold=True)
    agent.raises = KeyboardInterrupt()
    agent.on_call = lambda: agent.release.clear()
    lifecycle.complete_turn("s", agent=agent)
    first, first_box = start_held(lambda: lifecycle.commit("s"), agent)
    waiter, waiter_box = start(lambda: lifecycle.commit("s", wait=True))
    wait_until(lambda: waiting_threads(lifecycle) == 1, "the committer waits")
    agent.release.set()
    join(first)
    assert isinstance(first_box[0], KeyboardInterrupt)
    wait_until(lambda: agent.calls == 2, "the waiter retried")
    agent.raises = None
    agent.release.set()
    join(waiter)
    assert waiter_box == [Outcome.COMMITTED]
    assert not lifecycle.has_uncommitted_work("s")


def test_failed_commit_wakes_waiters_S3_L3(lifecycle: SessionLifecycle) -> None:
    """S3, L3: a failure releases a waiter, which then retries the same owner."""
    agent = GatedAgent("a", hold=True)
    agent.raises = RuntimeError("down")
    lifecycle.complete_turn("s", agent=agent)
    first, first_box = start_held(lambda: lifecycle.commit("s"), agent)
    waiter, waiter_box = start(lambda: lifecycle.commit("s", wait=True, timeout=WAIT))
    wait_until(lambda: waiting_threads(lifecycle) == 1, "the committer waits")
    agent.release.set()
    join(first)
    join(waiter)
    assert first_box == [Outcome.FAILED]
    assert waiter_box == [Outcome.FAILED]
    assert agent.calls == 2 and lifecycle.has_uncommitted_work("s")


@pytest.mark.parametrize("timeout", [0.0, -1.0, 0.05])
def test_waiter_times_out_and_leaves_a_follow_up_L1_L3(
    lifecycle: SessionLifecycle, timeout: float
) -> None:
    """L1, L3: a bounded wait returns TIMED_OUT; its work is committed by a follow-up."""
    agent, first = commit_running_behind_a_new_turn(lifecycle.complete_turn, lifecycle.commit)
    began = time.monotonic()
    assert lifecycle.commit("s", wait=True, timeout=timeout) is Outcome.TIMED_OUT
    assert time.monotonic() - began < WAIT / 2
    agent.release.set()
    join(first)
    wait_until(lambda: not lifecycle.has_uncommitted_work("s"), "the follow-up committed")
    assert agent.calls == 2


def test_busy_commit_is_followed_up_without_another_boundary_L1(
    lifecycle: SessionLifecycle,
) -> None:
    """L1: a boundary commit refused as busy is committed when the running call ends."""
    agent, first = commit_running_behind_a_new_turn(lifecycle.complete_turn, lifecycle.commit)
    assert lifecycle.commit("s") is Outcome.BUSY
    agent.release.set()
    join(first)
    wait_until(lambda: idle(lifecycle), "the follow-up ended")
    state = lifecycle.session_state("s")
    assert state is not None and state.committed == 2 and agent.calls == 2


def test_reentrant_provider_gets_busy_not_a_deadlock_L3(lifecycle: SessionLifecycle) -> None:
    """L3: a provider committing its own session again, even waiting, gets BUSY."""
    agent = GatedAgent("a")
    agent.on_call = lambda: lifecycle.commit("s", wait=True)
    lifecycle.complete_turn("s", agent=agent)
    thread, box = start(lambda: lifecycle.commit("s"))
    join(thread)
    assert box == [Outcome.COMMITTED]
    assert agent.on_call_result is Outcome.BUSY


def test_slow_provider_does_not_delay_another_session_S6_L3(lifecycle: SessionLifecycle) -> None:
    """S6, L3: while one session's provider hangs, every call on another completes."""
    slow, quick = GatedAgent("slow", hold=True), GatedAgent("quick")
    lifecycle.complete_turn("slow", agent=slow)
    thread, _ = start_held(lambda: lifecycle.commit("slow", wait=True), slow)
    lifecycle.register_agent("fast", quick)
    lifecycle.complete_turn("fast")
    assert lifecycle.commit("fast", wait=True, timeout=WAIT) is Outcome.COMMITTED
    assert lifecycle.discard("fast") is Outcome.DISCARDED
    slow.release.set()
    join(thread)


def test_background_commit_is_tracked_and_joined_by_drain_L2(lifecycle: SessionLifecycle) -> None:
    """L2: a fire-and-forget commit is awaited by drain; none start once draining."""
    agent = GatedAgent("a", hold=True)
    lifecycle.complete_turn("s", agent=agent)
    assert lifecycle.commit_in_background("s") is Outcome.STARTED
    assert agent.entered.wait(WAIT)
    drainer, box = start(lambda: lifecycle.drain(deadline=WAIT))
    wait_until(lambda: lifecycle.draining, "the drain began")
    assert lifecycle.commit_in_background("s") is Outcome.REFUSED_DRAINING
    agent.release.set()
    join(drainer)
    assert box[0].still_dirty == []  # type: ignore[attr-defined]
    assert agent.calls == 1


def test_agent_without_commit_method_is_refused_up_front_S4(lifecycle: SessionLifecycle) -> None:
    """S4: an agent that could never commit may not own or adopt work; nothing changes."""
    lifecycle.complete_turn("s")
    for call in (
        lambda: lifecycle.register_agent("s", object()),
        lambda: lifecycle.complete_turn("s", agent=object()),
        lambda: lifecycle.commit("s", object()),
    ):
        with pytest.raises(TypeError, match="no callable commit_memory_session"):
            call()
    good = GatedAgent("good")
    assert lifecycle.commit("s", good) is Outcome.COMMITTED and good.calls == 1


def test_agent_without_commit_method_fails_cleanly_S3(lifecycle: SessionLifecycle) -> None:
    """S3: a bad agent that reached a segment (the drop-in accepts any) gives FAILED; not wedged."""
    lifecycle.apply(TurnCompleted("s", object()))
    assert lifecycle.commit("s") is Outcome.FAILED
    state = lifecycle.session_state("s")
    assert state is not None and state.dirty and state.in_flight is None


def test_unhashable_session_id_raises_and_changes_nothing_S6(lifecycle: SessionLifecycle) -> None:
    """S6: an unhashable id is a TypeError naming the problem; no state changes."""
    lifecycle.complete_turn("s", agent=GatedAgent("a"))
    before = lifecycle.process_state()
    calls = [
        lambda: lifecycle.register_agent(["x"], GatedAgent("b")),
        lambda: lifecycle.complete_turn({"x": 1}),
        lambda: lifecycle.commit(["x"]),
        lambda: lifecycle.discard(["x"]),
        lambda: lifecycle.has_uncommitted_work(["x"]),
        lambda: lifecycle.commit_in_background(["x"]),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="session_id must be hashable"):
            call()
    assert lifecycle.process_state() == before


def test_bad_arguments_are_rejected_with_clear_messages() -> None:
    """Nonsense configuration and a None agent are refused, naming the fix."""
    with pytest.raises(ValueError, match="drain_workers"):
        SessionLifecycle(drain_workers=0)
    with pytest.raises(ValueError, match="unregister_agent"):
        SessionLifecycle().register_agent("s", None)
    with pytest.raises(ValueError, match="NaN"):
        SessionLifecycle().commit("s", wait=True, timeout=float("nan"))


def test_retired_sessions_keep_no_entry_and_no_agent_reference_L4(
    lifecycle: SessionLifecycle,
) -> None:
    """L4: a committed, unregistered, discarded session leaves nothing behind."""
    agent = GatedAgent("a")
    reference = weakref.ref(agent)
    lifecycle.register_agent("s", agent)
    lifecycle.complete_turn("s")
    assert lifecycle.commit("s") is Outcome.COMMITTED
    lifecycle.unregister_agent("s")
    assert lifecycle.discard("s") is Outcome.DISCARDED
    del agent
    gc.collect()
    assert reference() is None
    assert len(lifecycle) == 0


def test_memory_stays_bounded_under_churn_L4(lifecycle: SessionLifecycle) -> None:
    """L4: thousands of retired sessions retain (almost) nothing."""

    class Agent:
        def commit_memory_session(self) -> None:
            return None

    def churn(start_at: int, count: int) -> None:
        for number in range(start_at, start_at + count):
            session_id = f"session-{number}"
            lifecycle.register_agent(session_id, Agent())
            lifecycle.complete_turn(session_id)
            lifecycle.commit(session_id)
            lifecycle.unregister_agent(session_id)
            lifecycle.discard(session_id)

    churn(0, 500)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        churn(500, 5000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(lifecycle) == 0
    assert grown < 5000 * 8, f"{grown} bytes retained by 5000 retired sessions"


def test_concurrent_turns_and_commits_lose_no_generation_S2_S5() -> None:
    """S2, S5: eight threads completing turns and committing; drain leaves nothing dirty."""
    lifecycle = SessionLifecycle()
    agents = [GatedAgent(f"a{i}") for i in range(4)]
    in_flight = {f"s{i}": 0 for i in range(4)}
    overlap = threading.Lock()
    peak = [0]

    def guarded(agent: GatedAgent, session_id: str) -> None:
        with overlap:
            in_flight[session_id] += 1
            peak[0] = max(peak[0], in_flight[session_id])
        with overlap:
            in_flight[session_id] -= 1

    for index, agent in enumerate(agents):
        agent.on_call = lambda a=agent, s=f"s{index}": guarded(a, s)

    def worker(seed: int) -> None:
        for number in range(200):
            session = f"s{(seed + number) % 4}"
            if number % 3:
                lifecycle.complete_turn(session, agent=agents[(seed + number) % 4])
            else:
                lifecycle.commit(session, wait=number % 2 == 0, timeout=1.0)

    threads = [threading.Thread(target=worker, args=(seed,), daemon=True) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        join(thread)
    report = lifecycle.drain(deadline=WAIT)
    assert report.still_dirty == []
    assert peak[0] == 1
    for index in range(4):
        state = lifecycle.session_state(f"s{index}")
        assert state is not None and state.committed == state.generation > 0


def test_drain_skips_a_registered_thread_not_yet_started_L2(lifecycle: SessionLifecycle) -> None:
    """L2: a thread registered but not started (the host's order) does not break the drain."""
    agent = GatedAgent("a")
    lifecycle.complete_turn("s", agent=agent)
    pending = threading.Thread(target=lambda: None, daemon=True)
    assert lifecycle.register_background_thread(pending)
    report = lifecycle.drain(deadline=WAIT)
    assert report.still_dirty == [] and agent.calls == 1


def test_failing_log_handler_cannot_wedge_a_session_S3(lifecycle: SessionLifecycle) -> None:
    """S3: a log handler that raises is ignored: the failed commit returns FAILED, the
    work stays dirty and nothing is left in flight."""
    import logging

    class BrokenHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise OSError("log sink down")

    handler = BrokenHandler()
    handler.handleError = lambda record: (_ for _ in ()).throw(OSError("still down"))  # type: ignore[method-assign]
    logger = logging.getLogger("memory_lifecycle")
    logger.addHandler(handler)
    previous_disable = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    try:
        agent = GatedAgent("a")
        agent.raises = RuntimeError("provider down")
        lifecycle.complete_turn("s", agent=agent)
        assert lifecycle.commit("s") is Outcome.FAILED
    finally:
        logger.removeHandler(handler)
        logging.disable(previous_disable)
    state = lifecycle.session_state("s")
    assert state is not None and state.in_flight is None and state.dirty
    agent.raises = None
    assert lifecycle.commit("s") is Outcome.COMMITTED


def test_infinite_timeout_and_deadline_wait_without_error_L2_L3(
    lifecycle: SessionLifecycle,
) -> None:
    """L2, L3: timeouts beyond what threading accepts are waits without a bound, not errors."""
    agent, first = commit_running_behind_a_new_turn(lifecycle.complete_turn, lifecycle.commit)
    waiter, box = start(lambda: lifecycle.commit("s", wait=True, timeout=float("inf")))
    wait_until(lambda: waiting_threads(lifecycle) == 1, "the committer waits")
    agent.release.set()
    join(first)
    join(waiter)
    assert box == [Outcome.COMMITTED]
    lifecycle.complete_turn("s")
    assert lifecycle.drain(deadline=float("inf")).still_dirty == []


def test_base_exception_in_one_session_does_not_stop_the_drain_L2() -> None:
    """L2: with one worker, a session whose provider raises CancelledError is skipped, not fatal."""
    import asyncio

    lifecycle = SessionLifecycle(drain_workers=1)
    bad = GatedAgent("bad")
    bad.raises = asyncio.CancelledError()
    lifecycle.complete_turn("a", agent=bad)
    good = [GatedAgent(f"g{i}") for i in range(3)]
    for index, agent in enumerate(good):
        lifecycle.complete_turn(f"g{index}", agent=agent)
    report = lifecycle.drain(deadline=WAIT)
    assert report.still_dirty == ["a"]
    assert all(agent.calls == 1 for agent in good)


def test_call_that_outlives_a_reset_does_not_end_a_newer_call_S5(
    lifecycle: SessionLifecycle,
) -> None:
    """S5: after reset, the old call's end leaves the new call in flight."""
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    old, _ = start_held(lambda: lifecycle.commit("s"), agent)
    lifecycle.reset()
    second = GatedAgent("second", hold=True)
    lifecycle.register_agent("s", agent)
    lifecycle.complete_turn("s", agent=second)
    new, _ = start_held(lambda: lifecycle.commit("s"), second)
    agent.release.set()
    join(old)
    state = lifecycle.session_state("s")
    assert state is not None and state.in_flight is not None
    assert lifecycle.commit("s") is Outcome.BUSY
    second.release.set()
    join(new)
