"""A soak with real signals: SIGALRM every millisecond raises KeyboardInterrupt in the
main thread while it loops over turns, queries, waiting commits and short drains, and
another thread drains now and then too.

Usage: python tests/interrupt_soak.py native|compat SECONDS [raise|call]. With
``call`` the signal handler raises nothing: it calls the lifecycle itself (a short
drain, a turn, a commit or a background commit), inside whatever lifecycle call the
main thread is in (the lock is re-entrant), as a host's handler may. Exits 1 when the
lock is left held (by any thread, the main one included), the other drainer does not
finish, the lifecycle is left draining, a session is left in flight without a running
call, a completed turn is lost (``call`` mode), or the drain that follows does not
commit everything before its deadline. A run still going 30 seconds after the soak
prints every thread's stack and exits 1.
"""

from __future__ import annotations

import collections
import faulthandler
import logging
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType


class Agent:
    """A provider that always succeeds."""

    def commit_memory_session(self) -> None:
        return None


class Unlocked(logging.Handler):
    """Counts the lifecycle's log records, taking no lock: ``logging.Handler.handle``
    takes its lock before its ``try``, so a Ctrl-C landing between them leaves it held
    by the main thread (logging's own code), and the other drainer's next warning then
    waits for ever."""

    count = 0

    def createLock(self) -> None:
        self.lock = None  # type: ignore[assignment]

    def emit(self, record: logging.LogRecord) -> None:
        Unlocked.count += 1


IN_HARNESS = True
"""True while the soak's own bookkeeping runs: signals then raise nothing. It is set
by plain stores, where no signal can land, so only the lifecycle is interrupted."""


HANDLER_CALL: list[Callable[[], None]] = []
"""``call`` mode: what the signal handler runs."""

IN_HANDLER = False
"""True while the handler runs: a signal then does nothing (one handler at a time)."""


def interrupt(signum: int, frame: FrameType | None) -> None:
    global IN_HANDLER
    if IN_HARNESS or IN_HANDLER:
        return
    if not HANDLER_CALL:
        raise KeyboardInterrupt
    IN_HANDLER = True
    try:
        HANDLER_CALL[0]()
    finally:
        IN_HANDLER = False


def main() -> int:
    api, seconds = sys.argv[1], float(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "raise"
    faulthandler.dump_traceback_later(seconds + 30.0, exit=True)
    log = logging.getLogger("memory_lifecycle")
    log.addHandler(Unlocked())
    log.propagate = False
    # Fill the logger's level cache now: a miss takes logging's module lock, which a
    # Ctrl-C can leave held the same way.
    log.isEnabledFor(logging.WARNING)
    log.isEnabledFor(logging.ERROR)
    if api == "native":
        from memory_lifecycle import SessionLifecycle

        lifecycle = SessionLifecycle()
        calls = (
            lifecycle.register_agent,
            lifecycle.complete_turn,
            lifecycle.has_uncommitted_work,
            lifecycle.commit,
            lifecycle.drain,
        )
    else:
        import memory_lifecycle.compat as compat

        lifecycle = compat._lifecycle
        calls = (
            compat.register_agent,
            compat.mark_turn_completed,
            compat.has_uncommitted_work,
            compat.commit_session_memory,
            compat.drain_all_on_shutdown,
        )
    register, complete_turn, has_uncommitted_work, commit, drain_by = calls

    completed: list[str] = []
    """A session id per turn completed: one append each, which a handler cannot split."""

    def operate(session_id: str, agent: Agent) -> None:
        register(session_id, agent)
        complete_turn(session_id)
        completed.append(session_id)
        has_uncommitted_work(session_id)
        commit(session_id, wait=True, timeout=0.01)

    def drain() -> None:
        drain_by(0.02)

    handler_choice = random.Random(1).random

    def handler_call() -> None:
        """A drain, a turn, a commit or a background commit, inside the interrupted call."""
        roll = handler_choice()
        session_id = sessions[int(roll * 100) % len(sessions)]
        if roll < 0.4:
            drain()
        elif roll < 0.6:
            complete_turn(session_id)
            completed.append(session_id)
        elif roll < 0.8:
            commit(session_id, wait=False, timeout=None)
        else:
            lifecycle.commit_in_background(session_id)

    if mode == "call":
        HANDLER_CALL.append(handler_call)

    sessions = [f"s{number}" for number in range(8)]
    agents = {session_id: Agent() for session_id in sessions}
    for session_id in sessions:  # a handler's turn then always has an owner
        register(session_id, agents[session_id])
    choose = random.Random(0).choice
    operations = interrupts = 0
    global IN_HARNESS
    signal.signal(signal.SIGALRM, interrupt)
    end = time.monotonic() + seconds

    def drain_now_and_then() -> None:
        while time.monotonic() < end:
            drain()
            time.sleep(0.003)

    # A daemon, so that a drainer stuck for ever is reported instead of hanging the exit.
    other = threading.Thread(target=drain_now_and_then, name="other drainer", daemon=True)
    other.start()
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    try:
        while time.monotonic() < end:
            session_id = choose(sessions)
            try:
                IN_HARNESS = False
                if operations % 20 == 19:
                    drain()
                else:
                    operate(session_id, agents[session_id])
                IN_HARNESS = True
                operations += 1
            except KeyboardInterrupt:
                IN_HARNESS = True
                interrupts += 1
            except RuntimeError as error:
                # CPython's own Thread.start, interrupted inside its Condition, can
                # raise this instead; what matters is what the lifecycle is left in.
                IN_HARNESS = True
                if "release unlocked lock" not in str(error):
                    raise
                interrupts += 1
    finally:
        IN_HARNESS = True
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
    other.join(10.0)
    print(f"{operations} operations, {interrupts} interrupts, {Unlocked.count} log records")
    if other.is_alive():
        stack = traceback.format_stack(sys._current_frames()[other.ident or 0])
        print("the other drainer did not finish; it is at:\n" + "".join(stack))
        return 1
    if lifecycle.lock._is_owned():  # type: ignore[attr-defined]
        print("the main thread was left holding the lock")
        return 1
    if not lock_is_free(lifecycle.lock):
        print("the lock was left held")
        return 1
    # A second interruption inside a call's own cleanup leaves the rest to the next
    # call of any thread (README); settle() is that next call.
    lifecycle.settle()
    if lifecycle.draining:
        print("the lifecycle was left draining after every drain returned and settle()")
        return 1
    report = lifecycle.drain(5.0)
    if report.still_dirty or report.in_flight or report.deadline_passed:
        print(f"left behind: dirty {report.still_dirty}, in flight {report.in_flight}")
        return 1
    if mode == "call":  # no call was interrupted: every turn counted
        for session_id, count in collections.Counter(completed).items():
            state = lifecycle.session_state(session_id)
            if state is None or state.generation != count:
                print(f"lost turns: {session_id} completed {count}, state {state}")
                return 1
    return 0


def lock_is_free(lock: threading.RLock) -> bool:
    """Whether another thread can take ``lock`` within 5 seconds (an RLock held by
    the main thread would let the main thread itself take it again)."""
    taken: list[bool] = []

    def take() -> None:
        taken.append(lock.acquire(timeout=5.0))
        if taken[0]:
            lock.release()

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    taker.join()
    return taken == [True]


if __name__ == "__main__":
    sys.exit(main())
