"""Regression tests for the clock, waiting, the drain and asynchronous exceptions.

Each test reproduces one defect that real threads found where the checkers did
not reach, on the native API and, where it applies, on the drop-in.
"""

from __future__ import annotations

import collections
import gc
import importlib
import logging
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _agents import WAIT, GatedAgent, held_session, join, start, start_held, wait_until
from _pure import pure_lifecycle
from memory_lifecycle import DrainReport, Outcome, SessionLifecycle

HERE = Path(__file__).resolve().parent


@pytest.fixture
def lifecycle() -> SessionLifecycle:
    return SessionLifecycle()


@pytest.fixture
def patchable() -> Any:
    """A ``SessionLifecycle`` whose methods a test may patch (run from source)."""
    return pure_lifecycle().SessionLifecycle


class Counter:
    """An agent that counts its calls and may fail the first ``failures`` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures
        self.lock = threading.Lock()

    def commit_memory_session(self) -> None:
        with self.lock:
            self.calls += 1
            failing = self.failures > 0
            self.failures -= 1
        if failing:
            raise RuntimeError("flaky provider")


def dirty_sessions(
    register: Callable[[str, Counter], object],
    complete_turn: Callable[[str], object],
    count: int,
    **agent: Any,
) -> list[Counter]:
    """Sessions s0, s1, ... each with one turn completed under its own ``Counter`` agent,
    through the API's own calls (as in ``_agents.held_session``)."""
    agents = []
    for number in range(count):
        counter = Counter(**agent)
        register(f"s{number}", counter)
        complete_turn(f"s{number}")
        agents.append(counter)
    return agents


# --- 1, 2: the drain is one refilled queue, not rounds behind a hung commit ----------


def test_hung_background_commit_costs_only_its_own_session_L2(
    lifecycle: SessionLifecycle,
) -> None:
    """L2: a hung fire-and-forget commit does not spend the deadline of 50 healthy sessions."""
    stuck = held_session(lifecycle.register_agent, lifecycle.complete_turn, "stuck", name="stuck")
    assert lifecycle.commit_in_background("stuck") is Outcome.STARTED
    assert stuck.entered.wait(WAIT)
    agents = dirty_sessions(lifecycle.register_agent, lifecycle.complete_turn, 50)
    report = lifecycle.drain(deadline=1.0)
    assert sorted(report.committed) == sorted(f"s{n}" for n in range(50))
    assert all(agent.calls == 1 for agent in agents)
    assert report.still_dirty == ["stuck"] and report.in_flight == ["stuck"]
    assert report.deadline_passed and report.background_left == 1
    stuck.release.set()
    wait_until(lambda: not lifecycle.has_uncommitted_work("stuck"), "the hung commit ends")


def test_hung_registered_thread_costs_only_its_own_session_in_the_drop_in_L2(
    compat: ModuleType,
) -> None:
    """L2: the same with a host thread registered through the drop-in's registry."""
    stuck = held_session(compat.register_agent, compat.mark_turn_completed, "stuck", name="stuck")
    thread = threading.Thread(target=lambda: compat.commit_session_memory("stuck"), daemon=True)
    assert compat._register_background_commit_thread(thread) is True
    thread.start()
    assert stuck.entered.wait(WAIT)
    agents = dirty_sessions(compat.register_agent, compat.mark_turn_completed, 50)
    compat.drain_all_on_shutdown(1.0)
    assert all(agent.calls == 1 for agent in agents)
    assert not any(compat.has_uncommitted_work(f"s{number}") for number in range(50))
    stuck.release.set()
    join(thread)


def test_drain_retries_failures_and_commits_turns_completed_meanwhile_L2(
    lifecycle: SessionLifecycle,
) -> None:
    """L2: beside a hung provider, a flaky session is retried and a turn completed
    during the drain is committed, long before the deadline."""
    hung = held_session(lifecycle.register_agent, lifecycle.complete_turn, "hung", name="hung")
    flaky = Counter(failures=2)
    lifecycle.register_agent("flaky", flaky)
    lifecycle.complete_turn("flaky")
    late = held_session(lifecycle.register_agent, lifecycle.complete_turn, "late", name="late")
    thread, box = start(lambda: lifecycle.drain(deadline=WAIT))
    assert late.entered.wait(WAIT) and hung.entered.wait(WAIT)
    assert lifecycle.complete_turn("late") == 2  # completed while its first call runs
    late.release.set()
    wait_until(lambda: not lifecycle.has_uncommitted_work("late"), "the late turn is drained")
    wait_until(lambda: not lifecycle.has_uncommitted_work("flaky"), "the flaky session is retried")
    assert flaky.calls == 3 and late.calls == 2
    hung.release.set()
    join(thread)
    report = box[0]
    assert not report.deadline_passed and report.still_dirty == []


def test_drain_gives_up_on_a_provider_that_always_fails_L2(lifecycle: SessionLifecycle) -> None:
    """L2: a provider that always fails is tried DRAIN_ATTEMPTS times, then the drain
    returns early with the work reported dirty."""
    from memory_lifecycle.model import DRAIN_ATTEMPTS

    broken = Counter(failures=10**6)
    lifecycle.register_agent("s", broken)
    lifecycle.complete_turn("s")
    report = lifecycle.drain(deadline=WAIT)
    assert broken.calls == DRAIN_ATTEMPTS
    assert report.still_dirty == ["s"] and not report.deadline_passed


# --- 3: after the drain, the lifecycle serves as before -------------------------------


def test_after_a_drain_busy_boundaries_are_followed_up_again_L1(
    lifecycle: SessionLifecycle,
) -> None:
    """L1: once the drain returned, a commit refused as busy is followed up again and
    background commits are admitted."""
    lifecycle.drain(deadline=1.0)
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    thread, _ = start_held(lambda: lifecycle.commit("s"), agent)
    lifecycle.complete_turn("s")
    assert lifecycle.commit("s") is Outcome.BUSY
    agent.release.set()
    join(thread)
    wait_until(lambda: not lifecycle.has_uncommitted_work("s"), "the follow-up commits turn 2")
    lifecycle.complete_turn("s")
    assert lifecycle.commit_in_background("s") is Outcome.STARTED
    wait_until(lambda: not lifecycle.has_uncommitted_work("s"), "the background commit runs")


def test_drop_in_admits_registrations_and_follows_up_after_its_drain_L1(
    compat: ModuleType,
) -> None:
    """L1: once the drop-in's drain returned, ``_draining`` is clear, host threads are
    admitted again and a busy boundary is followed up."""
    compat.drain_all_on_shutdown(1.0)
    assert compat._draining is False
    thread = threading.Thread(target=print)
    assert compat._register_background_commit_thread(thread) is True
    compat._unregister_background_commit_thread(thread)
    agent = held_session(compat.register_agent, compat.mark_turn_completed)
    thread, _ = start_held(lambda: compat.commit_session_memory("s"), agent)
    compat.mark_turn_completed("s")
    assert compat.commit_session_memory("s") is False
    agent.release.set()
    join(thread)
    wait_until(lambda: not compat.has_uncommitted_work("s"), "the follow-up commits turn 2")


def test_drop_in_refuses_registrations_while_its_drain_runs_L2(compat: ModuleType) -> None:
    """L2: while the drain runs, ``_draining`` is set and host threads are refused (the
    host commits inline; the drain commits that work anyway)."""
    agent = held_session(compat.register_agent, compat.mark_turn_completed)
    drain, _ = start_held(lambda: compat.drain_all_on_shutdown(WAIT), agent)
    assert compat._draining is True
    assert compat._register_background_commit_thread(threading.Thread(target=print)) is False
    agent.release.set()
    join(drain)
    assert compat._draining is False and not compat.has_uncommitted_work("s")


# --- 4: Ctrl-C at any point leaves the lock free and no session wedged ---------------


def test_interrupt_after_the_call_started_ends_it_as_failed_S3(
    patchable: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3: a KeyboardInterrupt landing after the model said STARTED and before the
    provider was called leaves the session idle, its work dirty, the lock free."""
    lifecycle = patchable()
    agent = Counter()
    lifecycle.register_agent("s", agent)
    lifecycle.complete_turn("s")
    original = patchable._enter_call

    def interrupted(self: Any, ident: int, call_id: int) -> None:
        original(self, ident, call_id)
        raise KeyboardInterrupt

    monkeypatch.setattr(patchable, "_enter_call", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lifecycle.commit("s")
    monkeypatch.setattr(patchable, "_enter_call", original)
    state = lifecycle.session_state("s")
    assert state is not None and state.in_flight is None and state.dirty
    assert agent.calls == 0
    assert lifecycle.lock.acquire(timeout=1.0)
    lifecycle.lock.release()
    assert lifecycle.commit("s") is Outcome.COMMITTED


def test_interrupt_after_a_call_ended_still_starts_its_follow_up_L1(
    patchable: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L1: an interruption after the end of a call was stored, before its follow-up
    started, is settled: the follow-up still commits the busy boundary's work."""
    lifecycle = patchable()
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    box: list[object] = []

    def run() -> None:
        try:
            box.append(lifecycle.commit("s"))
        except KeyboardInterrupt as error:
            box.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert agent.entered.wait(WAIT)
    lifecycle.complete_turn("s")
    assert lifecycle.commit("s") is Outcome.BUSY
    original = patchable._start_follow_ups
    calls = []

    def interrupted(self: Any, effects: Any) -> None:
        calls.append(effects)
        if len(calls) == 1:
            raise KeyboardInterrupt
        original(self, effects)

    monkeypatch.setattr(patchable, "_start_follow_ups", interrupted)
    agent.release.set()
    join(thread)
    assert isinstance(box[0], KeyboardInterrupt)
    wait_until(lambda: not lifecycle.has_uncommitted_work("s"), "the settled follow-up runs")


def test_interrupted_waiter_leaves_the_lock_free_L3(patchable: Any) -> None:
    """L3: a waiting commit interrupted in its wait leaves the lock free and nothing
    in flight of its own."""
    lifecycle = patchable()
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    thread, _ = start_held(lambda: lifecycle.commit("s"), agent)
    original = lifecycle._wait

    def interrupted(seconds: float | None) -> None:
        raise KeyboardInterrupt

    lifecycle._wait = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        lifecycle.commit("s", wait=True)
    lifecycle._wait = original  # type: ignore[method-assign]
    assert lifecycle.lock.acquire(timeout=1.0)
    lifecycle.lock.release()
    agent.release.set()
    join(thread)
    assert not lifecycle.has_uncommitted_work("s")


def test_interrupted_drain_is_finished_and_background_commits_resume_L2(
    patchable: Any,
) -> None:
    """L2: a Ctrl-C in the drain's wait ends the drain: the lifecycle does not stay
    draining (background commits admitted, follow-ups run)."""
    lifecycle = patchable()
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn)
    original = lifecycle._wait

    def interrupted_once_the_worker_calls(seconds: float) -> None:
        while not agent.entered.is_set():
            original(0.01)  # waits with the lock released, as the drain does
        raise KeyboardInterrupt

    lifecycle._wait = interrupted_once_the_worker_calls  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        lifecycle.drain(deadline=WAIT)
    lifecycle._wait = original  # type: ignore[method-assign]
    assert not lifecycle.draining
    agent.release.set()
    wait_until(lambda: not lifecycle.has_uncommitted_work("s"), "the drain worker's call ends")
    lifecycle.complete_turn("s")
    assert lifecycle.commit_in_background("s") is Outcome.STARTED


def test_ctrl_c_in_a_drain_started_as_another_ends_leaves_no_drain_behind_L2(
    patchable: Any,
) -> None:
    """L2: a drain called while another is ending, which then starts a drain of its own
    and is interrupted at once, ends that drain: the lifecycle is not left draining
    with nobody to finish it."""
    polls = []
    ending_polls = threading.Event()

    def clock() -> float:
        if threading.current_thread().name == "ending drain":
            polls.append(None)
            if len(polls) == 2:  # its first poll, under the lock
                ending_polls.set()
                time.sleep(0.2)  # the main thread's drain is called meanwhile
                return time.monotonic() + 1_000.0  # this drain's deadline has passed
        return time.monotonic()

    lifecycle = patchable(clock=clock)
    lifecycle.register_agent("s", Counter())
    lifecycle.complete_turn("s")
    original_feed = lifecycle._feed_process

    def interrupted_once_started(event: object) -> object:
        fed = original_feed(event)
        if type(event).__name__ == "DrainStarted" and threading.current_thread() is (
            threading.main_thread()
        ):
            raise KeyboardInterrupt  # lands once the drain has started, before it is led
        return fed

    lifecycle._feed_process = interrupted_once_started
    ending = threading.Thread(target=lifecycle.drain, args=(1.0,), name="ending drain")
    ending.start()
    assert ending_polls.wait(WAIT)
    with pytest.raises(KeyboardInterrupt):
        lifecycle.drain(deadline=WAIT)
    join(ending)
    assert not lifecycle.draining
    assert lifecycle.commit_in_background("s") is Outcome.STARTED


def test_drain_interrupted_before_any_call_leaves_the_work_dirty_for_the_next_commit_L1(
    patchable: Any,
) -> None:
    """L1: a Ctrl-C that ends the drain before a worker took the session loses
    nothing: the session stays dirty and the next commit calls its provider."""
    lifecycle = patchable(drain_workers=1)
    agent = Counter()
    lifecycle.register_agent("s", agent)
    lifecycle.complete_turn("s")
    original_start = lifecycle._start_drain_workers
    lifecycle._start_drain_workers = lambda count: (_ for _ in ()).throw(KeyboardInterrupt)  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        lifecycle.drain(deadline=WAIT)
    lifecycle._start_drain_workers = original_start  # type: ignore[method-assign]
    assert not lifecycle.draining
    assert lifecycle.has_uncommitted_work("s")
    assert lifecycle.commit("s") is Outcome.COMMITTED
    assert agent.calls == 1


def run_soak(api: str, mode: str) -> None:
    """Run ``interrupt_soak.py`` for 2 seconds; it exits 0 only when nothing was left behind."""
    done = subprocess.run(
        [sys.executable, str(HERE / "interrupt_soak.py"), api, "2.0", mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "operations" in done.stdout


@pytest.mark.parametrize("api", ["native", "compat"])
def test_sigint_every_millisecond_wedges_nothing_S3_L3(api: str) -> None:
    """S3, L3: SIGINT every millisecond while the main thread loops over turns,
    queries and waiting commits: afterwards the lock is free, no session is in
    flight without a call, and the drain commits everything early."""
    run_soak(api, "raise")


@pytest.mark.parametrize("api", ["native", "compat"])
def test_signal_handler_calling_the_lifecycle_inside_every_call_loses_nothing_S3_S7_L2_L3(
    api: str,
) -> None:
    """S3, S7, L2, L3: a SIGALRM handler calls the lifecycle every millisecond (a drain,
    a turn, a commit, a background commit) inside whatever lifecycle call the main
    thread is in (the lock is re-entrant): nothing deadlocks, no turn is lost, no session
    is left in flight without a call, and the final drain commits everything."""
    run_soak(api, "call")


class StartedThenInterrupted(threading.Thread):
    """A thread whose ``start`` raises KeyboardInterrupt once the thread is running, as a
    Ctrl-C landing in ``Thread.start``'s wait for it does (once, for a drain worker)."""

    armed = True

    def start(self) -> None:
        super().start()
        if StartedThenInterrupted.armed and self.name.startswith("memory-lifecycle drain"):
            StartedThenInterrupted.armed = False
            raise KeyboardInterrupt


class ThreadingWith:
    """The ``threading`` module with another ``Thread`` class."""

    def __init__(self, thread_class: type[threading.Thread]) -> None:
        self.Thread = thread_class

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


def test_ctrl_c_in_a_drain_workers_start_keeps_the_pool_growing_L2(
    patchable: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L2: a drain whose worker's ``Thread.start`` was interrupted after the thread began
    still counts its workers right, so a later drain grows its pool past a hung provider
    and commits a turn completed during it."""
    lifecycle = patchable(drain_workers=4)
    module = sys.modules[type(lifecycle).__module__]
    monkeypatch.setattr(module, "threading", ThreadingWith(StartedThenInterrupted))
    quick = GatedAgent("quick")
    lifecycle.register_agent("x", quick)
    lifecycle.complete_turn("x")
    with pytest.raises(KeyboardInterrupt):
        lifecycle.drain(WAIT)
    lifecycle.settle()
    assert lifecycle.drain(WAIT).still_dirty == []
    monkeypatch.setattr(module, "threading", threading)
    hung = GatedAgent("hung", hold=True)
    lifecycle.register_agent("hung", hung)
    lifecycle.complete_turn("hung")
    lifecycle.register_agent("b", GatedAgent("b"))
    turn = threading.Timer(0.2, lambda: lifecycle.complete_turn("b"))
    turn.start()
    report = lifecycle.drain(1.5)
    hung.release.set()
    turn.join()
    assert "b" not in report.still_dirty, report


class InterruptedWhenTold(threading.Condition):
    """A Condition whose next wait in ``thread`` once ``told`` is set is interrupted after
    releasing its lock (a Ctrl-C reaching that thread); other waits are as usual."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self.thread: int | None = None
        self.told = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if threading.get_ident() == self.thread and self.told.is_set():
            self.thread = None  # once: a later thread may get the same ident
            self._release_save()  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return super().wait(timeout)


def test_a_drain_that_joined_one_ended_by_ctrl_c_drains_on_to_its_deadline_L2() -> None:
    """L2: thread J joins the drain thread L leads; a Ctrl-C ends L's drain while a call
    is still running. J's drain does not return with that work dirty: it drains on,
    and commits the session once the call ends."""
    lifecycle = SessionLifecycle()
    condition = InterruptedWhenTold(lifecycle.lock)
    lifecycle.condition = condition
    hung = held_session(lifecycle.register_agent, lifecycle.complete_turn, "s", name="hung")

    def lead() -> object:
        condition.thread = threading.get_ident()
        return lifecycle.drain(WAIT)

    leader = start(lead)
    wait_until(hung.entered.is_set, "the drain called the provider")
    joiner = start(lambda: lifecycle.drain(WAIT))
    wait_until(lambda: len(condition._waiters) >= 2, "the second drain joined")  # type: ignore[attr-defined]
    condition.told.set()
    with condition:
        condition.notify_all()
    join(leader[0])
    assert isinstance(leader[1][0], KeyboardInterrupt)
    time.sleep(0.1)
    hung.release.set()
    join(joiner[0])
    report = joiner[1][0]
    assert isinstance(report, DrainReport)
    assert report.still_dirty == [] and report.in_flight == [], report


class HandlerInWait(threading.Condition):
    """A Condition whose next wait in ``thread`` runs ``handler`` with the lock released
    and then returns, as a signal handler runs when the signal lands while that thread
    waits (CPython then retries the wait's acquire, which a notify by the handler ends)."""

    def __init__(self, lock: Any, handler: Callable[[], object]) -> None:
        super().__init__(lock)
        self.thread: int | None = None
        self.handler = handler

    def wait(self, timeout: float | None = None) -> bool:
        if threading.get_ident() == self.thread:
            self.thread = None
            saved = self._release_save()  # type: ignore[attr-defined]
            try:
                self.handler()
            finally:
                self._acquire_restore(saved)  # type: ignore[attr-defined]
            return True
        return super().wait(timeout)


def test_a_signal_handlers_drain_inside_the_leading_drain_joins_it_L2() -> None:
    """L2: a drain that a signal handler runs in the thread leading a drain joins that
    drain, so the sooner deadline holds for both; it does not end the leader's drain
    early and lead another (which returned the leader's drain at once, work in flight)."""
    lifecycle = SessionLifecycle(drain_workers=1)
    hung = held_session(lifecycle.register_agent, lifecycle.complete_turn, "s", name="hung")
    handled: list[DrainReport] = []
    condition = HandlerInWait(lifecycle.lock, lambda: handled.append(lifecycle.drain(0.05)))
    lifecycle.condition = condition
    condition.thread = threading.get_ident()
    report = lifecycle.drain(2 * WAIT)  # longer than the hung call lasts (it fails at WAIT)
    running = hung.calls == 1 and not hung.release.is_set()
    hung.release.set()
    assert len(handled) == 1 and handled[0].deadline_passed
    # Returned at the handler's deadline, while the hung call still ran.
    assert report.deadline_passed and report.in_flight == ["s"] and running, report


class EmptiedAfterItsCheck(collections.deque):  # type: ignore[type-arg]
    """A waiter queue that runs ``handler`` as ``notify`` checks it is not empty, once:
    a signal handler landing there whose own notify wakes (and removes) every waiter."""

    handler: Callable[[], object] | None = None

    def __bool__(self) -> bool:
        not_empty = len(self) > 0
        handler, self.handler = self.handler, None
        if handler is not None and not_empty:
            handler()
        return not_empty


def test_a_handlers_wake_up_inside_notify_leaves_the_wake_up_whole_L3() -> None:
    """L3: a signal handler's lifecycle call inside CPython's ``Condition.notify`` wakes
    every waiter and leaves notify's loop an empty queue: the lifecycle's wake-up goes on
    (it raised IndexError out of settle(), commit() and drain())."""
    lifecycle = SessionLifecycle()
    hung = held_session(lifecycle.register_agent, lifecycle.complete_turn, "s", name="hung")
    holder = start_held(lambda: lifecycle.commit("s"), hung)
    waiter = start(lambda: lifecycle.commit("s", wait=True, timeout=WAIT))
    wait_until(lambda: lifecycle._waiting == 1, "the second commit waits")
    queue = EmptiedAfterItsCheck(lifecycle.condition._waiters)  # type: ignore[attr-defined]
    queue.handler = lifecycle.condition.notify_all
    with lifecycle.lock:
        lifecycle.condition._waiters = queue  # type: ignore[attr-defined]
    lifecycle.settle()
    hung.release.set()
    join(holder[0])
    join(waiter[0])
    assert waiter[1] == [Outcome.NOTHING_TO_COMMIT]


class ExitInterrupted:
    """A lock whose ``with`` raises KeyboardInterrupt as it ends (the lock released), as
    a Ctrl-C landing right after the release does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.armed = True

    def __enter__(self) -> bool:
        return self.lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.lock.release()
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt


def test_ctrl_c_as_the_drain_sets_its_flag_leaves_the_flag_clear_L1(
    compat: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L1: ``drain_all_on_shutdown`` interrupted right after it set ``_draining`` clears
    it again, so boundary commits are admitted as before (not refused until a later drain)."""
    monkeypatch.setattr(compat, "_background_commit_threads_lock", ExitInterrupted())
    with pytest.raises(KeyboardInterrupt):
        compat.drain_all_on_shutdown(1.0)
    assert compat._draining is False
    thread = threading.Thread(target=lambda: None)
    assert compat._register_background_commit_thread(thread) is True
    compat._unregister_background_commit_thread(thread)


# --- 5, 6: no busy loop; follow-ups survive bad session ids ---------------------------


class TurnsUnhashable:
    """A session id whose hash starts raising once ``broken`` is set."""

    broken = False

    def __hash__(self) -> int:
        if TurnsUnhashable.broken:
            raise TypeError("this id is no longer hashable")
        return 7

    def __eq__(self, other: object) -> bool:
        return other is self


def test_a_hash_that_starts_raising_mid_call_raises_instead_of_spinning_L3(
    lifecycle: SessionLifecycle,
) -> None:
    """L3: the shell never spins: an id whose hash breaks during the provider call
    makes the commit raise, once, as the original does."""
    session_id = TurnsUnhashable()
    agent = GatedAgent("a")
    agent.on_call = lambda: setattr(TurnsUnhashable, "broken", True)
    lifecycle.register_agent(session_id, agent)
    lifecycle.complete_turn(session_id)
    thread, box = start(lambda: lifecycle.commit(session_id))
    try:
        join(thread)
    finally:
        TurnsUnhashable.broken = False
    assert isinstance(box[0], TypeError)


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_session_id_whose_repr_raises_still_gets_its_follow_up_L1(
    lifecycle: SessionLifecycle,
) -> None:
    """L1: thread names never need repr(session_id): the follow-up still runs."""
    session_id = BadRepr()
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn, session_id)
    thread, _ = start_held(lambda: lifecycle.commit(session_id), agent)
    lifecycle.complete_turn(session_id)
    assert lifecycle.commit(session_id) is Outcome.BUSY
    agent.release.set()
    join(thread)
    wait_until(lambda: not lifecycle.has_uncommitted_work(session_id), "the follow-up runs")
    assert lifecycle.commit_in_background(session_id) is Outcome.STARTED


def test_thread_names_do_not_copy_huge_session_ids_L4(lifecycle: SessionLifecycle) -> None:
    """L4: a 20 MB session id is not copied into the name of its commit thread."""
    session_id = "x" * 20_000_000
    agent = held_session(lifecycle.register_agent, lifecycle.complete_turn, session_id)
    assert lifecycle.commit_in_background(session_id) is Outcome.STARTED
    assert agent.entered.wait(WAIT)
    with lifecycle.lock:
        names = [thread.name for thread in lifecycle.background_threads]
    assert names and all(len(name) < 200 for name in names)
    agent.release.set()
    wait_until(lambda: not lifecycle.has_uncommitted_work(session_id), "the commit ends")


# --- 7: no wait cycle across sessions ------------------------------------------------


@pytest.mark.parametrize("api", ["native", "compat"])
def test_providers_committing_each_others_sessions_with_wait_do_not_deadlock_L3(
    api: str, lifecycle: SessionLifecycle, compat: ModuleType
) -> None:
    """L3: two providers each commit the other's session with wait=True while both
    calls run: both get BUSY at once, and follow-ups commit the work."""
    both_inside = threading.Barrier(2, timeout=WAIT)
    both_asked = threading.Barrier(2, timeout=WAIT)

    def commit(session_id: str) -> object:
        if api == "native":
            return lifecycle.commit(session_id, wait=True)
        return compat.commit_session_memory(session_id, wait=True)

    agents = {"a": GatedAgent("a"), "b": GatedAgent("b")}
    results: dict[str, object] = {}
    for mine, other in (("a", "b"), ("b", "a")):

        def inside(mine: str = mine, other: str = other) -> None:
            both_inside.wait()
            results[mine] = commit(other)
            both_asked.wait()

        agents[mine].on_call = inside
    for session_id, agent in agents.items():
        if api == "native":
            lifecycle.register_agent(session_id, agent)
            lifecycle.complete_turn(session_id)
            lifecycle.complete_turn(session_id, agent=GatedAgent(f"{session_id}2"))
        else:
            compat.register_agent(session_id, agent)
            compat.mark_turn_completed(session_id)
            compat.mark_turn_completed(session_id, agent=GatedAgent(f"{session_id}2"))
    threads = [start(lambda sid=sid: commit(sid))[0] for sid in agents]
    for thread in threads:
        join(thread)
    assert results == (
        {"a": Outcome.BUSY, "b": Outcome.BUSY} if api == "native" else {"a": False, "b": False}
    )
    has_work = lifecycle.has_uncommitted_work if api == "native" else compat.has_uncommitted_work
    wait_until(lambda: not has_work("a") and not has_work("b"), "the follow-ups commit")


# --- 8: __del__ re-entry --------------------------------------------------------------


class ReentrantOnDelete:
    """An agent whose ``__del__`` calls the lifecycle."""

    def __init__(self, lifecycle: SessionLifecycle, seen: list[bool]) -> None:
        self.lifecycle = lifecycle
        self.seen = seen

    def commit_memory_session(self) -> None:
        return None

    def __del__(self) -> None:
        self.seen.append(self.lifecycle.has_uncommitted_work("other"))


def test_agent_del_that_calls_the_lifecycle_does_not_deadlock_L3(
    lifecycle: SessionLifecycle,
) -> None:
    """L3: the last reference to an agent is dropped outside the lock, so its
    ``__del__`` may call the lifecycle (unregister, reset, discard)."""
    seen: list[bool] = []
    lifecycle.register_agent("s", ReentrantOnDelete(lifecycle, seen))
    thread, _ = start(lambda: lifecycle.unregister_agent("s"))
    join(thread)
    lifecycle.register_agent("t", ReentrantOnDelete(lifecycle, seen))
    thread, _ = start(lifecycle.reset)
    join(thread)
    gc.collect()
    assert seen == [False, False]


# --- 9: a provider that calls the drain ------------------------------------------------


def test_drain_called_by_a_provider_returns_without_waiting_for_its_call_L2(
    lifecycle: SessionLifecycle,
) -> None:
    """L2: a drain started inside a provider call cannot wait for that call: it
    queues the other sessions and returns once nothing is queued, reporting the calls
    still running; those calls then end and commit."""
    others = dirty_sessions(lifecycle.register_agent, lifecycle.complete_turn, 3)
    agent = GatedAgent("a")
    reports: list[Any] = []
    agent.on_call = lambda: reports.append(lifecycle.drain(deadline=WAIT))
    lifecycle.register_agent("caller", agent)
    lifecycle.complete_turn("caller")
    started = time.monotonic()
    assert lifecycle.commit("caller") is Outcome.COMMITTED
    assert time.monotonic() - started < WAIT / 2
    report = reports[0]
    assert "caller" in report.in_flight and not report.deadline_passed
    # It waited for no call: the workers' calls it left running end on their own.
    wait_until(lambda: all(other.calls == 1 for other in others), "the workers' calls end")
    wait_until(lambda: not lifecycle.dirty_sessions(), "every session is committed")


# --- 10: the drop-in commits owned work whatever agent is passed -----------------------


def test_drop_in_commits_owned_work_when_passed_an_agent_without_the_method_S4(
    compat: ModuleType,
) -> None:
    """S4: a dirty segment owned by a registered agent is committed through that owner
    even when the caller passes an object without ``commit_memory_session``."""
    owner = Counter()
    compat.register_agent("s", owner)
    compat.mark_turn_completed("s")
    assert compat.commit_session_memory("s", object()) is True
    assert owner.calls == 1 and not compat.has_uncommitted_work("s")


def test_drop_in_agent_without_the_method_adopts_no_ownerless_work_S4(
    compat: ModuleType,
) -> None:
    """S4: ownerless work is not adopted by an agent that could never commit it."""
    compat.mark_turn_completed("s")
    assert compat.commit_session_memory("s", object()) is False
    assert compat._sessions["s"]["segments"][0]["agent"] is None
    adopter = Counter()
    assert compat.commit_session_memory("s", adopter) is True


# --- 11, 12: bad input is refused first, with one rule ---------------------------------


@pytest.mark.parametrize("deadline", [None, "5", [1], b"1", True])
def test_bad_drain_deadline_is_refused_and_changes_nothing(
    compat: ModuleType, lifecycle: SessionLifecycle, deadline: object
) -> None:
    """A drain deadline that is not a number raises TypeError naming it, and the
    drop-in does not start draining (its registry still admits threads)."""
    with pytest.raises(TypeError, match="deadline must be a number of seconds"):
        compat.drain_all_on_shutdown(deadline)
    assert compat._draining is False
    assert compat._register_background_commit_thread(threading.Thread(target=print)) is True
    with pytest.raises(TypeError, match="deadline must be a number of seconds"):
        lifecycle.drain(deadline)  # type: ignore[arg-type]
    assert not lifecycle.draining


@pytest.mark.parametrize("wait", [False, True])
@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (math.nan, ValueError),
        ("1", TypeError),
        (b"1", TypeError),
        ([1], TypeError),
        (True, TypeError),
    ],
)
def test_timeouts_are_checked_whether_or_not_the_commit_waits(
    lifecycle: SessionLifecycle, compat: ModuleType, wait: bool, timeout: object, error: type
) -> None:
    """A timeout is checked by one rule at the API boundary, with or without wait."""
    lifecycle.complete_turn("s")
    with pytest.raises(error, match="timeout"):
        lifecycle.commit("s", wait=wait, timeout=timeout)  # type: ignore[arg-type]
    compat.mark_turn_completed("s")
    with pytest.raises(error, match="timeout"):
        compat.commit_session_memory("s", wait=wait, timeout=timeout)


def test_huge_int_timeout_means_no_bound(lifecycle: SessionLifecycle) -> None:
    """A timeout beyond the float range is accepted as no bound."""
    agent = Counter()
    lifecycle.register_agent("s", agent)
    lifecycle.complete_turn("s")
    assert lifecycle.commit("s", wait=True, timeout=10**400) is Outcome.COMMITTED


def test_flags_and_counts_are_checked(lifecycle: SessionLifecycle) -> None:
    """``ephemeral`` and ``wait`` must be bools; ``drain_workers`` a positive int."""
    with pytest.raises(TypeError, match="ephemeral must be True or False"):
        lifecycle.complete_turn("s", ephemeral="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wait must be True or False"):
        lifecycle.commit("s", wait="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="drain_workers must be a positive int"):
        SessionLifecycle(drain_workers=True)
    with pytest.raises(ValueError, match="drain_workers must be a positive int"):
        SessionLifecycle(drain_workers=0)
    assert lifecycle.session_ids() == []


def test_background_commit_with_an_agent_without_the_method_raises(
    lifecycle: SessionLifecycle,
) -> None:
    """``commit_in_background`` refuses a bad agent at once instead of logging later."""
    lifecycle.complete_turn("s")
    with pytest.raises(TypeError, match="commit_memory_session"):
        lifecycle.commit_in_background("s", object())
    assert lifecycle.background_threads == set()


def test_unhashable_id_raises_before_the_agent_is_considered(compat: ModuleType) -> None:
    """An unhashable id raises TypeError in both APIs, even with a bad agent."""
    with pytest.raises(TypeError, match="session_id must be hashable"):
        compat.commit_session_memory(["s"], object())
    with pytest.raises(TypeError, match="session_id must be hashable"):
        SessionLifecycle().commit(["s"])  # type: ignore[arg-type]


def test_reload_gives_the_drop_in_a_fresh_state(compat: ModuleType) -> None:
    """``importlib.reload`` of the drop-in forgets every session."""
    compat.mark_turn_completed("s")
    fresh = importlib.reload(compat)
    assert len(fresh._sessions) == 0


# --- what the drain reports, and a host logger that raises --------------------------


def test_drain_report_lists_every_session_its_workers_committed_L2() -> None:
    """L2: a drain that ends as soon as its last call ends still lists every session its
    workers committed (the commit is recorded with the call's end)."""
    for _ in range(20):
        lifecycle = SessionLifecycle(drain_workers=32)
        dirty_sessions(lifecycle.register_agent, lifecycle.complete_turn, 100)
        report = lifecycle.drain(deadline=WAIT)
        assert sorted(report.committed) == sorted(f"s{number}" for number in range(100))
        assert not report.still_dirty and not report.in_flight


class RaisingLogger:
    """A logger whose every method raises, as a strict test fixture's might."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*args: object, **kwargs: object) -> None:
            raise RuntimeError(f"logging is not allowed here ({name})")

        return refuse


def test_a_logger_that_raises_costs_no_work_in_the_drain_L1_L2() -> None:
    """L1 L2: failed provider calls are logged; when the host's logger raises, the drain
    workers survive it and the retries commit every session."""
    lifecycle = SessionLifecycle(drain_workers=4, log=RaisingLogger)
    agents = dirty_sessions(lifecycle.register_agent, lifecycle.complete_turn, 20, failures=2)
    report = lifecycle.drain(deadline=WAIT)
    assert not report.still_dirty and not report.deadline_passed
    assert all(agent.calls == 3 for agent in agents)


def test_an_unhashable_id_is_refused_before_anything_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bad input: commit() refuses an unhashable session id up front, with only the
    TypeError (nothing logged, nothing left to settle)."""
    lifecycle = SessionLifecycle()
    with caplog.at_level(logging.DEBUG), pytest.raises(TypeError, match="hashable"):
        lifecycle.commit(["a"])  # type: ignore[arg-type]
    assert caplog.records == []


class ReleasedThenInterrupted(threading.Condition):
    """A Condition whose wait, in the thread that made it, is interrupted after releasing
    its lock, before taking it back, as a SIGINT landing between those two steps of
    ``Condition.wait`` is (a signal reaches only that thread; others wait as usual)."""

    def __init__(self, lock: threading.Lock) -> None:
        super().__init__(lock)
        self.interrupted_thread = threading.get_ident()

    def wait(self, timeout: float | None = None) -> bool:
        if threading.get_ident() != self.interrupted_thread:
            return super().wait(timeout)
        self._release_save()  # type: ignore[attr-defined]
        raise KeyboardInterrupt


class SecondCtrlCInAcquire(threading._RLock):  # type: ignore[name-defined,misc]
    """An RLock whose next blocking acquire by the thread that arms it is interrupted
    before it takes the lock, as a second SIGINT landing in that acquire is."""

    armed_for: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.armed_for == threading.get_ident():
            self.armed_for = None
            raise KeyboardInterrupt
        return bool(super().acquire(blocking, timeout))


class InterruptedTwice(ReleasedThenInterrupted):
    """Interrupted after releasing its lock, and again in the acquire that takes it back."""

    def wait(self, timeout: float | None = None) -> bool:
        if threading.get_ident() == self.interrupted_thread:
            self._lock.armed_for = self.interrupted_thread  # type: ignore[attr-defined]
        return super().wait(timeout)


@pytest.mark.parametrize("twice", [False, True], ids=["once", "again-in-the-reacquire"])
@pytest.mark.parametrize("api", ["commit", "drain"])
def test_ctrl_c_between_a_waits_release_and_reacquire_raises_keyboard_interrupt_L3(
    api: str, twice: bool
) -> None:
    """L3: interrupted inside the wait, a waiting commit or a drain raises the
    KeyboardInterrupt (not 'cannot release un-acquired lock') and leaves the lock free,
    also when a second Ctrl-C lands in the acquire that takes the lock back."""
    lifecycle = SessionLifecycle()
    if twice:
        lifecycle.lock = SecondCtrlCInAcquire()
        lifecycle.condition = threading.Condition(lifecycle.lock)
    hung = held_session(lifecycle.register_agent, lifecycle.complete_turn, "s", name="hung")
    holder = start_held(lambda: lifecycle.commit("s"), hung)
    lifecycle.complete_turn("s")
    interrupted = InterruptedTwice if twice else ReleasedThenInterrupted
    lifecycle.condition = interrupted(lifecycle.lock)
    with pytest.raises(KeyboardInterrupt):
        if api == "commit":
            lifecycle.commit("s", wait=True, timeout=WAIT)
        else:
            lifecycle.drain(deadline=WAIT)
    assert lifecycle.lock.acquire(timeout=1.0)
    lifecycle.lock.release()
    lifecycle.condition = threading.Condition(lifecycle.lock)
    hung.release.set()
    join(holder[0])
    assert not lifecycle.draining
