"""The deterministic scheduler, its stand-ins and the loader, on small programs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from memory_lifecycle.specs.conformance.target import load_module
from memory_lifecycle.specs.interleave import (
    RandomChooser,
    ReplayChooser,
    Scheduler,
    format_schedule,
)
from memory_lifecycle.specs.interleave.primitives import StandInLock, stand_in_modules
from memory_lifecycle.specs.interleave.scheduler import RunOutcome

ORIGINAL = (
    Path(__file__).resolve().parents[2] / "shared/reference/hermes_webui_session_lifecycle.py"
)
RACY = Path(__file__).resolve().parent / "racy"


def _counter_run(chooser: Any, *, locked: bool) -> tuple[int, RunOutcome]:
    """Two threads each add 1 to a counter with a scheduling point in between."""
    scheduler = Scheduler(chooser)
    modules = stand_in_modules(scheduler)
    threading, clock = modules["threading"], modules["time"]
    lock = threading.Lock()
    box = {"value": 0}

    def add() -> None:
        if locked:
            lock.acquire()
        seen = box["value"]
        clock.sleep(0)
        box["value"] = seen + 1
        if locked:
            lock.release()

    def main() -> None:
        workers = [threading.Thread(target=add) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    outcome = scheduler.run(main)
    return box["value"], outcome


def test_unlocked_read_modify_write_loses_an_update_under_some_schedule() -> None:
    """The scheduler really interleaves: some seed loses an update without a lock."""
    results = {_counter_run(RandomChooser(seed), locked=False)[0] for seed in range(40)}
    assert results == {1, 2}


def test_stand_in_lock_excludes_under_every_sampled_schedule() -> None:
    """A stand-in Lock serialises the critical section under every sampled schedule."""
    results = {_counter_run(RandomChooser(seed), locked=True)[0] for seed in range(40)}
    assert results == {2}


def test_schedule_string_replays_the_same_run() -> None:
    """A run's schedule string replays to the same decisions and result."""
    for seed in range(10):
        value, outcome = _counter_run(RandomChooser(seed), locked=False)
        schedule = format_schedule(outcome.decisions)
        replayed_value, replayed = _counter_run(ReplayChooser.parse(schedule), locked=False)
        assert replayed_value == value
        assert replayed.decisions == outcome.decisions


def test_timed_wait_fires_on_virtual_time_without_real_waiting() -> None:
    """L3 support: a 100 s condition wait times out at virtual t=100 in real milliseconds."""
    scheduler = Scheduler()
    modules = stand_in_modules(scheduler)
    threading, clock = modules["threading"], modules["time"]
    seen: dict[str, object] = {}

    def main() -> None:
        condition = threading.Condition(threading.Lock())
        with condition:
            seen["notified"] = condition.wait(100.0)
        seen["now"] = clock.monotonic()
        event = threading.Event()
        seen["event"] = event.wait(5.0)
        clock.sleep(2.5)
        seen["after_sleep"] = clock.monotonic()

    started = time.perf_counter()
    outcome = scheduler.run(main)
    assert time.perf_counter() - started < 5.0
    assert outcome.deadlock is None
    assert seen == {"notified": False, "now": 100.0, "event": False, "after_sleep": 107.5}


def test_notify_wakes_a_waiter_and_join_waits_for_the_thread() -> None:
    """A notified waiter wakes (True) at virtual time 0; join returns once the thread ended."""
    scheduler = Scheduler()
    threading = stand_in_modules(scheduler)["threading"]
    seen: list[object] = []

    def main() -> None:
        condition = threading.Condition()
        flag = {"set": False}

        def waiter() -> None:
            with condition:
                while not flag["set"]:
                    seen.append(condition.wait(10.0))

        thread = threading.Thread(target=waiter)
        thread.start()
        with condition:
            flag["set"] = True
            condition.notify_all()
        thread.join()
        seen.append(thread.is_alive())

    outcome = scheduler.run(main)
    assert outcome.virtual_time == 0.0
    assert seen in ([False], [True, False])


def test_deadlock_is_reported_with_what_every_thread_waits_on() -> None:
    """L3: opposite lock order deadlocks under some schedule; each thread's wait is named."""
    reports = []
    for seed in range(30):
        scheduler = Scheduler(RandomChooser(seed))
        threading = stand_in_modules(scheduler)["threading"]

        def main(threading: Any = threading) -> None:
            first, second = threading.Lock(), threading.Lock()

            def forward() -> None:
                with first, second:
                    pass

            def backward() -> None:
                with second, first:
                    pass

            workers = [threading.Thread(target=forward), threading.Thread(target=backward)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()

        outcome = scheduler.run(main)
        if outcome.deadlock is not None:
            reports.append(outcome.deadlock)
    assert reports, "no sampled schedule deadlocked"
    lines = "\n".join(reports[0])
    assert "acquire Lock#1" in lines and "acquire Lock#2" in lines and "join" in lines


def test_thread_blocked_outside_the_stand_ins_is_reported_not_hung() -> None:
    """A logical thread blocked on a real lock is reported by the watchdog within bounds."""
    import threading as real_threading

    real = real_threading.Lock()
    real.acquire()
    scheduler = Scheduler(watchdog_seconds=0.2)
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="without reaching a scheduling point"):
        scheduler.run(lambda: bool(real.acquire(timeout=10.0)))
    assert time.perf_counter() - started < 5.0
    real.release()


def _load(target: Any, scheduler: Scheduler) -> Any:
    return load_module(target, stand_ins=stand_in_modules(scheduler))


def test_racy_package_file_loads_its_sibling_fresh_with_stand_ins() -> None:
    """The loader loads a package file's sibling (core) fresh, with threading substituted."""
    scheduler = Scheduler()
    holder: dict[str, Any] = {}
    scheduler.run(lambda: holder.update(module=_load(RACY / "sound.py", scheduler)))
    module = holder["module"]
    assert isinstance(module._lifecycle._condition.lock, StandInLock)
    core_globals = type(module._lifecycle).__init__.__globals__
    assert core_globals["threading"].Lock is type(module._lifecycle._lock)


def test_compat_instance_made_at_import_uses_stand_in_locks_and_shares_the_model() -> None:
    """The drop-in's module-level SessionLifecycle has stand-in locks; the model is shared."""
    from memory_lifecycle.model import Outcome

    scheduler = Scheduler()
    holder: dict[str, Any] = {}
    scheduler.run(lambda: holder.update(module=_load("memory_lifecycle.compat", scheduler)))
    lifecycle = holder["module"]._lifecycle
    assert isinstance(lifecycle.lock, StandInLock)
    import memory_lifecycle.compat as real_compat

    assert holder["module"] is not real_compat
    assert not isinstance(real_compat._lifecycle.lock, StandInLock)
    assert type(lifecycle).__init__.__globals__["Outcome"] is Outcome


@pytest.mark.skipif(not ORIGINAL.is_file(), reason="the original module is not present")
def test_original_module_import_time_lock_is_a_stand_in() -> None:
    """The original's module-global lock and Condition, made at import, are stand-ins."""
    scheduler = Scheduler()
    holder: dict[str, Any] = {}
    scheduler.run(lambda: holder.update(module=_load(ORIGINAL, scheduler)))
    module = holder["module"]
    assert isinstance(module._lock, StandInLock)
    assert module._condition.lock is module._lock
    assert module.time.monotonic() == 0.0


def test_rlock_reentry_and_condition_wait_for_restore_the_recursion_level() -> None:
    """An RLock is re-entered by its owner; Condition.wait_for releases and restores it."""
    scheduler = Scheduler()
    threading = stand_in_modules(scheduler)["threading"]
    seen: dict[str, object] = {}

    def main() -> None:
        condition = threading.Condition()  # over a stand-in RLock
        state = {"ready": False}

        def producer() -> None:
            with condition:
                state["ready"] = True
                condition.notify()

        with condition, condition:
            worker = threading.Thread(target=producer)
            worker.start()
            seen["woke"] = condition.wait_for(lambda: state["ready"], timeout=3.0)
            seen["level"] = condition.lock.count
        worker.join()
        seen["free"] = condition.lock.owner is None
        semaphore = threading.Semaphore(1)
        seen["first"] = semaphore.acquire(timeout=1.0)
        seen["second"] = semaphore.acquire(timeout=1.0)

    outcome = scheduler.run(main)
    assert outcome.deadlock is None
    assert seen == {"woke": True, "level": 2, "free": True, "first": True, "second": False}
    assert outcome.virtual_time == 1.0
